"""The condition language that segments and automations share (wacc.conditions.language)."""
