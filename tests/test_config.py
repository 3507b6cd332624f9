"""Settings: strict parsing with messages that name the bad setting; docs list them all."""

from __future__ import annotations

import os

import pytest

from wacc.config import ConfigError, describe, load_settings
from wacc.devtools import DOCS, generated_docs


def load(tmp_path, **env):
    return load_settings({"WACC_DATA_DIR": str(tmp_path), **env})


def test_defaults_are_embedded_sqlite_in_the_data_dir(tmp_path):
    s = load(tmp_path)
    assert s.database.url == f"sqlite:///{tmp_path / 'wacc.db'}"
    assert s.embedded and s.security.rate_limit_per_minute == 100
    assert s.auth.access_token_minutes == 15 and s.auth.refresh_token_days == 7
    assert s.auth.open_signup is False


@pytest.mark.parametrize(("env", "needle"), [
    ({"WACC_HTTP_PORT": "eighty"}, "WACC_HTTP_PORT"),
    ({"WACC_HTTP_PORT": "70000"}, "WACC_HTTP_PORT: must be at most"),
    ({"WACC_AUTH_OPEN_SIGNUP": "maybe"}, "WACC_AUTH_OPEN_SIGNUP: expected true or false"),
    ({"WACC_LOG_LEVEL": "LOUD"}, "WACC_LOG_LEVEL: must be one of"),
    ({"WACC_DATABSE_URL": "sqlite:///x"}, "WACC_DATABSE_URL: unknown setting"),
    ({"WACC_DATABASE_URL": "mysql://u:p@h/db"}, "WACC_DATABASE_URL: a database URL 'mysql' is not supported"),
    ({"WACC_DATABASE_URL": "sqlite://relative"}, "WACC_DATABASE_URL"),
    ({"WACC_DATABASE_URL": "nonsense"}, "WACC_DATABASE_URL"),
    ({"WACC_REDIS_URL": "http://x"}, "WACC_REDIS_URL"),
    ({"WACC_SECRET_KEY_FILE": "/nonexistent/key"}, "WACC_SECRET_KEY_FILE: cannot read"),
])
def test_bad_values_name_the_setting(tmp_path, env, needle):
    with pytest.raises(ConfigError) as info:
        load(tmp_path, **env)
    assert needle in str(info.value)
    assert "Traceback" not in str(info.value)


def test_database_url_password_is_not_echoed(tmp_path):
    with pytest.raises(ConfigError) as info:
        load(tmp_path, WACC_DATABASE_URL="mysql://user:hunter2@db/x")
    assert "hunter2" not in str(info.value)


def test_toml_file_and_env_precedence(tmp_path):
    (tmp_path / "wacc.toml").write_text('[http]\nport = 9000\nhost = "0.0.0.0"\n[auth]\nopen_signup = true\n')
    s = load(tmp_path, WACC_HTTP_PORT="9100")
    assert s.http.port == 9100 and s.http.host == "0.0.0.0" and s.auth.open_signup is True


@pytest.mark.parametrize(("text", "needle"), [
    ("[http]\nprot = 1\n", "unknown setting http.prot"),
    ("[http]\nport = 'x'\n", "http.port"),
    ("[nope]\nx = 1\n", "unknown setting nope.x"),
    ("not = [valid", "not valid TOML"),
])
def test_bad_toml_is_reported(tmp_path, text, needle):
    (tmp_path / "wacc.toml").write_text(text)
    with pytest.raises(ConfigError) as info:
        load(tmp_path)
    assert needle in str(info.value)


def test_secret_from_file(tmp_path):
    secret = tmp_path / "smtp-password"
    secret.write_text("s3cret\n")
    s = load(tmp_path, WACC_SMTP_PASSWORD_FILE=str(secret))
    assert s.smtp.password == "s3cret"


def test_lists_parse_from_commas(tmp_path):
    s = load(tmp_path, WACC_CORS_ORIGINS="https://a.example, https://b.example", WACC_ROLES="web")
    assert s.security.cors_origins == ["https://a.example", "https://b.example"]
    assert s.supervisor.roles == ["web"]


def test_plugin_namespace_is_left_to_plugins(tmp_path):
    load(tmp_path, WACC_PLUGIN_HELLO_GREETING="hi")


def test_every_setting_is_documented():
    text = (DOCS / "configuration.md").read_text()
    missing = [i.env for i in describe() if f"`{i.env}`" not in text]
    assert not missing, f"add to docs/configuration.md (python -m wacc.devtools docs): {missing}"


def test_generated_docs_are_current():
    for path, expected in generated_docs().items():
        assert path.read_text() == expected, (
            f"{path.name} is stale: run `python -m wacc.devtools docs`")


def test_loader_reads_the_real_environment_by_default(tmp_path, monkeypatch):
    monkeypatch.setenv("WACC_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("WACC_HTTP_PORT", "8123")
    assert load_settings().http.port == 8123
    assert os.environ["WACC_HTTP_PORT"] == "8123"


@pytest.mark.parametrize("value", [
    "not-a-url", "wacc.example.com", "ftp://wacc.example.com", "http://", "https://:443",
    "http://wacc.example.com:port", "https://wacc.example.com/?x=1", "https://wacc.example.com/#top",
    "https://wacc example.com",
])
def test_a_base_url_people_cannot_open_is_refused(tmp_path, value):
    with pytest.raises(ConfigError) as info:
        load(tmp_path, WACC_BASE_URL=value)
    assert str(info.value).startswith("WACC_BASE_URL: ")
    assert repr(value) in str(info.value) and "https://wacc.example.com" in str(info.value)


def test_base_url_when_set_and_derived_from_the_listen_address_when_not(tmp_path):
    assert load(tmp_path, WACC_BASE_URL="https://wacc.example.com/team/").public_url == \
        "https://wacc.example.com/team"
    assert load(tmp_path).public_url == "http://127.0.0.1:8000"
    assert load(tmp_path, WACC_HTTP_PORT="18731").public_url == "http://127.0.0.1:18731"
    assert load(tmp_path, WACC_HTTP_HOST="0.0.0.0").public_url == "http://127.0.0.1:8000"
    assert load(tmp_path, WACC_HTTP_HOST="192.0.2.7", WACC_HTTP_PORT="80").public_url == \
        "http://192.0.2.7:80"
    assert load(tmp_path, WACC_HTTP_HOST="::1").public_url == "http://[::1]:8000"


def test_commands_link_to_where_the_web_role_recorded_it_listens(tmp_path):
    import dataclasses

    from wacc.config import record_listen_url, with_recorded_listen_url

    settings = load(tmp_path)
    assert with_recorded_listen_url(settings) is settings  # nothing recorded yet
    running = dataclasses.replace(settings, http=dataclasses.replace(settings.http, port=18731))
    record_listen_url(running)
    assert with_recorded_listen_url(settings).public_url == "http://127.0.0.1:18731"
    # A WACC_BASE_URL that is set wins; a damaged record is ignored.
    chosen = load(tmp_path, WACC_BASE_URL="https://wacc.example.com")
    assert with_recorded_listen_url(chosen).public_url == "https://wacc.example.com"
    (tmp_path / "listen.url").write_text("garbage")
    assert with_recorded_listen_url(settings).public_url == "http://127.0.0.1:8000"
