"""Pure helpers: nothing here imports the rest of wacc."""
