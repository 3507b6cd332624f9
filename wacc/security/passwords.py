"""Password hashing (argon2id) and the minimum password policy."""

from __future__ import annotations

import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# argon2-cffi's defaults follow RFC 9106's second recommendation (64 MiB, t=3, p=4).
_hasher = PasswordHasher()
MAX_LENGTH = 128  # longer inputs only cost hashing time; nobody types more


class PasswordPolicyError(ValueError):
    """The password does not meet the policy; the message says why."""


def check_policy(password: str, min_length: int, *, email: str = "", name: str = "") -> None:
    if len(password) < min_length:
        raise PasswordPolicyError(f"must be at least {min_length} characters")
    if len(password) > MAX_LENGTH:
        raise PasswordPolicyError(f"must be at most {MAX_LENGTH} characters")
    if len(set(password)) < 4:
        raise PasswordPolicyError("must use at least 4 different characters")
    lowered = password.lower()
    for personal in (email.lower(), email.split("@")[0].lower(), name.lower()):
        if len(personal) >= 4 and personal in lowered:
            raise PasswordPolicyError("must not contain your e-mail address or name")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)


@functools.cache
def dummy_hash() -> str:
    """A hash verified when the account does not exist, so a login for an unknown e-mail
    takes as long as one for a known e-mail. Made on first use: hashing costs ~0.1 s of
    CPU, which every process would otherwise pay at start."""
    return _hasher.hash("not-a-real-password-0f3c9")
