"""The compose stack's preflight: refuse secrets that are missing, short, placeholders, or that
some consumer would read differently from their text.

``python -m obesity_risk.preflight NAME...`` checks the environment variables ``NAME...`` and
exits 1 with one line per problem (never the value), 0 with ``secrets ok``. The package reads its
own secrets literally, but the stack passes some through tools that parse them (YAML, INI, a
shell ``printf``): a value whose YAML reading differs from its text (``#x``, ``a #b``, quotes,
``: ``) would silently change there, so it is refused here.
"""

from __future__ import annotations

import os
import sys

import yaml

from obesity_risk import signing

KEY_PAIR = ("MODEL_SIGNING_KEY", "MODEL_VERIFY_KEY")  # checked as an Ed25519 pair when named
PLACEHOLDERS = ("change-me", "changeme", "password", "secret", "admin")
MIN_LENGTH = 16


def problem(name: str, value: str | None) -> str | None:
    """Why the secret ``name`` is refused, or None when it is fine."""
    if not value:
        return f"{name} is not set"
    if value.lower().startswith(PLACEHOLDERS):
        return f"{name} is a placeholder: set a real secret in .env"
    if len(value) < MIN_LENGTH:
        return f"{name} is shorter than {MIN_LENGTH} characters"
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        parsed = None
    if parsed != value or value != value.strip() or any(ord(c) < 32 for c in value):
        return (
            f"{name} would be read differently by a YAML/INI consumer (it has '#', quotes, ': ',"
            " control characters or surrounding spaces): use letters, digits, '-' and '_'"
        )
    return None


def pair_problem(private: str, public: str) -> str | None:
    """Why ``MODEL_SIGNING_KEY``/``MODEL_VERIFY_KEY`` are not one Ed25519 key pair, or None."""
    try:
        derived = signing.public_text(signing.private_key(private, KEY_PAIR[0]).public_key())
        given = signing.public_text(signing.public_key(public, KEY_PAIR[1]))
    except ValueError as exc:
        return str(exc)
    return None if derived == given else f"{KEY_PAIR[1]} is not the public key of {KEY_PAIR[0]}"


def main(names: list[str]) -> int:
    """Check ``names`` in the environment; the exit code."""
    problems = [p for name in names if (p := problem(name, os.environ.get(name)))]
    if not problems and set(KEY_PAIR) <= set(names):
        pair = pair_problem(*(os.environ[name] for name in KEY_PAIR))
        problems += [pair] if pair else []
    for line in problems:
        sys.stderr.write(f"{line}\n")
    if not problems:
        sys.stdout.write("secrets ok\n")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
