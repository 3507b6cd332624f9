"""wacc.conditions.language: the condition language segments and automations share.
The features' own tests (test_segments, test_automations) cover it through the API;
these check the shared part directly, and that it stays in step with custom fields."""

from __future__ import annotations

from typing import Any

import pytest

from wacc.conditions import language
from wacc.conditions.language import (
    CUSTOM_OPS,
    MAX_CONDITIONS,
    MAX_DEPTH,
    TEXT_OPS,
    Bad,
    check_definition,
    condition_node,
    custom_check,
    scalar_or_list,
)
from wacc.customfields.tables import FieldType


def _rules(field: str) -> tuple[tuple[str, ...], Any]:
    if field == "name":
        return TEXT_OPS, scalar_or_list(language.check_text)
    if field == "age":
        return ("eq", "gt"), scalar_or_list(language.check_number)
    raise Bad("field", f"unknown field {language.shown(field)}")


def _check(definition: Any, empty_inner_groups: bool = False) -> tuple[Any, list[dict[str, str]]]:
    details: list[dict[str, str]] = []
    out = check_definition(definition, _rules, "conditions", details,
                           empty_inner_groups=empty_inner_groups)
    return out, details


def test_every_custom_field_type_has_operators_and_a_check():
    """The language names custom field types by name, without importing customfields:
    a new FieldType must be given its operators here."""
    assert set(CUSTOM_OPS) == {t.value for t in FieldType}
    assert CUSTOM_OPS[FieldType.NUMBER] == language.ORDER_OPS  # a FieldType finds its entry
    assert custom_check(FieldType.NUMBER, [])("gt", 3) == 3
    with pytest.raises(Bad):
        custom_check(FieldType.NUMBER, [])("gt", "3")
    assert custom_check(FieldType.SELECT, ["a", "b"])("in", ["b", "b", "a"]) == ["b", "a"]
    with pytest.raises(Bad):
        custom_check("SELECT", ["a"])("eq", "c")
    assert custom_check(FieldType.DATE, [])("eq", "2024-02-29") == "2024-02-29"
    with pytest.raises(Bad):
        custom_check(FieldType.DATE, [])("eq", "2023-02-29")


def test_a_definition_is_normalised_and_each_problem_named_by_its_place():
    out, details = _check({"all": [{"field": "name", "op": "eq", "value": "Ann"},
                                   {"any": [{"field": "age", "op": "gt", "value": 3},
                                            {"field": "name", "op": "exists"}]}]})
    assert details == []
    assert out == {"all": [{"field": "name", "op": "eq", "value": "Ann"},
                           {"any": [{"field": "age", "op": "gt", "value": 3},
                                    {"field": "name", "op": "exists"}]}]}
    out, details = _check({"all": [{"field": "nope", "op": "eq", "value": 1},
                                   {"field": "age", "op": "lt", "value": 1},
                                   {"field": "age", "op": "gt", "value": True},
                                   {"field": "name", "op": "exists", "value": "x"},
                                   {"field": "name", "op": "eq"},
                                   {"field": "name", "op": "eq", "value": "x", "extra": 1},
                                   "text"]})
    assert [d["field"] for d in details] == [
        "conditions.all[0].field", "conditions.all[1].op", "conditions.all[2].value",
        "conditions.all[3].value", "conditions.all[4].value", "conditions.all[5]",
        "conditions.all[6]"]
    assert details[0]["message"] == "unknown field 'nope'"


def test_groups_their_depth_their_size_and_empty_inner_groups():
    assert _check([])[1] == [{"field": "conditions",
                              "message": 'must be a group: {"all": [...]} or {"any": [...]}'}]
    assert _check({"all": "x"})[1] == [{"field": "conditions.all", "message": "must be a list"}]
    # Segments refuse an empty inner group; automations take it.
    assert _check({"all": [{"any": []}]})[1] == [
        {"field": "conditions.all[0].any", "message": "an inner group needs a condition"}]
    assert _check({"all": [{"any": []}]}, empty_inner_groups=True) == ({"all": [{"any": []}]}, [])
    nested: dict[str, Any] = {"all": []}
    for _ in range(MAX_DEPTH):
        nested = {"all": [nested]}
    assert any("nest at most" in d["message"] for d in _check(nested, True)[1])
    many = {"all": [{"field": "name", "op": "exists"}] * (MAX_CONDITIONS + 5)}
    out, details = _check(many)
    assert details == [{"field": "conditions", "message": f"at most {MAX_CONDITIONS} conditions"}]
    assert len(out["all"]) == MAX_CONDITIONS + 1  # the walk stops once over the limit


def test_a_condition_node_alone():
    assert condition_node({"field": "name", "op": "in", "value": ["a", "a", "b"]}, _rules) == {
        "field": "name", "op": "in", "value": ["a", "b"]}
    with pytest.raises(Bad) as caught:
        condition_node({"field": "name", "op": "gt", "value": "a"}, _rules)
    assert caught.value.part == "op" and "use one of: eq" in str(caught.value)
    with pytest.raises(Bad) as caught:
        condition_node({"field": "name", "op": "eq", "value": "x" * 256}, _rules)
    assert caught.value.part == "value"
