"""The model card: typed, signed with Ed25519, and checked against every file of the model
before MLflow reads any of them."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from obesity_risk import signing
from obesity_risk.errors import ConfigError
from obesity_risk.registry.card import IntegrityError, ModelCard
from obesity_risk.registry.client import deserialize, load_exported, signing_key, verify_key
from obesity_risk.registry.integrity import manifest
from obesity_risk.registry.publish import export_local
from tests.helpers.models import make_card
from tests.helpers.settings import quiet_settings

PRIVATE, PUBLIC = signing.generate()
OTHER_PRIVATE, _ = signing.generate()
PAYLOAD = "import pathlib\npathlib.Path({marker!r}).touch()\n"


class Payload:
    """Unpickling this runs code: it creates a marker file (the attack to block)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _settings(tmp_path: Path, **tracking):
    return quiet_settings(tmp_path, tracking=tracking)


@pytest.fixture
def exported(tmp_path: Path, small_pipeline, tiny_records):
    """An export signed by training; the consumer's settings hold only the public key."""
    trainer = _settings(tmp_path, signing_key=PRIVATE)
    target = export_local(trainer, small_pipeline, tiny_records, make_card("3"), tiny_records)
    return _settings(tmp_path, verify_key=PUBLIC), target


def _inject_code(target: Path, marker: Path) -> None:
    """The review's attack: MLmodel names a code folder holding a module the pickle imports."""
    mlmodel = target / "MLmodel"
    text = mlmodel.read_text()
    assert "code: null" in text
    mlmodel.write_text(text.replace("code: null", "code: code"))
    (target / "code").mkdir()
    (target / "code" / "xgboost.py").write_text(PAYLOAD.format(marker=str(marker)))


def test_export_records_every_file_and_signs_the_card(exported, tiny_records) -> None:
    settings, target = exported
    card = ModelCard.read(target)
    assert card.artifacts == manifest(target) and card.signature
    assert {"MLmodel", "model.pkl", "reference.parquet"} <= set(card.artifacts)
    assert "card.json" not in card.artifacts
    loaded = load_exported(settings)
    assert loaded.version == "3" and loaded.card == card
    assert list(loaded.pipeline.predict(tiny_records))


def test_a_verifier_cannot_sign(exported) -> None:
    settings, _ = exported
    assert signing_key(settings) is None and verify_key(settings) is not None
    card = make_card("9")
    assert card.signed(signing_key(settings)).signature is None


def test_every_file_tampered_in_turn_is_refused(exported, tmp_path: Path) -> None:
    settings, target = exported
    for name in sorted(manifest(target)):
        original = (target / name).read_bytes()
        (target / name).write_bytes(original + b"\n")
        with pytest.raises(IntegrityError, match=rf"{name} sha256 .* differs from the card's"):
            load_exported(settings)
        (target / name).write_bytes(original)
    load_exported(settings)


def test_a_code_path_never_runs(exported, tmp_path: Path) -> None:
    """MLflow would put ``code/`` on sys.path before unpickling: refused, the file never runs."""
    settings, target = exported
    marker = tmp_path / "pwned"
    _inject_code(target, marker)
    with pytest.raises(IntegrityError, match="files not in the card's manifest"):
        load_exported(settings)
    assert not marker.exists()


def test_an_added_file_is_refused(exported, tmp_path: Path) -> None:
    settings, target = exported
    (target / "extra.py").write_text("print('hi')\n")
    with pytest.raises(IntegrityError, match=r"files not in the card's manifest: \['extra.py'\]"):
        load_exported(settings)


def test_a_code_path_is_refused_even_in_a_validly_signed_card(exported, tmp_path: Path) -> None:
    """Whoever holds the signing key still cannot ship a model that imports a code folder."""
    settings, target = exported
    marker = tmp_path / "pwned"
    _inject_code(target, marker)
    card = ModelCard.read(target).model_copy(update={"artifacts": manifest(target)})
    signed = card.model_copy(update={"signature": None}).signed(signing.private_key(PRIVATE))
    (target / "card.json").write_text(signed.to_json())
    with pytest.raises(IntegrityError, match="names a code path"):
        load_exported(settings)
    assert not marker.exists()


def test_a_symlink_in_the_model_folder_is_refused(exported, tmp_path: Path) -> None:
    settings, target = exported
    outside = tmp_path / "outside.pkl"
    outside.write_bytes((target / "model.pkl").read_bytes())
    (target / "model.pkl").unlink()
    (target / "model.pkl").symlink_to(outside)
    with pytest.raises(IntegrityError, match=r"model\.pkl is a symlink"):
        load_exported(settings)


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
    forged = ModelCard.read(target).model_copy(update={"artifacts": manifest(target)})
    resigned = forged.model_copy(update={"signature": None}).signed(
        signing.private_key(OTHER_PRIVATE)  # the attacker's own key
    )
    for card, message in [
        (forged, "card signature does not match"),
        (resigned, "card signature does not match"),
        (forged.model_copy(update={"signature": None}), "card is not signed"),
    ]:
        (target / "card.json").write_text(card.to_json())
        with pytest.raises(IntegrityError, match=message):
            load_exported(settings)
    assert not marker.exists()


def test_without_a_key_hashes_are_still_checked(
    tmp_path: Path, small_pipeline, tiny_records
) -> None:
    settings = _settings(tmp_path)
    target = export_local(settings, small_pipeline, tiny_records, make_card("4"))
    card = ModelCard.read(target)
    assert card.signature is None
    deserialize(target, card, settings)
    (target / "model.pkl").write_bytes(b"\x80\x04N.")  # a valid pickle of None, other bytes
    with pytest.raises(IntegrityError, match="differs from the card's"):
        deserialize(target, card, settings)


@pytest.mark.parametrize(
    ("tracking", "message"),
    [
        ({"signing_key": "not base64!"}, "tracking.signing_key: not base64"),
        ({"signing_key": "c2hvcnQ="}, "an Ed25519 key is 32 bytes, this one is 5"),
        ({"verify_key": "-----BEGIN PUBLIC KEY-----\nxx"}, "tracking.verify_key: not a PEM"),
        (
            {"signing_key": PRIVATE, "verify_key": signing.generate()[1]},
            "verify_key is not the public key of signing_key",
        ),
    ],
)
def test_bad_keys_are_config_errors(tmp_path: Path, tracking, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _settings(tmp_path, **tracking)


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
    key = signing.private_key(PRIVATE)
    escaping = {**real.artifacts, "../../etc/passwd": "0" * 64}
    card = real.model_copy(update={"artifacts": escaping, "signature": None}).signed(key)
    with pytest.raises(IntegrityError, match="leaves the model folder"):
        deserialize(target, card, settings)
    partial = real.model_copy(update={"artifacts": {"other.pkl": "0" * 64}, "signature": None})
    with pytest.raises(IntegrityError, match=r"files not in the card's manifest: \[.*model\.pkl"):
        deserialize(target, partial.signed(key), settings)
