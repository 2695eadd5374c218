"""Integrity of an exported model over every one of its files, checked before MLflow reads any.

The card's ``artifacts`` is a manifest: the SHA-256 of every file of the model folder (``MLmodel``,
the environment files, the pickle, the input example, the monitoring reference), ``card.json``
itself aside. :func:`verified_copy` checks the card's signature, refuses symlinks, special files,
files the manifest does not name and files it names but that are missing, and copies each file
into a private folder while hashing exactly the bytes it copies. Only that copy's pickle is
unpickled, so a file swapped after the check is never read. The copied ``MLmodel`` is also checked
for what would make MLflow run code before unpickling (a ``code`` folder it puts on ``sys.path``,
a loader other than the sklearn flavour), so the folder is safe for MLflow's own tools too.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from obesity_risk.files import file_sha256
from obesity_risk.registry.card import CARD_FILE, IntegrityError, ModelCard

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

_CHUNK = 1 << 20
# written beside a download by MLflow's client itself (model name and version), not stored
# with the model: never hashed, never copied, so MLflow never reads it
_CLIENT_FILES = {CARD_FILE, "registered_model_meta"}
_FLAVORS = {"python_function", "sklearn"}
_LOADER = "mlflow.sklearn"


def _files(model_dir: Path, source: str) -> list[str]:
    """Relative POSIX paths of every regular file under ``model_dir`` (the card and MLflow's
    client-side ``registered_model_meta`` aside).

    Raises:
        IntegrityError: a symlink or a special file is found (nothing is followed).
    """
    found = []
    for folder, dirs, names in os.walk(model_dir, followlinks=False):
        for name in [*dirs, *names]:
            path = Path(folder) / name
            relative = path.relative_to(model_dir).as_posix()
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                raise IntegrityError(f"{source}: {relative} is a symlink (refused)")
            if name in names and not stat.S_ISREG(mode):
                raise IntegrityError(f"{source}: {relative} is not a regular file (refused)")
            if name in names and relative not in _CLIENT_FILES:
                found.append(relative)
    return sorted(found)


def manifest(model_dir: Path) -> dict[str, str]:
    """``{relative path: sha256}`` of every file of a model folder (what the card records)."""
    model_dir = Path(model_dir)
    return {name: file_sha256(model_dir / name) for name in _files(model_dir, str(model_dir))}


def _copy_hashed(src: Path, dst: Path) -> str:
    """Copy ``src`` to ``dst`` (no symlink followed); the SHA-256 of the bytes copied."""
    digest = hashlib.sha256()
    dst.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(src, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as reader, dst.open("xb") as writer:
        for chunk in iter(lambda: reader.read(_CHUNK), b""):
            digest.update(chunk)
            writer.write(chunk)
    return digest.hexdigest()


def check_mlmodel(model_dir: Path, card: ModelCard, source: str) -> str:
    """Refuse an ``MLmodel`` that would make MLflow import or run anything but the pickle.

    Returns:
        The name of the pickled model file (one of the manifest's files).

    Raises:
        IntegrityError: a ``code`` path, an unexpected flavour or loader, a pickle not verified.
    """
    try:
        spec = yaml.safe_load((model_dir / "MLmodel").read_text(encoding="utf-8"))
        flavors: dict[str, Any] = spec["flavors"]
        pickled = str(flavors["sklearn"]["pickled_model"])
    except (OSError, UnicodeDecodeError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise IntegrityError(f"{source}: MLmodel is not an MLflow sklearn model ({exc})") from None
    unexpected = set(flavors) - _FLAVORS
    if unexpected:
        raise IntegrityError(f"{source}: MLmodel names unexpected flavours {sorted(unexpected)}")
    for name, conf in flavors.items():
        if not isinstance(conf, dict):
            raise IntegrityError(f"{source}: MLmodel flavour {name} is not a mapping")
        if conf.get("code") is not None:
            raise IntegrityError(
                f"{source}: MLmodel flavour {name} names a code path ({conf['code']!r}):"
                " refused, it would be imported before unpickling"
            )
    loader = flavors.get("python_function", {}).get("loader_module", _LOADER)
    if loader != _LOADER:
        raise IntegrityError(f"{source}: MLmodel loader_module {loader!r} is not {_LOADER}")
    if pickled not in card.artifacts:
        raise IntegrityError(f"{source}: {pickled} is not among the card's verified files")
    return pickled


def verified_copy(
    model_dir: Path, card: ModelCard, dest: Path, verify_key: Ed25519PublicKey | None = None
) -> Path:
    """Check ``model_dir`` against ``card`` in full and copy it to ``dest`` (a new folder).

    Returns:
        The pickled model file in ``dest``, which holds exactly the verified bytes (plus the
        card): the only file to unpickle.

    Raises:
        IntegrityError: bad signature, empty manifest, a file added, missing, changed or not
            regular, a path leaving the folder, or an ``MLmodel`` that would run code.
    """
    model_dir = Path(model_dir)
    source = f"{card.name} v{card.version}" if card.version else str(model_dir)
    card.check_signature(verify_key, source)
    if not card.artifacts:
        raise IntegrityError(f"{source}: the card records no artifact hashes")
    for relative in card.artifacts:
        if Path(relative).is_absolute() or ".." in Path(relative).parts:
            raise IntegrityError(f"{source}: artifact path {relative!r} leaves the model folder")
    present = _files(model_dir, source)
    extra = sorted(set(present) - set(card.artifacts))
    if extra:
        raise IntegrityError(f"{source}: files not in the card's manifest: {extra} (refused)")
    missing = sorted(set(card.artifacts) - set(present))
    if missing:
        raise IntegrityError(f"{source}: files of the card's manifest are missing: {missing}")
    dest.mkdir(mode=0o700)
    for relative, expected in card.artifacts.items():
        actual = _copy_hashed(model_dir / relative, dest / relative)
        if not hmac.compare_digest(actual, expected):
            raise IntegrityError(
                f"{source}: {relative} sha256 {actual[:12]}... differs from the card's"
                f" {expected[:12]}... (refusing to deserialize it)"
            )
    pickled = check_mlmodel(dest, card, source)
    (dest / CARD_FILE).write_text(card.model_dump_json(indent=2), encoding="utf-8")
    return dest / pickled
