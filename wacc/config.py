"""Typed settings, grouped by concern.

Sources, later ones win: defaults < ``wacc.toml`` in the data directory < ``WACC_*``
environment variables < ``WACC_*_FILE`` (for secrets: the value is read from that file).
Parsing is strict: an unknown key or variable, or a value of the wrong type, stops the
program with a message naming the setting. Settings are built once by the composition
root and passed down; nothing reads them from a global.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ENV_PREFIX = "WACC_"
# Variables in these namespaces belong to plugins and to wacc's own test suite; the
# loader does not validate them.
PLUGIN_ENV_PREFIX = "WACC_PLUGIN_"
TEST_ENV_PREFIX = "WACC_TEST_"


# The processes `wacc run` can start (wacc.roles).
ROLE_NAMES = ("web", "worker", "scheduler", "wa")


class ConfigError(Exception):
    """A setting is missing, unknown or malformed. The message names it."""


def setting(
    env: str,
    default: Any = None,
    doc: str = "",
    *,
    secret: bool = False,
    choices: tuple[str, ...] | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
) -> Any:
    """Declare one setting: its environment variable, default and one-line doc."""
    meta = {
        "env": env,
        "doc": doc,
        "secret": secret,
        "choices": choices,
        "minimum": minimum,
        "maximum": maximum,
    }
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "wacc"


@dataclass(frozen=True)
class CoreSettings:
    data_dir: str = setting(
        "WACC_DATA_DIR", "", "Directory for the database, master key, media and queue files "
        "(default: $XDG_DATA_HOME/wacc or ~/.local/share/wacc)."
    )
    base_url: str = setting(
        "WACC_BASE_URL", "",
        "Public URL of this wacc as people open it (https://wacc.example.com), used in every "
        "link it gives out (invites, password resets, webhook URLs). Empty: "
        "http://<WACC_HTTP_HOST>:<WACC_HTTP_PORT> (127.0.0.1 for an address of all interfaces).",
    )
    log_level: str = setting(
        "WACC_LOG_LEVEL", "auto",
        "Minimum log level. auto: INFO, but WARNING on a terminal, where `wacc run` prints a "
        "short summary instead and libraries' INFO lines are noise.",
        choices=("auto", "DEBUG", "INFO", "WARNING", "ERROR"),
    )
    log_format: str = setting(
        "WACC_LOG_FORMAT", "auto",
        "auto: readable on a terminal, JSON otherwise; or force json / console.",
        choices=("auto", "json", "console"),
    )


@dataclass(frozen=True)
class DatabaseSettings:
    url: str = setting(
        "WACC_DATABASE_URL", "",
        "sqlite:///path/to/file.db (default: wacc.db in the data directory) or "
        "postgresql://user:pass@host:5432/db.",
        secret=True,
    )
    pool_min: int = setting("WACC_DATABASE_POOL_MIN", 1, "PostgreSQL: connections kept open.",
                            minimum=0, maximum=100)
    pool_max: int = setting("WACC_DATABASE_POOL_MAX", 10, "PostgreSQL: most connections per "
                            "process.", minimum=1, maximum=500)
    sqlite_busy_timeout: float = setting(
        "WACC_DATABASE_SQLITE_BUSY_TIMEOUT", 15.0,
        "SQLite: seconds a writer waits for the lock before failing.", minimum=0.1,
    )


@dataclass(frozen=True)
class RedisSettings:
    url: str = setting(
        "WACC_REDIS_URL", "",
        "redis://host:6379/0. When set, jobs, rate limits and realtime fan-out use Redis "
        "(scaled mode); when empty everything stays in this process and SQLite (embedded).",
        secret=True,
    )


@dataclass(frozen=True)
class SecuritySettings:
    secret_key: str = setting(
        "WACC_SECRET_KEY", "",
        "Master key (32 bytes, base64) for secrets at rest and token signing. When empty, "
        "the key file master.key in the data directory is used (made by `wacc init`).",
        secret=True,
    )
    secret_key_previous: list[str] = setting(
        "WACC_SECRET_KEY_PREVIOUS", [],
        "Earlier master keys (comma-separated), still accepted for decryption while "
        "`wacc keys rotate` re-encrypts.", secret=True,
    )
    cors_origins: list[str] = setting(
        "WACC_CORS_ORIGINS", [], "Origins allowed to call the API from a browser "
        "(comma-separated); empty allows none but our own.",
    )
    metrics_token: str = setting(
        "WACC_METRICS_TOKEN", "",
        "Bearer token a Prometheus scraper sends to GET /metrics; empty turns /metrics off.",
        secret=True,
    )
    trusted_proxies: list[str] = setting(
        "WACC_TRUSTED_PROXIES", [],
        "Addresses of reverse proxies whose X-Forwarded-For is believed (comma-separated).",
    )
    max_body_bytes: int = setting(
        "WACC_MAX_BODY_BYTES", 1_048_576, "Largest request body accepted by JSON endpoints.",
        minimum=1024,
    )
    rate_limit_per_minute: int = setting(
        "WACC_RATE_LIMIT_PER_MINUTE", 100,
        "API requests per minute per user, API key or (anonymous) IP address.", minimum=1,
    )
    ws_events_per_minute: int = setting(
        "WACC_WS_EVENTS_PER_MINUTE", 50,
        "Events a WebSocket client may send per minute (typing, joins, sends); more are "
        "refused with an error event.", minimum=1,
    )
    hsts: bool = setting("WACC_HSTS", False, "Send Strict-Transport-Security (behind HTTPS).")


@dataclass(frozen=True)
class AuthSettings:
    access_token_minutes: int = setting(
        "WACC_AUTH_ACCESS_TOKEN_MINUTES", 15, "Lifetime of an access token.", minimum=1,
        maximum=1440,
    )
    refresh_token_days: int = setting(
        "WACC_AUTH_REFRESH_TOKEN_DAYS", 7, "Lifetime of a refresh token.", minimum=1,
        maximum=90,
    )
    open_signup: bool = setting(
        "WACC_AUTH_OPEN_SIGNUP", False,
        "Let anyone register a new organization after the first one exists.",
    )
    password_min_length: int = setting(
        "WACC_AUTH_PASSWORD_MIN_LENGTH", 10, "Shortest password accepted.", minimum=8,
        maximum=128,
    )
    login_max_failures_account: int = setting(
        "WACC_AUTH_LOGIN_MAX_FAILURES_ACCOUNT", 5,
        "Failed logins per account within the window before it answers 429.", minimum=1,
    )
    login_max_failures_ip: int = setting(
        "WACC_AUTH_LOGIN_MAX_FAILURES_IP", 20,
        "Failed logins per client IP within the window before it answers 429.", minimum=1,
    )
    login_window_minutes: int = setting(
        "WACC_AUTH_LOGIN_WINDOW_MINUTES", 15, "Window for the failed-login counters.", minimum=1,
    )
    invite_days: int = setting("WACC_AUTH_INVITE_DAYS", 7, "How long an invite link works.",
                               minimum=1, maximum=90)
    mfa_issuer: str = setting("WACC_AUTH_MFA_ISSUER", "wacc",
                              "Issuer name shown in authenticator apps.")


@dataclass(frozen=True)
class HttpSettings:
    host: str = setting("WACC_HTTP_HOST", "127.0.0.1", "Address the web role listens on.")
    port: int = setting("WACC_HTTP_PORT", 8000, "Port the web role listens on.", minimum=1,
                        maximum=65535)
    shutdown_seconds: int = setting(
        "WACC_HTTP_SHUTDOWN_SECONDS", 20,
        "On stop, how long in-flight requests get to finish.", minimum=1,
    )


@dataclass(frozen=True)
class WorkerSettings:
    threads: int = setting("WACC_WORKER_THREADS", 4, "Jobs run at once by one worker role.",
                           minimum=1, maximum=64)
    heartbeat_seconds: int = setting(
        "WACC_WORKER_HEARTBEAT_SECONDS", 10,
        "How often worker, scheduler and wa roles record that they are alive.", minimum=1,
    )


@dataclass(frozen=True)
class SmtpSettings:
    host: str = setting("WACC_SMTP_HOST", "", "SMTP server; when empty no e-mail is sent and "
                        "invite links are shown to the inviter instead.")
    port: int = setting("WACC_SMTP_PORT", 587, "SMTP port.", minimum=1, maximum=65535)
    username: str = setting("WACC_SMTP_USERNAME", "", "SMTP login.")
    password: str = setting("WACC_SMTP_PASSWORD", "", "SMTP password.", secret=True)
    sender: str = setting("WACC_SMTP_SENDER", "wacc@localhost", "From address.")
    security: str = setting("WACC_SMTP_SECURITY", "starttls", "starttls, tls or none.",
                            choices=("starttls", "tls", "none"))


@dataclass(frozen=True)
class MediaSettings:
    max_bytes: int = setting(
        "WACC_MEDIA_MAX_BYTES", 16 * 1024 * 1024,
        "Largest media file stored or sent (WhatsApp's own limit for most types is 16 MB).",
        minimum=1024,
    )
    allowed_types: list[str] = setting(
        "WACC_MEDIA_ALLOWED_TYPES",
        ["image/", "video/", "audio/", "application/pdf", "application/vnd.", "application/msword",
         "application/zip", "text/plain", "text/vcard", "text/csv"],
        "MIME types (or prefixes ending in /) accepted for media; others are refused.",
    )
    backend: str = setting(
        "WACC_MEDIA_BACKEND", "local",
        "Where media files go: local (the data directory) or s3 (any S3-compatible store; "
        "needs `pip install wacc[s3]`). Machines sharing work should use s3.",
        choices=("local", "s3"),
    )
    s3_bucket: str = setting("WACC_MEDIA_S3_BUCKET", "", "S3 bucket for media (backend s3).")
    s3_prefix: str = setting("WACC_MEDIA_S3_PREFIX", "media/", "Key prefix inside the bucket.")
    s3_endpoint_url: str = setting(
        "WACC_MEDIA_S3_ENDPOINT_URL", "",
        "S3-compatible endpoint (MinIO, Ceph, R2, …); empty for AWS itself.",
    )
    s3_region: str = setting("WACC_MEDIA_S3_REGION", "us-east-1", "S3 region.")
    s3_access_key_id: str = setting("WACC_MEDIA_S3_ACCESS_KEY_ID", "",
                                    "S3 access key id (empty: the usual AWS credential chain).")
    s3_secret_access_key: str = setting("WACC_MEDIA_S3_SECRET_ACCESS_KEY", "",
                                        "S3 secret access key.", secret=True)


@dataclass(frozen=True)
class WhatsAppSettings:
    reopen: str = setting(
        "WACC_WA_REOPEN", "reopen",
        "When a customer writes to a resolved conversation: reopen it, or start a new one.",
        choices=("reopen", "new"),
    )
    lease_seconds: int = setting(
        "WACC_WA_LEASE_SECONDS", 15,
        "A `wa` process holds each session under a lease this long, renewed every third; "
        "when a process dies another takes its sessions over after at most this long.",
        minimum=3,
    )
    rpc_host: str = setting(
        "WACC_WA_RPC_HOST", "127.0.0.1",
        "Address a `wa` process listens on for commands from web and worker processes "
        "(set an internal address when they run on other machines).",
    )
    rpc_port: int = setting("WACC_WA_RPC_PORT", 0, "Port for that listener (0: any free port).",
                            minimum=0, maximum=65535)
    send_retry_hours: int = setting(
        "WACC_WA_SEND_RETRY_HOURS", 24,
        "How long a message waits for its session to reconnect before it is marked failed.",
        minimum=1,
    )
    wa_js_path: str = setting(
        "WACC_WA_JS_PATH", "",
        "A wa-js dist (wppconnect-wa.js) for WhatsApp Web sessions instead of the vendored or "
        "`wacc wajs install`ed one; needs WACC_WA_JS_SHA384. Checked at every session start.",
    )
    wa_js_sha384: str = setting(
        "WACC_WA_JS_SHA384", "",
        "The SRI hash of WACC_WA_JS_PATH (sha384-<base64>, or the bare base64); a file that "
        "does not match is refused.",
    )
    allow_private_urls: bool = setting(
        "WACC_WA_ALLOW_PRIVATE_URLS", False,
        "Let a session's `base_url` setting (the Cloud API's Graph host) point at private, "
        "loopback and link-local addresses (off: the session's access token is never sent "
        "to an internal service). For a local fake of the Graph API in tests.",
    )


@dataclass(frozen=True)
class PluginSettings:
    allow: list[str] = setting(
        "WACC_PLUGINS", [],
        "Third-party plugins to load, by entry-point name (comma-separated). Empty loads all "
        "installed ones; `none` loads none.",
    )


@dataclass(frozen=True)
class SupervisorSettings:
    roles: list[str] = setting(
        "WACC_ROLES", list(ROLE_NAMES),
        "Roles `wacc run` starts on this machine (comma-separated).",
        choices=ROLE_NAMES,
    )
    restart_max_seconds: float = setting(
        "WACC_RESTART_MAX_SECONDS", 30.0, "Longest wait before restarting a crashed role.",
        minimum=0.1,
    )
    stop_seconds: float = setting(
        "WACC_STOP_SECONDS", 25.0, "On SIGTERM, how long roles get to drain before they are "
        "killed.", minimum=1,
    )


@dataclass(frozen=True)
class AutomationSettings:
    allow_private_urls: bool = setting(
        "WACC_AUTOMATION_ALLOW_PRIVATE_URLS", False,
        "Let automations' webhook actions call private, loopback and link-local addresses "
        "(off: a guard against reaching internal services).",
    )
    webhook_timeout_seconds: float = setting(
        "WACC_AUTOMATION_WEBHOOK_TIMEOUT_SECONDS", 10.0,
        "How long an automation's webhook call may take.", minimum=1, maximum=60,
    )


@dataclass(frozen=True)
class Settings:
    core: CoreSettings = field(default_factory=CoreSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    redis: RedisSettings = field(default_factory=RedisSettings)
    security: SecuritySettings = field(default_factory=SecuritySettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    http: HttpSettings = field(default_factory=HttpSettings)
    worker: WorkerSettings = field(default_factory=WorkerSettings)
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    media: MediaSettings = field(default_factory=MediaSettings)
    whatsapp: WhatsAppSettings = field(default_factory=WhatsAppSettings)
    plugins: PluginSettings = field(default_factory=PluginSettings)
    supervisor: SupervisorSettings = field(default_factory=SupervisorSettings)
    automation: AutomationSettings = field(default_factory=AutomationSettings)

    @property
    def data_path(self) -> Path:
        return Path(self.core.data_dir)

    @property
    def database_url(self) -> str:
        return self.database.url

    @property
    def public_url(self) -> str:
        """Where people reach this wacc, without a trailing slash: WACC_BASE_URL, or the
        listen address and port (as `wacc run --host/--port` set them) when it is unset."""
        if self.core.base_url:
            return self.core.base_url.rstrip("/")
        return listen_url(self.http.host, self.http.port)

    @property
    def embedded(self) -> bool:
        """No Redis: queue, limits and realtime live in this machine."""
        return not self.redis.url


@dataclass(frozen=True)
class SettingInfo:
    section: str
    name: str
    env: str
    type: str
    default: Any
    doc: str
    secret: bool
    choices: tuple[str, ...] | None
    minimum: float | None
    maximum: float | None
    py_type: Any


def describe() -> list[SettingInfo]:
    """Every setting, in declaration order (the docs and the loader both use this)."""
    out = []
    hints = typing.get_type_hints(Settings)
    for section in dataclasses.fields(Settings):
        section_cls = hints[section.name]
        section_hints = typing.get_type_hints(section_cls)
        for f in dataclasses.fields(section_cls):
            meta = f.metadata
            factory: Any = f.default_factory
            default = f.default if f.default is not dataclasses.MISSING else factory()
            out.append(
                SettingInfo(
                    section=section.name, name=f.name, env=meta["env"],
                    type=_type_name(section_hints[f.name]), default=default, doc=meta["doc"],
                    secret=meta["secret"], choices=meta["choices"], minimum=meta["minimum"],
                    maximum=meta["maximum"], py_type=section_hints[f.name],
                )
            )
    return out


def _type_name(tp: Any) -> str:
    if typing.get_origin(tp) is list:
        return "list"
    return getattr(tp, "__name__", str(tp))


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _convert(info: SettingInfo, value: Any, source: str) -> Any:
    where = f"{source} ({info.section}.{info.name})" if source != info.env else source
    tp = info.py_type
    try:
        if typing.get_origin(tp) is list:
            if isinstance(value, str):
                items = [v.strip() for v in value.split(",") if v.strip()]
            elif isinstance(value, list) and all(isinstance(v, str) for v in value):
                items = value
            else:
                raise ValueError("expected a list of strings")
            result: Any = items
        elif tp is bool:
            if isinstance(value, bool):
                result = value
            elif isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
                result = value.strip().lower() in _TRUE
            else:
                raise ValueError("expected true or false")
        elif tp is int:
            if isinstance(value, bool):
                raise ValueError("expected an integer")
            result = int(value) if isinstance(value, int) else int(str(value).strip())
        elif tp is float:
            if isinstance(value, bool):
                raise ValueError("expected a number")
            result = float(value) if isinstance(value, int | float) else float(str(value).strip())
        elif tp is str:
            if not isinstance(value, str):
                raise ValueError("expected a string")
            result = value
        else:  # pragma: no cover - a new type must be taught here
            raise ValueError(f"unsupported setting type {tp}")
    except ValueError as exc:
        msg = str(exc) if str(exc).startswith("expected") else f"expected {_type_name(tp)}"
        raise ConfigError(f"{where}: {msg}, got {value!r}") from None
    if info.choices and isinstance(result, list):
        wrong = [item for item in result if item not in info.choices]
        if wrong or not result:
            raise ConfigError(f"{where}: each must be one of {', '.join(info.choices)}, "
                              f"got {', '.join(map(repr, wrong)) if wrong else 'none'}")
    elif info.choices and result not in info.choices:
        raise ConfigError(f"{where}: must be one of {', '.join(info.choices)}, got {result!r}")
    if info.minimum is not None and result < info.minimum:
        raise ConfigError(f"{where}: must be at least {info.minimum:g}, got {result!r}")
    if info.maximum is not None and result > info.maximum:
        raise ConfigError(f"{where}: must be at most {info.maximum:g}, got {result!r}")
    return result


def _read_secret_file(var: str, path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError as exc:
        raise ConfigError(f"{var}: cannot read {path}: {exc.strerror}") from None


def load_settings(env: Mapping[str, str] | None = None, toml_path: Path | None = None) -> Settings:
    """Build Settings from the environment and the optional wacc.toml."""
    env = dict(os.environ if env is None else env)
    infos = describe()
    by_env = {i.env: i for i in infos}
    known = set(by_env) | {f"{i.env}_FILE" for i in infos if i.secret}
    unknown = sorted(
        k for k in env
        if k.startswith(ENV_PREFIX) and k not in known
        and not k.startswith((PLUGIN_ENV_PREFIX, TEST_ENV_PREFIX))
    )
    if unknown:
        raise ConfigError(
            f"{unknown[0]}: unknown setting (see docs/configuration.md for the list)"
        )

    data_dir = env.get("WACC_DATA_DIR") or str(default_data_dir())
    values: dict[str, dict[str, Any]] = {}

    toml_file = toml_path or Path(data_dir) / "wacc.toml"
    if toml_file.is_file():
        try:
            doc = tomllib.loads(toml_file.read_text())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{toml_file}: not valid TOML: {exc}") from None
        by_key = {(i.section, i.name): i for i in infos}
        for section, body in doc.items():
            if not isinstance(body, dict):
                raise ConfigError(f"{toml_file}: [{section}] must be a table")
            for name, raw in body.items():
                info = by_key.get((section, name))
                if info is None:
                    raise ConfigError(f"{toml_file}: unknown setting {section}.{name}")
                values.setdefault(section, {})[name] = _convert(info, raw, str(toml_file))

    for info in infos:
        raw_value: str | None = env.get(info.env)
        source = info.env
        if info.secret and f"{info.env}_FILE" in env:
            source = f"{info.env}_FILE"
            raw_value = _read_secret_file(source, env[source])
        if raw_value is not None:
            values.setdefault(info.section, {})[info.name] = _convert(info, raw_value, source)

    values.setdefault("core", {})["data_dir"] = str(
        Path(values.get("core", {}).get("data_dir") or data_dir).expanduser().absolute()
    )
    if Path(values["core"]["data_dir"]).exists() and not Path(values["core"]["data_dir"]).is_dir():
        raise ConfigError(f"WACC_DATA_DIR: {values['core']['data_dir']} is a file, not a "
                          "directory; point it at a directory (wacc makes it if missing)")
    db_url = values.get("database", {}).get("url") or (
        f"sqlite:///{Path(values['core']['data_dir']) / 'wacc.db'}"
    )
    _check_database_url(db_url)
    values.setdefault("database", {})["url"] = db_url
    if values.get("redis", {}).get("url"):
        _check_redis_url(values["redis"]["url"])
    if values.get("core", {}).get("base_url"):
        _check_base_url(values["core"]["base_url"])

    hints = typing.get_type_hints(Settings)
    sections = {name: hints[name](**values.get(name, {})) for name in hints}
    return Settings(**sections)


def _check_database_url(url: str) -> None:
    scheme = url.split(":", 1)[0] if ":" in url else ""
    if scheme == "sqlite":
        if not url.startswith("sqlite:///") or len(url) <= len("sqlite:///"):
            raise ConfigError(
                "WACC_DATABASE_URL: a SQLite URL looks like sqlite:///path/to/wacc.db"
            )
        return
    if scheme in ("postgres", "postgresql"):
        parts = urlsplit(url)
        if not parts.hostname and not parts.path.strip("/"):
            raise ConfigError(
                "WACC_DATABASE_URL: a PostgreSQL URL looks like postgresql://user@host:5432/db"
            )
        return
    # Never the whole URL: it can hold a password.
    kind = f"{scheme!r}" if scheme and "/" not in scheme else "without a scheme"
    raise ConfigError(
        f"WACC_DATABASE_URL: a database URL {kind} is not supported; wacc runs on SQLite "
        "(sqlite:///path/to/wacc.db) or PostgreSQL (postgresql://user@host:5432/db)"
    )


def listen_url(host: str, port: int) -> str:
    """The URL of a listen address: one that listens on every interface is shown as
    127.0.0.1 (the only one sure to answer from this machine)."""
    shown = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host  # noqa: S104
    shown = f"[{shown}]" if ":" in shown else shown
    return f"http://{shown}:{port}"


# The web role records the URL it listens on here, so that one-shot commands (`wacc user
# invite` in another shell) give links to the port `wacc run --port` chose when
# WACC_BASE_URL is unset. A stale record (that server has stopped) still names the last
# address wacc served on, which is likelier right than the default port.
LISTEN_URL_FILE = "listen.url"


def record_listen_url(settings: Settings) -> None:
    """Called by the web role as it starts. Not being able to write it (a read-only data
    directory) costs only the commands' links, so it does not stop the web role."""
    with contextlib.suppress(OSError):
        (settings.data_path / LISTEN_URL_FILE).write_text(
            listen_url(settings.http.host, settings.http.port) + "\n", encoding="utf-8")


def with_recorded_listen_url(settings: Settings) -> Settings:
    """*settings* with the web role's recorded URL as the public URL, when WACC_BASE_URL
    is unset and a (valid) record exists; else unchanged."""
    if settings.core.base_url:
        return settings
    try:
        recorded = (settings.data_path / LISTEN_URL_FILE).read_text(encoding="utf-8").strip()
        _check_base_url(recorded)
    except (OSError, UnicodeDecodeError, ConfigError):
        return settings
    return dataclasses.replace(settings, core=dataclasses.replace(settings.core,
                                                                   base_url=recorded))


def _check_base_url(url: str) -> None:
    """WACC_BASE_URL goes into links people click: an http(s) URL with a host and
    nothing after the path (a query or fragment would break the paths added to it)."""
    example = "like https://wacc.example.com or http://192.0.2.10:8000"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise ConfigError(f"WACC_BASE_URL: not a URL ({example}), got {url!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"WACC_BASE_URL: expected an http(s) URL with a host ({example}), "
                          f"got {url!r}")
    if parts.query or parts.fragment or any(c.isspace() for c in url):
        raise ConfigError(f"WACC_BASE_URL: no spaces, query or fragment ({example}), got {url!r}")


def _check_redis_url(url: str) -> None:
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError("WACC_REDIS_URL: expected redis://host:6379/0 (or rediss://, unix://)")


def redacted(settings: Settings) -> dict[str, dict[str, Any]]:
    """Settings as a dict with secrets hidden, for `wacc doctor` and logs."""
    out: dict[str, dict[str, Any]] = {}
    for info in describe():
        value = getattr(getattr(settings, info.section), info.name)
        if info.secret and value:
            value = "***"
        out.setdefault(info.section, {})[info.name] = value
    return out


