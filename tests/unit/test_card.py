"""The model card: typed, signed, and checked against the files before anything is unpickled."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from obesity_risk.config import load_settings
from obesity_risk.models.card import IntegrityError, ModelCard, artifact_digests
from obesity_risk.models.registry import deserialize, export_local, load_exported
from tests.conftest import isolated_paths, make_card

KEY = "a-signing-key-for-the-tests-0123"


class Payload:
    """Unpickling this runs code: it creates a marker file (the attack to block)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.fixture
def exported(tmp_path: Path, small_pipeline, tiny_records):
    settings = load_settings(
        paths=isolated_paths(tmp_path), logging={"file": False}, tracking={"signing_key": KEY}
    )
    return settings, export_local(settings, small_pipeline, tiny_records, make_card("3"))


def test_export_records_the_hash_and_signs_the_card(exported, tiny_records) -> None:
    settings, target = exported
    card = ModelCard.read(target)
    assert card.artifacts == artifact_digests(target) and card.signature
    loaded = load_exported(settings)
    assert loaded.version == "3" and loaded.card == card
    assert list(loaded.pipeline.predict(tiny_records))


def test_a_swapped_pickle_is_never_unpickled(exported, tmp_path: Path) -> None:
    settings, target = exported
    marker = tmp_path / "pwned"
    (target / "model.pkl").write_bytes(pickle.dumps(Payload(marker)))
    with pytest.raises(IntegrityError, match="refusing to deserialize it"):
        load_exported(settings)
    assert not marker.exists()


def test_a_rewritten_card_without_the_key_is_refused(exported, tmp_path: Path) -> None:
    settings, target = exported
    marker = tmp_path / "pwned"
    (target / "model.pkl").write_bytes(pickle.dumps(Payload(marker)))
    forged = ModelCard.read(target).model_copy(update={"artifacts": artifact_digests(target)})
    (target / "card.json").write_text(forged.to_json())  # the attacker cannot re-sign it
    with pytest.raises(IntegrityError, match="card signature does not match"):
        load_exported(settings)
    unsigned = forged.model_copy(update={"signature": None})
    (target / "card.json").write_text(unsigned.to_json())
    with pytest.raises(IntegrityError, match="card is not signed"):
        load_exported(settings)
    assert not marker.exists()


def test_without_a_key_hashes_are_still_checked(
    tmp_path: Path, small_pipeline, tiny_records
) -> None:
    settings = load_settings(paths=isolated_paths(tmp_path), logging={"file": False})
    target = export_local(settings, small_pipeline, tiny_records, make_card("4"))
    card = ModelCard.read(target)
    assert card.signature is None
    deserialize(target, card, settings)
    (target / "model.pkl").write_bytes(b"\x80\x04N.")  # a valid pickle of None, other bytes
    with pytest.raises(IntegrityError, match="differs from the card's"):
        deserialize(target, card, settings)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "not a valid model card"),
        ('{"name": "x"}', "family: Field required"),
        ('{"name": "x", "family": "y", "famly": 1}', "famly: Extra inputs are not permitted"),
    ],
)
def test_a_malformed_card_is_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(IntegrityError, match=message):
        ModelCard.parse(text, "models:/x/1")


def test_card_paths_never_leave_the_model_folder(exported) -> None:
    settings, target = exported
    real = ModelCard.read(target)
    escaping = {**real.artifacts, "../../etc/passwd": "0" * 64}
    card = real.model_copy(update={"artifacts": escaping, "signature": None}).signed(KEY)
    with pytest.raises(IntegrityError, match="leaves the model folder"):
        deserialize(target, card, settings)
    partial = real.model_copy(update={"artifacts": {"other.pkl": "0" * 64}, "signature": None})
    with pytest.raises(IntegrityError, match=r"model\.pkl is not among the card's verified files"):
        deserialize(target, partial.signed(KEY), settings)
