"""wacc.lib.placeholders: the one ``{{ name }}`` renderer (AI prompts, automation texts,
canned responses), and that each feature fills its templates through it by the same
rule: a name without a value is empty text, unknown names are the check's business."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from wacc.ai import prompts
from wacc.automations import actions
from wacc.canned import services as canned
from wacc.lib import placeholders
from wacc.lib.errors import ValidationError


def test_names_are_each_name_once_in_order_of_first_use():
    text = "{{b}} and {{ a }} then {{b}} and {{\tc.d\n}}"
    assert placeholders.names(text) == ["b", "a", "c.d"]
    assert placeholders.names("no placeholders, {single} or { {spaced} }") == []
    # The name holds no brace; the innermost {{…}} is the placeholder.
    assert placeholders.names("{{{a}}}") == ["a"]
    assert placeholders.names("{{}}") == [""]


def test_render_fills_from_a_mapping_or_a_function():
    assert placeholders.render("Hi {{ name }}, from {{org}}.", {"name": "Ann", "org": "Acme"}) \
        == "Hi Ann, from Acme."
    assert placeholders.render("{{x}}-{{y}}", lambda name: name.upper()) == "X-Y"
    # Values are shown as text.
    assert placeholders.render("{{n}} {{flag}}", {"n": 3, "flag": True}) == "3 True"


def test_a_name_without_a_value_renders_empty_and_never_fails():
    values = {"known": "yes", "nothing": None}
    assert placeholders.render("[{{known}}|{{nothing}}|{{unknown}}]", values) == "[yes||]"
    assert placeholders.render("[{{missing}}]", lambda name: None) == "[]"
    # Nothing is evaluated: what looks like code is a name nobody has.
    assert placeholders.render("{{ ''.__class__ }}{{ 1+1 }}", {}) == ""
    assert placeholders.render("{{{a}}}", {"a": "x"}) == "{x}"


def test_rendering_is_one_pass_over_the_template():
    """A value that looks like a placeholder (a contact named "{{org.name}}") is text."""
    values = {"contact.name": "{{org.name}}", "org.name": "Acme"}
    assert placeholders.render("Hi {{contact.name}}", values) == "Hi {{org.name}}"


def test_text_without_placeholders_is_unchanged():
    text = "Price: {5}, {{ unclosed, } alone, {{a{b}} and a {"
    assert placeholders.names(text) == []
    assert placeholders.render(text, {"a": "x", "b": "y"}) == text


def test_unknown_lists_what_the_check_refuses_once_in_order():
    text = "{{b}} {{a}} {{b}} {{ok}}"
    assert placeholders.unknown(text, lambda name: name == "ok") == ["b", "a"]
    assert placeholders.unknown(text, lambda name: True) == []
    assert placeholders.unknown("plain", lambda name: False) == []


# -- the features fill through it, by the same rule --------------------------------


def test_ai_prompts_render_a_missing_custom_field_empty_and_refuse_a_non_variable():
    values = prompts.values({"name": "Acme"}, {"name": "Ann", "custom_fields": {"vip": "gold"}},
                            datetime(2026, 1, 31, 14, 5, tzinfo=UTC))
    assert prompts.render("{{org.name}}/{{ contact.name }}/{{contact.custom.vip}}/"
                          "{{contact.custom.gone}}/{{now}}", values) \
        == "Acme/Ann/gold//2026-01-31 14:05 UTC"
    # Not a prompt variable at all: checked on use, since an automation's AI prompt is
    # not checked on save.
    with pytest.raises(ValidationError) as caught:
        prompts.render("Hi {{contact.age}} {{contact.nick}}", values)
    assert caught.value.details == [{"field": "systemPrompt",
                                     "message": "unknown variable {{contact.age}}"}]
    assert prompts.unknown("{{contact.custom.vip}} {{contact.custom.gone}} {{now}} {{x}}",
                           ["vip"]) == ["contact.custom.gone", "x"]


def test_automation_texts_render_a_value_the_run_lacks_empty():
    ctx = {"org": {"id": "o", "name": "Acme"}, "contact": {"name": "Ann", "custom": {}},
           "event": {"kind": "message.received", "body": "hello"}}
    assert actions.render("{{org.name}}: {{ contact.name }} said {{trigger.body}}; "
                          "{{contact.email}}{{contact.custom.vip}}{{message.body}}", ctx) \
        == "Acme: Ann said hello; "


def test_canned_expansion_refuses_what_it_cannot_fill_then_renders():
    fill = canned._fill_variables
    assert fill("Hi {{ contact.name }}, {{agent.name}} here",
                {"contact.name": "Ann", "agent.name": "Bo"}) == "Hi Ann, Bo here"
    with pytest.raises(ValidationError) as caught:
        fill("{{contact.nmae}} {{contact.phone}} {{contact.nmae}}", {"contact.name": "Ann"})
    assert caught.value.details == [
        {"field": "text", "message": "unknown variable {{contact.nmae}}"},
        {"field": "text", "message": "no value given for {{contact.phone}}"}]
