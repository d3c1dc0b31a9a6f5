"""Nationality adjectives tagged alone are dropped after tagging (services.entities.nationality)."""

import pytest

from services.entities.nationality import drop_nationality_adjectives, is_nationality_adjective


@pytest.mark.parametrize("word", ["الروسي", "روسي", "الروسية", "بالروسية", "والعراقي", "الأفغاني", "هندي"])
def test_adjectives_of_listed_countries_are_recognized(word: str) -> None:
    assert is_nationality_adjective(word)


@pytest.mark.parametrize(
    "word",
    [
        "روسيا",  # the country
        "سورية",  # the country, in its -ية spelling
        "وسورية",
        "السعودية",  # a country whose name is an adjective in form
        "كوبي",  # Kobe, a listed city, although Cuba's adjective has the same letters
        "كينيون",  # plurals are left alone: a surname here
        "بوتين",
    ],
)
def test_names_and_plurals_are_not_taken_for_adjectives(word: str) -> None:
    assert not is_nationality_adjective(word)


def test_a_one_word_adjective_span_is_dropped_and_longer_spans_kept() -> None:
    words = ["قال", "وزير", "الخارجية", "الروسي", "إن", "الاتحاد", "الروسي", "وسورية", "اتفقا"]
    tags = ["O", "O", "O", "B-PERS", "O", "B-ORG", "I-ORG", "B-LOC", "O"]
    [fixed] = drop_nationality_adjectives([words], [tags])
    assert fixed == ["O", "O", "O", "O", "O", "B-ORG", "I-ORG", "B-LOC", "O"]


def test_a_one_word_span_that_is_not_an_adjective_is_kept() -> None:
    words = ["التقى", "بوتين", "نظيره", "الروسي"]
    tags = ["O", "B-PERS", "O", "B-LOC"]
    assert drop_nationality_adjectives([words], [tags]) == [["O", "B-PERS", "O", "O"]]
