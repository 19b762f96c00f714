"""Which card prose reads as another language than the one asked (service.analysis.language)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from service.analysis.language import MIN_READING_LENGTH, reads_as, wrong_language_fields

ENGLISH = (
    "Thyssenkrupp Steel Europe will build a hydrogen direct-reduction plant in Duisburg-Hamborn "
    "with Siemens Energy; the Bundesregierung pays part of the cost and the Landtag approved it."
)


def card(**fields: str) -> SimpleNamespace:
    prose = {
        name: ENGLISH
        for name in ("summary", "eli5", "analysis", "impact", "optimistic_outlook", "pessimistic_outlook")
    }
    details = [SimpleNamespace(text="The plant makes 2.5 million tonnes of steel a year.")] * 3
    return SimpleNamespace(**{**prose, "key_details": details, **fields})


def test_english_naming_foreign_institutions_and_places_is_english():
    assert reads_as(ENGLISH, "en") is None
    assert (
        reads_as(
            "Toyota's Tahara plant in Aichi Prefecture (愛知県田原市) will cut output by a third "
            "as the company moves lines to batteries next spring, its union said.",
            "en",
        )
        is None
    )
    assert wrong_language_fields(card()) == {}


@pytest.mark.parametrize(
    ("text", "seen"),
    [
        (
            "Die Stadtwerke Kornfeld bauen bis 2028 einen Batteriespeicher mit 200 Megawatt. Der Stadtrat "
            "hat den Plänen am 3. Oktober mit großer Mehrheit zugestimmt.",
            "de",
        ),
        ("北浜電力は火曜日、旧石炭火力発電所の跡地に大型蓄電池施設を建設すると発表した。", "ja"),
        ("北滨电力周二宣布，将在旧燃煤电厂的旧址上建设大型储能设施，总投资约四百亿日元。", "zh"),
        (
            "Les autorités ont annoncé une hausse des prix de l'énergie pour l'hiver prochain, "
            "a déclaré le ministre mardi soir.",
            "fr",
        ),
    ],
)
def test_prose_in_another_language_is_named(text: str, seen: str):
    assert reads_as(text, "en") == seen
    assert wrong_language_fields(card(analysis=text)) == {"analysis": seen}


def test_text_too_short_to_tell_is_not_checked():
    short = "Der Stadtrat stimmt zu."
    assert len(short) < MIN_READING_LENGTH and reads_as(short, "en") is None


def test_key_details_are_checked_together():
    german = [SimpleNamespace(text=t) for t in (
        "Das Projekt kostet rund 140 Millionen Euro.",
        "Der Stadtrat hat am 3. Oktober zugestimmt.",
        "Anwohner befürchten mehr Lastwagenverkehr während der Bauzeit.",
    )]  # fmt: skip
    assert all(reads_as(d.text, "en") is None for d in german)  # each alone is too short
    assert wrong_language_fields(card(key_details=german)) == {"key_details": "de"}


def test_the_asked_language_is_the_one_checked():
    german = "Die Stadtwerke Kornfeld bauen bis 2028 einen Batteriespeicher mit 200 Megawatt für die Stadt."
    assert reads_as(german, "de") is None and reads_as(ENGLISH, "de") == "en"
