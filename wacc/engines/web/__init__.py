"""The ``web`` engine: WhatsApp Web in headless Chromium, driven by Playwright.

- ``engine``: :class:`WebEngine`, the contract's Engine (lifecycle, events, actions,
  watchdog, memory cap); the class is also its own factory;
- ``supervisor``: :class:`Supervisor` / :func:`run_with_restarts`, restarting crashed
  engines with backoff and pruning Chromium's caches in between;
- ``bundle``: the injected script (WPPConfig + the pinned wa-js, hash-checked + adapter);
- ``adapter.js``: the in-page adapter between wa-js and Python;
- ``driver``: :class:`PlaywrightDriver`, one Node.js driver shared by many sessions;
- ``channel``: events from the page (validated) and calls into it (with deadlines);
- ``session``: :class:`LoginState`, QR numbering, phases and page-reported endings;
- ``browser``: Chromium flags, user agent, process tree memory, cache pruning;
- ``actions``: outbound payloads and the mapping of in-page errors;
- ``settings``: :class:`WebSettings`, read from the session's engine settings;
- ``health``: the watchdog's checks (ping, memory cap, scheduled restart);
- ``plugin``: registers ``web`` through the ``wacc_engines`` hook, one driver per process.
"""

# Nothing is imported here: discovering the engine (every process does) must not load
# Playwright. Import from the submodules, e.g. wacc.engines.web.engine.
