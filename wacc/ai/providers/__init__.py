"""AI providers: wacc's built-in ones (one module per SDK, each importing its SDK at the
top, so only ``plugin``, which imports them on first use, is loaded where AI is unused),
the registry of every installed provider type, the failover router across an
organization's providers, and pricing. The contract they implement stays
``wacc.ai.contract``, the module third-party provider packages import."""
