"""The simulator as a plugin: its engine (wacc.engines.simulator, a fake WhatsApp that
runs in the wa process) and the endpoints only it has, the customer phone's actions and
what the business sent. Registered through the ``simulator`` entry point, as a
third-party engine with its own endpoints would be."""
