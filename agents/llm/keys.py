"""Model servers' API keys, encrypted at rest (Fernet: AES-128-CBC with an HMAC).

The Fernet key is derived from MODEL_KEYS_SECRET, or from SECRET_KEY when that is unset, with HKDF
under a fixed purpose string: the same secret then yields unrelated keys for unrelated uses, and a
leaked database alone reveals no server's key. A key is decrypted only in memory, to make a client;
no page or API answer shows it again."""

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

PURPOSE = b"memgpt-playground model server api keys v1"


class KeyUnreadable(Exception):
    """A stored key that this secret cannot decrypt: MODEL_KEYS_SECRET (or SECRET_KEY) changed."""


@lru_cache(maxsize=4)
def _fernet(secret: str) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=PURPOSE).derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def _current() -> Fernet:
    return _fernet(settings.MODEL_KEYS_SECRET or settings.SECRET_KEY)


def key_encrypt(plain: str) -> str:
    """The stored form of a key; "" for no key, so "is a key set" is a plain truth test."""
    return _current().encrypt(plain.encode()).decode() if plain else ""


def key_decrypt(stored: str) -> str:
    if not stored:
        return ""
    try:
        return _current().decrypt(stored.encode()).decode()
    except InvalidToken:
        raise KeyUnreadable("the stored API key cannot be decrypted: MODEL_KEYS_SECRET (or SECRET_KEY) changed "
                            "since it was saved; enter the key again") from None
