"""Plugins: wacc's own features and third-party packages extend it through the same hooks."""
