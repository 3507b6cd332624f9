"""The ``cloud`` engine: the official WhatsApp Business Cloud API (Meta's Graph API).

- ``engine``: :class:`CloudEngine`, the contract's Engine (lifecycle, sends, actions);
- ``outbound``: the JSON bodies of sends and the 24-hour window rule, as pure functions;
- ``webhook``: subscription handshake, signature check and parsing of Meta's webhooks;
- ``graph``: the HTTP client and the mapping of Meta's errors to retry-or-not.
"""

from wacc.engines.cloud.engine import CloudEngine
from wacc.engines.cloud.outbound import window_open
from wacc.engines.cloud.webhook import WebhookError, check_signature, parse, verify_subscription

__all__ = ["CloudEngine", "WebhookError", "check_signature", "parse", "verify_subscription", "window_open"]
