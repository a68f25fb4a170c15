"""Encryption at rest for secrets the database must hold but never show: the TOTP secrets.

Fernet (AES-128-CBC with HMAC-SHA256, from the `cryptography` package). The key is
DATA_ENCRYPTION_KEY when set (a Fernet key: `python -c "from cryptography.fernet import Fernet;
print(Fernet.generate_key().decode())"`), else derived from SECRET_KEY with HKDF. Either way it
must stay stable: with another key the stored secrets cannot be read, and every user has to
enrol their authenticator again (an admin resets the second factor).
"""

from __future__ import annotations

import base64
from functools import cache

from flask import current_app

HKDF_INFO = b"referrals: TOTP secrets at rest"
# What a secret reads as when the configured key cannot decrypt it: falsy, so the login asks
# for an admin reset instead of failing; a reset writes None over it (a change from "").
UNREADABLE = ""


@cache
def _fernet(explicit_key: str | None, secret_key: str):
    from cryptography.fernet import Fernet
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    if explicit_key:
        return Fernet(explicit_key.encode())
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=HKDF_INFO).derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(derived))


def fernet():
    config = current_app.config
    if not (config.get("DATA_ENCRYPTION_KEY") or config.get("SECRET_KEY")):
        raise RuntimeError("no DATA_ENCRYPTION_KEY or SECRET_KEY to encrypt secrets with")
    return _fernet(config.get("DATA_ENCRYPTION_KEY"), config.get("SECRET_KEY") or "")


def encrypt(value: str) -> str:
    return fernet().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    """Raises ValueError (cryptography's InvalidToken is one) when the key does not fit."""
    from cryptography.fernet import InvalidToken

    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken as error:
        raise ValueError("the stored secret does not decrypt with the configured key") from error
