"""wacc's built-in AI providers, one module per SDK. Each module imports its SDK at the
top, so only ``plugin`` (which imports them on first use) is loaded where AI is unused."""
