"""Secrets at rest: AES-256-GCM under a master key, with rotation.

A ciphertext is ``v1.<key id>.<base64url(nonce | ciphertext+tag)>``. The key id names
the master key that sealed it, so after `wacc keys rotate` old values stay readable
until they are re-encrypted. The master key comes from WACC_SECRET_KEY (plus
WACC_SECRET_KEY_PREVIOUS) or from the key file ``master.key`` in the data directory:
base64 keys one per line, the first one current. The key file is written 0600.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from wacc.config import ConfigError, Settings

KEY_FILE_NAME = "master.key"
_VERSION = "v1"


class DecryptionError(Exception):
    """A stored secret cannot be decrypted: unknown key id or tampered data."""


def new_key() -> bytes:
    return secrets.token_bytes(32)


def encode_key(key: bytes) -> str:
    return base64.b64encode(key).decode()


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:8]


def _decode_key(text: str, where: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"{where}: not a base64 key") from None
    if len(key) != 32:
        raise ConfigError(f"{where}: a master key is 32 bytes (44 base64 characters)")
    return key


@dataclass(frozen=True)
class Keyring:
    """The current master key and the earlier ones still accepted for decryption."""

    keys: tuple[bytes, ...]

    @property
    def current(self) -> bytes:
        return self.keys[0]

    @property
    def current_id(self) -> str:
        return key_id(self.current)

    def _by_id(self, kid: str) -> bytes:
        for key in self.keys:
            if key_id(key) == kid:
                return key
        raise DecryptionError(f"secret sealed with unknown master key {kid}")

    def encrypt(self, plaintext: str, context: str = "") -> str:
        """Seal *plaintext*; *context* (e.g. ``user.totp_secret``) must match on decrypt,
        so a ciphertext copied into another column does not decrypt."""
        nonce = os.urandom(12)
        sealed = AESGCM(self.current).encrypt(nonce, plaintext.encode(), context.encode())
        body = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{_VERSION}.{self.current_id}.{body}"

    def decrypt(self, token: str, context: str = "") -> str:
        try:
            version, kid, body = token.split(".", 2)
        except ValueError:
            raise DecryptionError("not an encrypted value") from None
        if version != _VERSION:
            raise DecryptionError(f"unknown format {version}")
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        try:
            return AESGCM(self._by_id(kid)).decrypt(raw[:12], raw[12:], context.encode()).decode()
        except InvalidTag:
            raise DecryptionError("secret was tampered with or sealed for another field") from None

    def is_current(self, token: str) -> bool:
        parts = token.split(".", 2)
        return len(parts) == 3 and parts[1] == self.current_id

    def derive(self, purpose: str) -> bytes:
        """A 32-byte key for *purpose* (token signing, hashing) from the current key."""
        return derive_from(self.current, purpose)

    def derive_all(self, purpose: str) -> dict[str, bytes]:
        return {key_id(k): derive_from(k, purpose) for k in self.keys}


def derive_from(key: bytes, purpose: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(key)


def key_file(settings: Settings) -> Path:
    return settings.data_path / KEY_FILE_NAME


def load_keyring(settings: Settings) -> Keyring:
    """The keyring from the environment or the key file; ConfigError says what to fix."""
    sec = settings.security
    if sec.secret_key:
        keys = [_decode_key(sec.secret_key, "WACC_SECRET_KEY")]
        keys += [_decode_key(k, "WACC_SECRET_KEY_PREVIOUS") for k in sec.secret_key_previous]
        return Keyring(tuple(keys))
    path = key_file(settings)
    if not path.exists():
        raise ConfigError(
            f"no master key: {path} does not exist. Run `wacc init` or set WACC_SECRET_KEY."
        )
    try:
        lines = [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not a text file"
        raise ConfigError(f"cannot read master key {path}: {reason}") from None
    if not lines:
        raise ConfigError(f"master key file {path} is empty")
    keys = [_decode_key(line, str(path)) for line in lines]
    keys += [_decode_key(k, "WACC_SECRET_KEY_PREVIOUS") for k in sec.secret_key_previous]
    return Keyring(tuple(keys))


def key_file_is_private(path: Path) -> bool:
    return not (path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO))


def write_key_file(path: Path, keys: list[bytes]) -> None:
    """Write the key file atomically with mode 0600 (first key current)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("".join(encode_key(k) + "\n" for k in keys))
        handle.flush()
        os.fsync(handle.fileno())
    tmp.chmod(0o600)
    tmp.replace(path)
