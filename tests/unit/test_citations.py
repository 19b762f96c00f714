"""Key details → evidence: cited sentences quoted by the service, and what is still checked."""

from service.analysis.citations import ELLIPSIS, resolve, unsupported_terms
from service.analysis.model import KeyDetail
from service.analysis.sentences import split_sentences

ARTICLE = (
    "Northwind Energy will build a 400-megawatt battery plant in Callowmere, the company said on Tuesday.\n"
    "The project is valued at £310m. Construction starts in March 2027.\n"
    "She said on Tuesday that nine councillors had approved the plan.\n"
    "Chief executive Dana Whitfield said the batteries would store wind power for the evening peak."
)
SENTENCES = split_sentences(ARTICLE)


def detail(
    text: str = "A fact from the article.", sentences: list[int] | None = None, quote: str | None = None
):
    return KeyDetail(text=text, sentences=sentences or [], quote=quote)


def test_cited_sentences_become_verbatim_evidence_with_offsets():
    found = resolve(
        [detail(sentences=[3, 2]), detail(sentences=[5, 1])], SENTENCES, ARTICLE, names_comparable=True
    )
    first, second = found.usable
    assert first.sentences == [2, 3] and first.offsets == [(SENTENCES[1].start, SENTENCES[2].end)]
    assert first.evidence == "The project is valued at £310m. Construction starts in March 2027."
    assert second.sentences == [1, 5]
    assert second.evidence == SENTENCES[0].text + ELLIPSIS + SENTENCES[4].text
    assert all(ARTICLE[a:b] in second.evidence for a, b in second.offsets)
    assert found.checked == 2 and not found.problems


def test_numbers_outside_the_article_are_dropped_and_a_detail_with_none_left_is_unusable():
    found = resolve(
        [detail(sentences=[4, 99]), detail(sentences=[42])], SENTENCES, ARTICLE, names_comparable=True
    )
    assert [d.sentences for d in found.usable] == [[4]]
    assert found.problems == ["key_details[1] cites sentences 42; the article has [S1] to [S5]"]


def test_at_most_three_sentences_are_cited():
    found = resolve([detail(sentences=[1, 2, 3, 4, 5])], SENTENCES, ARTICLE, names_comparable=True)
    assert found.usable[0].sentences == [1, 2, 3]


def test_a_detail_resting_on_sentences_already_cited_is_unusable():
    details = [
        detail(sentences=[1, 2]),
        detail(sentences=[2]),
        detail(sentences=[1, 2]),
        detail(sentences=[2, 3]),
    ]
    found = resolve(details, SENTENCES, ARTICLE, names_comparable=True)
    assert [d.sentences for d in found.usable] == [[1, 2], [2, 3]]
    assert len(found.problems) == 2 and "already cites" in found.problems[0]


def test_a_verbatim_quote_given_instead_of_numbers_is_found_among_the_sentences():
    quoted = detail(quote="the batteries would store wind power for the evening peak")
    wrapped = detail(quote="The article states: 'The project is valued at £310m.'")
    found = resolve([quoted, wrapped], SENTENCES, ARTICLE, names_comparable=True)
    assert [d.sentences for d in found.usable] == [[5], [2]]
    assert found.usable[0].evidence == SENTENCES[4].text


def test_quotes_that_only_look_verbatim_are_refused():
    ellipsis = detail(quote="the … said … that … the")
    neighbour = detail(quote="he said on tuesday that nine councillors")
    invented = detail(quote="Northwind Energy will close the plant next year")
    found = resolve([ellipsis, neighbour, invented], SENTENCES, ARTICLE, names_comparable=True)
    assert not found.usable and len(found.problems) == 3


def test_a_japanese_quote_maps_to_its_sentence():
    article = "東京電力は火曜日、新しい発電所の計画を発表した。完成は2030年の予定だ。"
    sentences = split_sentences(article)
    found = resolve([detail(quote="完成は2030年の予定だ")], sentences, article, names_comparable=False)
    assert found.usable[0].sentences == [2] and found.usable[0].evidence == "完成は2030年の予定だ。"


def test_numbers_names_and_months_missing_from_the_cited_sentences_are_flagged():
    found = resolve(
        [
            detail("The plant is valued at 310 million pounds and starts in March 2027.", [2, 3]),
            detail("Work starts in June 2028 with 450 staff, says Whitfield.", [2, 3]),
            detail("Nine councillors approved the plan, Jane Doe said.", [4]),
        ],
        SENTENCES,
        ARTICLE,
        names_comparable=True,
    )
    assert found.usable[0].unsupported == []
    assert found.problems  # the second rests on the first one's sentences
    assert found.usable[1].unsupported == ["Jane", "Doe"]


def test_names_are_not_compared_across_languages_but_numbers_are():
    evidence = "Die Stadt Köln investiert 40 Millionen Euro in das Netz."
    assert unsupported_terms("Cologne invests 40 million euros in the grid.", evidence, names=False) == []
    assert unsupported_terms("Cologne invests 45 million euros.", evidence, names=False) == ["45"]
    assert unsupported_terms("The city of Cologne invests 40 million euros.", evidence, names=True) == [
        "Cologne"
    ]


def test_thousands_separators_and_number_words_count_as_the_same_number():
    evidence = "More than 1,400 people replied, and nine councillors voted for it."
    assert (
        unsupported_terms("About 1400 replies came in; 9 councillors voted yes.", evidence, names=True) == []
    )


def test_a_list_label_opening_a_detail_is_numbering_not_a_claim():
    evidence = "Northwind Energy builds 400-megawatt plants."
    assert unsupported_terms("2. Northwind Energy builds 400 MW plants.", evidence, names=False) == []
    assert unsupported_terms("Point 3: Northwind builds 5 plants.", evidence, names=False) == ["5"]
    assert unsupported_terms("In 2027 it builds more.", evidence, names=False) == ["2027"]
