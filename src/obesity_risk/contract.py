"""Base of the typed JSON contracts between stages (report summaries, rule decisions, data
manifests).

A :class:`Contract` is a frozen pydantic model that forbids unknown fields. Producers build one;
readers get one back from disk through :meth:`Contract.read` (``model_validate_json``), so a
renamed or mistyped field is a :class:`ContractError` naming the file, never a silent ``None``.
:meth:`Contract.to_json` writes exactly the fields the producer set, so the JSON on disk keeps
its shape (an optional key is absent, not ``null``, when it was never given).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, ValidationError

from obesity_risk.errors import ObesityRiskError


class ContractError(ObesityRiskError, ValueError):
    """A stored JSON document does not match its contract."""


def _first_errors(exc: ValidationError, limit: int = 3) -> str:
    parts = [
        f"{'.'.join(str(p) for p in err['loc']) or '(document)'}: {err['msg']}"
        for err in exc.errors()[:limit]
    ]
    more = exc.error_count() - limit
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")


class Contract(BaseModel):
    """A frozen, closed JSON document with an exact on-disk shape."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )

    def to_json(self) -> dict[str, Any]:
        """The JSON form: aliased keys, only the fields that were set."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)

    def replace(self, **changes: Any) -> Self:
        """A validated copy with ``changes`` (by field name) applied."""
        return self.model_validate(self.model_dump(exclude_unset=True) | changes)

    @classmethod
    def parse(cls, text: str | bytes, source: str) -> Self:
        """Validate a JSON document; a mismatch is a :class:`ContractError` naming ``source``."""
        try:
            return cls.model_validate_json(text)
        except ValidationError as exc:
            raise ContractError(
                f"{source}: not a valid {cls.__name__}: {_first_errors(exc)}"
            ) from exc

    @classmethod
    def read(cls, path: Path) -> Self:
        """Read and validate ``path`` (an unreadable file raises ``OSError``)."""
        return cls.parse(path.read_bytes(), str(path))
