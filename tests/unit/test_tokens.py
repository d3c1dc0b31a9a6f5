from services.entities.tokens import MAX_SENTENCE_TOKENS, Token, split_sentences, tokenize


def _texts(tokens: list[Token]) -> list[str]:
    return [token.text for token in tokens]


def _assert_exact(text: str, tokens: list[Token]) -> None:
    for token in tokens:
        assert text[token.start : token.end] == token.text


def test_punctuation_quotes_digits_and_latin_are_split_with_exact_offsets() -> None:
    text = "قال «الرئيس» إن 3.5% من سكان دمشق، (نحو 12,000) يستخدمون iPhone 15؟ نعم!"
    tokens = tokenize(text)
    _assert_exact(text, tokens)
    assert _texts(tokens) == [
        "قال", "«", "الرئيس", "»", "إن", "3.5%", "من", "سكان", "دمشق", "،", "(", "نحو", "12,000", ")",
        "يستخدمون", "iPhone", "15", "؟", "نعم", "!",
    ]  # fmt: skip


def test_clitics_stay_attached_and_diacritics_stay_in_the_word() -> None:
    text = "وبالقاهرةِ والصادراتُ"
    assert _texts(tokenize(text)) == ["وبالقاهرةِ", "والصادراتُ"]


def test_format_characters_inside_words_keep_offsets_and_alone_are_dropped() -> None:
    text = "سو\u200fريا \u200f دمشق\u200f"
    tokens = tokenize(text)
    _assert_exact(text, tokens)
    assert _texts(tokens) == ["سو\u200fريا", "دمشق"]


def test_arabic_indic_digits_are_numbers() -> None:
    assert _texts(tokenize("عام ٢٠٠٦.")) == ["عام", "٢٠٠٦", "."]


def test_sentences_split_on_end_marks_and_newlines() -> None:
    text = "وصل الوفد إلى بغداد. هل نجح؟ ربما\nعنوان آخر"
    sentences = split_sentences(tokenize(text), text)
    assert [_texts(s) for s in sentences] == [
        ["وصل", "الوفد", "إلى", "بغداد", "."],
        ["هل", "نجح", "؟"],
        ["ربما"],
        ["عنوان", "آخر"],
    ]


def test_very_long_sentences_are_capped() -> None:
    text = " ".join(["كلمة"] * (2 * MAX_SENTENCE_TOKENS + 5))
    sentences = split_sentences(tokenize(text), text)
    assert [len(s) for s in sentences] == [MAX_SENTENCE_TOKENS, MAX_SENTENCE_TOKENS, 5]
