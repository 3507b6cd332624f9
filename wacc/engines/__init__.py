"""WhatsApp engines: one contract (contract.py), several implementations (plugins)."""
