"""Piccolo's app module: it looks for APP_CONFIG here."""

from wacc.schema import APP_CONFIG

__all__ = ["APP_CONFIG"]
