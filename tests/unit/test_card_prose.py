"""The model card's prose is the dataset's (data.description, .intended_use, .limitations in
YAML), never obesity text in code: another dataset's card says what that dataset is."""

from __future__ import annotations

from obesity_risk.registry.card import ModelCard
from obesity_risk.registry.card_page import render
from tests.helpers.settings import quiet_settings


def test_the_page_shows_the_cards_own_prose() -> None:
    card = ModelCard(
        name="loans",
        family="lgbm",
        description="Loan defaults from an invented bank.",
        intended_use="Ranking applications for manual review.",
        limitations=["Made-up data."],
    )
    page = render(card)
    for text in ("Loan defaults from an invented bank.", "Ranking applications", "Made-up data."):
        assert text in page
    assert "obesity" not in page.lower() and "bmi" not in page.lower()


def test_a_card_without_prose_says_where_to_set_it() -> None:
    page = render(ModelCard(name="x", family="dt"))
    assert "set data.intended_use" in page and "set data.description" in page


def test_the_obesity_prose_lives_in_the_packaged_yaml() -> None:
    data = quiet_settings().data
    assert "not a diagnosis" in data.intended_use and "synthetic" in data.description
    assert any("BMI" in line for line in data.limitations)
