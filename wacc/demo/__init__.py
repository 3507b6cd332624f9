"""Demo mode: a realistic organization on the simulator engine (`wacc demo`,
`wacc run --demo`). Like the CLI, this package is a composition root: it wires
features together through their services and owns no tables."""
