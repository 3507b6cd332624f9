"""Helpers shared by test modules (plain functions and constants).

A test module never imports another test module: what two modules share lives here,
and fixtures that several modules need live in tests/conftest.py. tests/test_layout.py
keeps it that way.
"""
