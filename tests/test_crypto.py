"""Secrets at rest (AES-256-GCM), key files, and signed tokens."""

from __future__ import annotations

import base64
import stat
from datetime import timedelta

import jwt
import pytest

from wacc.config import ConfigError, load_settings
from wacc.security.crypto import (
    DecryptionError,
    Keyring,
    key_file,
    load_keyring,
    new_key,
    write_key_file,
)
from wacc.security.tokens import TokenError, decode, issue


def test_round_trip_and_context_binding():
    ring = Keyring((new_key(),))
    sealed = ring.encrypt("JBSWY3DPEHPK3PXP", "app_user.totp_secret")
    assert sealed.startswith(f"v1.{ring.current_id}.") and "JBSW" not in sealed
    assert ring.decrypt(sealed, "app_user.totp_secret") == "JBSWY3DPEHPK3PXP"
    with pytest.raises(DecryptionError):
        ring.decrypt(sealed, "webhook.secret")  # copied into another column
    assert ring.encrypt("x") != ring.encrypt("x")  # fresh nonce each time


def test_tampering_is_detected():
    ring = Keyring((new_key(),))
    sealed = ring.encrypt("secret")
    body = sealed.rsplit(".", 1)[1]
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    with pytest.raises(DecryptionError):
        ring.decrypt(sealed.rsplit(".", 1)[0] + "." + flipped)
    with pytest.raises(DecryptionError):
        ring.decrypt("plaintext")


def test_rotation_keeps_old_values_readable():
    old = Keyring((new_key(),))
    sealed = old.encrypt("value")
    rotated = Keyring((new_key(), old.current))
    assert not rotated.is_current(sealed)
    assert rotated.decrypt(sealed) == "value"
    assert rotated.is_current(rotated.encrypt("value"))
    with pytest.raises(DecryptionError):
        Keyring((rotated.current,)).decrypt(sealed)


def test_key_file_is_private_and_loaded(tmp_path):
    settings = load_settings({"WACC_DATA_DIR": str(tmp_path)})
    with pytest.raises(ConfigError, match="wacc init"):
        load_keyring(settings)
    key = new_key()
    write_key_file(key_file(settings), [key])
    assert stat.S_IMODE(key_file(settings).stat().st_mode) == 0o600
    assert load_keyring(settings).current == key


@pytest.mark.parametrize("content", [b"", b"not base64!!\n", base64.b64encode(b"short"), b"\xff\xfe"])
def test_bad_key_file_is_a_clear_error(tmp_path, content):
    settings = load_settings({"WACC_DATA_DIR": str(tmp_path)})
    key_file(settings).write_bytes(content)
    with pytest.raises(ConfigError) as info:
        load_keyring(settings)
    assert "master.key" in str(info.value)


def test_unreadable_key_file_is_a_clear_error(tmp_path):
    settings = load_settings({"WACC_DATA_DIR": str(tmp_path)})
    key_file(settings).mkdir()  # a directory where the file should be: unreadable as a file
    with pytest.raises(ConfigError, match="cannot read master key"):
        load_keyring(settings)


def test_env_key_wins_and_must_be_valid(tmp_path):
    key = new_key()
    env = {"WACC_DATA_DIR": str(tmp_path), "WACC_SECRET_KEY": base64.b64encode(key).decode()}
    assert load_keyring(load_settings(env)).current == key
    env["WACC_SECRET_KEY"] = "bad"
    with pytest.raises(ConfigError, match="WACC_SECRET_KEY"):
        load_keyring(load_settings(env))


def test_tokens_reject_forgery_expiry_alg_none_and_wrong_kind():
    ring = Keyring((new_key(),))
    good = issue(ring, {"sub": "u1"}, timedelta(minutes=5), "access")
    assert decode(ring, good, "access")["sub"] == "u1"
    with pytest.raises(TokenError, match="wrong kind"):
        decode(ring, good, "mfa")
    with pytest.raises(TokenError, match="expired"):
        decode(ring, issue(ring, {"sub": "u1"}, timedelta(seconds=-5), "access"), "access")
    forged = jwt.encode({"sub": "u1", "typ": "access", "iat": 1, "exp": 9999999999},
                        b"x" * 32, algorithm="HS256", headers={"kid": ring.current_id})
    with pytest.raises(TokenError):
        decode(ring, forged, "access")
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT","kid":"%s"}' % ring.current_id.encode())
    payload = base64.urlsafe_b64encode(b'{"sub":"u1","typ":"access","iat":1,"exp":9999999999}')
    unsigned = header.decode().rstrip("=") + "." + payload.decode().rstrip("=") + "."
    with pytest.raises(TokenError):
        decode(ring, unsigned, "access")
    other = Keyring((new_key(),))
    with pytest.raises(TokenError, match="unknown key"):
        decode(other, good, "access")
