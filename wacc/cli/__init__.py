"""The `wacc` command line (entry point: wacc.cli.main:run)."""
