"""The article's numbered sentences: what the model cites and the service quotes."""

from service.analysis.sentences import MAX_SENTENCE_CHARS, split_sentences


def texts(text: str) -> list[str]:
    return [s.text for s in split_sentences(text)]


def test_offsets_slice_the_text_verbatim_and_numbers_count_from_one():
    text = "Headline line\n\n  First sentence here.  Second one, with “quotes.”  \nLast paragraph."
    sentences = split_sentences(text)
    assert [s.number for s in sentences] == [1, 2, 3, 4]
    assert all(text[s.start : s.end] == s.text for s in sentences)
    assert [s.paragraph for s in sentences] == [0, 1, 1, 2]
    assert sentences[2].text == "Second one, with “quotes.”"


def test_abbreviations_initials_and_decimals_do_not_end_a_sentence():
    assert texts("Mr. Smith met Dr. Jones in the U.S. capital. J. K. Rowling said 2.5 per cent. Fine.") == [
        "Mr. Smith met Dr. Jones in the U.S. capital.",
        "J. K. Rowling said 2.5 per cent.",
        "Fine.",
    ]


def test_german_ordinals_and_abbreviations_stay_inside_the_sentence():
    assert texts("Am 3. Oktober sagte Dr. Müller z. B. etwas. Die Firma wuchs 2025. Das ist gut.") == [
        "Am 3. Oktober sagte Dr. Müller z. B. etwas.",
        "Die Firma wuchs 2025.",
        "Das ist gut.",
    ]


def test_a_lowercase_continuation_is_not_a_new_sentence():
    assert texts("It cost approx. five million. Then it stopped.") == [
        "It cost approx. five million.",
        "Then it stopped.",
    ]


def test_japanese_and_chinese_sentences_end_without_a_space():
    assert texts("東京電力は計画を発表した。完了は2030年の予定だ！「本当に？」と記者は尋ねた。") == [
        "東京電力は計画を発表した。",
        "完了は2030年の予定だ！",
        "「本当に？」と記者は尋ねた。",
    ]
    assert texts("公司周二宣布新计划。计划将于明年完成？") == ["公司周二宣布新计划。", "计划将于明年完成？"]


def test_a_run_without_punctuation_is_cut_into_citable_pieces():
    text = "word " * 400
    sentences = split_sentences(text)
    assert len(sentences) == 4
    assert all(len(s.text) <= MAX_SENTENCE_CHARS and text[s.start : s.end] == s.text for s in sentences)
