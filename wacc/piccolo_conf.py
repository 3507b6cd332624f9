"""Piccolo's configuration module, for Piccolo's own tooling (making migrations).

Running wacc never relies on it: the composition roots build the engine from Settings
and bind it (wacc.db.engine.bind). Piccolo's migration runner asks for ``DB`` here, so
it resolves to the bound engine, or to one built from the environment when Piccolo's
CLI is used directly: ``PICCOLO_CONF=wacc.piccolo_conf piccolo migrations new wacc --auto``.
"""

from __future__ import annotations

from typing import Any

from piccolo.conf.apps import AppRegistry

APP_REGISTRY = AppRegistry(apps=["wacc.piccolo_app"])


def __getattr__(name: str) -> Any:
    if name != "DB":
        raise AttributeError(name)
    from wacc.db.engine import _bound, make_engine

    if "engine" in _bound:
        return _bound["engine"]
    from wacc.config import load_settings

    return make_engine(load_settings())
