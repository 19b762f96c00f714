"""The labelled article set of ``bench.models``: original news articles written for this
project (MIT, like the rest of the repository; the texts are ``bench/data/model_articles/``)
about invented places, companies and people, so that a model cannot answer from memory and
every fact can be checked against the text.

English, German and Japanese; most are short (150-300 words, or 400-700 characters of
Japanese) so a 1.5 B model on two CPU cores gets through the set in reasonable time; ``long``
marks the real-length ones. Labels: the language, and the names a good card mentions (an
entity the card lists "finds" a label when either contains the other, case-folded).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cached_property
from pathlib import Path

TEXTS = Path(__file__).parent / "data" / "model_articles"


@dataclass(frozen=True)
class BenchArticle:
    key: str
    language: str
    title: str
    site_name: str
    url: str
    published: date
    names: tuple[str, ...]
    """Entities the article is about: the labels a card's entities are scored against."""
    long: bool = False

    @cached_property
    def text(self) -> str:
        """The article's text: ``bench/data/model_articles/<key>.txt``, paragraphs by blank lines."""
        return (TEXTS / f"{self.key}.txt").read_text(encoding="utf-8").strip()

    @property
    def length(self) -> str:
        """Words, or characters for Japanese (written without spaces)."""
        return f"{len(self.text)} chars" if self.language == "ja" else f"{len(self.text.split())} words"


ARTICLES: tuple[BenchArticle, ...] = (
    BenchArticle(
        key="en-tram",
        language="en",
        title="Marlow Heath council approves tram extension to the hospital",
        site_name="Marlow Heath Gazette",
        url="https://gazette.example/news/tram-extension-approved",
        published=date(2026, 11, 18),
        names=("Marlow Heath", "Denise Okafor", "Northline Transit", "St Brannock's Hospital"),
    ),
    BenchArticle(
        key="en-recall",
        language="en",
        title="Voltaro recalls 22,000 e-bike batteries after overheating reports",
        site_name="Consumer Desk",
        url="https://consumerdesk.example/recalls/voltaro-batteries",
        published=date(2026, 11, 20),
        names=("Voltaro", "Ines Falk", "Product Safety Office", "Ridgeway Cells"),
    ),
    BenchArticle(
        key="de-verkehr",
        language="de",
        title="Verkehrsverbund Oberland erhöht Ticketpreise um 6,5 Prozent",
        site_name="Oberland Rundschau",
        url="https://rundschau.example/region/ticketpreise-2027",
        published=date(2026, 11, 19),
        names=("Verkehrsverbund Oberland", "Martina Keller", "Talbach"),
    ),
    BenchArticle(
        key="ja-library",
        language="ja",
        title="北浜市、新中央図書館を来年4月に開館へ",
        site_name="北浜日報",
        url="https://kitahama-nippo.example/news/library-2027",
        published=date(2026, 11, 17),
        names=("北浜市", "小野寺真理子", "北浜駅"),
    ),
    BenchArticle(
        key="en-grid",
        language="en",
        title="Heatwave pushed Calder Valley grid to the edge, report finds",
        site_name="Energy Ledger",
        url="https://energyledger.example/grid/calder-heatwave-report",
        published=date(2026, 11, 21),
        names=(
            "Calder Valley",
            "Calder Grid Authority",
            "Tomasz Wierzbicki",
            "Harrow Point",
            "Ellis Institute",
        ),
        long=True,
    ),
    BenchArticle(
        key="de-hochwasser",
        language="de",
        title="Flussdeiche an der Lenne werden für 74 Millionen Euro erneuert",
        site_name="Lennetal Kurier",
        url="https://lennetal-kurier.example/region/deiche-lenne",
        published=date(2026, 11, 16),
        names=("Lenne", "Jonas Albrecht", "Brückstadt", "Landesamt für Umwelt"),
        long=True,
    ),
    BenchArticle(
        key="ja-factory",
        language="ja",
        title="精密部品の三ツ森工業、東浦町に新工場　300人を雇用",
        site_name="中部経済ウィークリー",
        url="https://chubu-keizai.example/industry/mitsumori-higashiura",
        published=date(2026, 11, 19),
        names=("三ツ森工業", "東浦町", "田辺浩一"),
        long=True,
    ),
)

SHORT = tuple(a.key for a in ARTICLES if not a.long)
BY_KEY = {a.key: a for a in ARTICLES}
