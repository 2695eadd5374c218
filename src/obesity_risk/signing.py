"""Ed25519 keys for model cards: training signs with the private key, every consumer verifies
with the public key alone (a verifier cannot sign).

Keys travel as text: the 32 raw key bytes in base64 (what ``obesity-risk keygen`` prints), or a
PEM block. A key that is not Ed25519 is a clear error, never a silent "unsigned".
"""

from __future__ import annotations

import base64
import binascii

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

_RAW = serialization.Encoding.Raw


def _raw_bytes(text: str, what: str) -> bytes | None:
    """The 32 bytes of a base64 key (standard or URL-safe alphabet), else None (maybe PEM)."""
    cleaned = text.strip()
    if cleaned.startswith("-----BEGIN"):
        return None
    try:
        raw = base64.b64decode(cleaned.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{what}: not base64 (generate keys with `obesity-risk keygen`)") from None
    if len(raw) != 32:
        raise ValueError(f"{what}: an Ed25519 key is 32 bytes, this one is {len(raw)}")
    return raw


def private_key(text: str, what: str = "signing key") -> Ed25519PrivateKey:
    """Parse an Ed25519 private key.

    Raises:
        ValueError: not an Ed25519 private key (the message names ``what``, never the value).
    """
    raw = _raw_bytes(text, what)
    if raw is not None:
        return Ed25519PrivateKey.from_private_bytes(raw)
    try:
        key = serialization.load_pem_private_key(text.strip().encode(), password=None)
    except (ValueError, TypeError):
        raise ValueError(f"{what}: not a PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{what}: not an Ed25519 private key")
    return key


def public_key(text: str, what: str = "verify key") -> Ed25519PublicKey:
    """Parse an Ed25519 public key.

    Raises:
        ValueError: not an Ed25519 public key (the message names ``what``).
    """
    raw = _raw_bytes(text, what)
    if raw is not None:
        return Ed25519PublicKey.from_public_bytes(raw)
    try:
        key = serialization.load_pem_public_key(text.strip().encode())
    except (ValueError, TypeError):
        raise ValueError(f"{what}: not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{what}: not an Ed25519 public key")
    return key


def public_text(key: Ed25519PublicKey) -> str:
    """The public key as base64 text (the ``verify_key`` setting)."""
    return base64.b64encode(key.public_bytes(_RAW, serialization.PublicFormat.Raw)).decode()


def generate() -> tuple[str, str]:
    """A fresh key pair as ``(private, public)`` base64 text."""
    key = Ed25519PrivateKey.generate()
    raw = key.private_bytes(_RAW, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    return base64.b64encode(raw).decode(), public_text(key.public_key())


def sign(key: Ed25519PrivateKey, payload: bytes) -> str:
    """Base64 Ed25519 signature of ``payload``."""
    return base64.b64encode(key.sign(payload)).decode()


def verifies(key: Ed25519PublicKey, payload: bytes, signature: str) -> bool:
    """Whether ``signature`` (base64) is ``key``'s signature of ``payload``."""
    try:
        key.verify(base64.b64decode(signature, validate=True), payload)
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True
