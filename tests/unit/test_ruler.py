from services.entities.ner import Mention
from services.entities.ruler import curated_mentions

TEXT = "أعلنت وزارة الدفاع الروسية أن مقاتلي جبهة النصرة ولداعش انسحبوا. وقال المرصد السوري لحقوق الإنسان إن قرغيزيا صامتة."


def spans(mentions: list[Mention]) -> set[tuple[str, str]]:
    return {(m.type, TEXT[m.start:m.end]) for m in mentions}


def test_curated_names_ministries_and_clitics() -> None:
    added, replaced = curated_mentions(TEXT, [])
    assert spans(added) == {("ORG", "وزارة الدفاع الروسية"), ("ORG", "جبهة النصرة"), ("ORG", "داعش"),
                            ("ORG", "المرصد السوري لحقوق الإنسان"), ("LOC", "قرغيزيا")}
    assert replaced == []
    for mention in added:
        assert TEXT[mention.start:mention.end] == mention.text


def test_the_model_keeps_what_it_found_unless_a_curated_name_covers_it() -> None:
    start = TEXT.index("جبهة النصرة")
    model_span = Mention("ORG", start, start + len("جبهة النصرة"), "جبهة النصرة")
    partial_start = TEXT.index("المرصد السوري")
    partial = Mention("ORG", partial_start, partial_start + len("المرصد السوري"), "المرصد السوري")
    added, replaced = curated_mentions(TEXT, [model_span, partial])
    assert ("ORG", "جبهة النصرة") not in spans(added)  # the model already has it: nothing doubled
    assert replaced == [partial] and ("ORG", "المرصد السوري لحقوق الإنسان") in spans(added)
    crossing = TEXT.index("الروسية أن")
    clash = Mention("MISC", crossing, crossing + len("الروسية أن"), "الروسية أن")
    added, _ = curated_mentions(TEXT, [clash])
    assert not any(m.text.startswith("وزارة") for m in added)  # a crossing overlap is left to the model


def test_one_word_names_that_are_also_places_or_common_words_are_left_to_the_model() -> None:
    text = "وصل الوفد إلى برشلونة بعد زيارة القاعدة العسكرية، وأعلن نادي ريال مدريد فوزه."
    added, _ = curated_mentions(text, [])
    found = {(m.type, m.text) for m in added}
    assert ("ORG", "برشلونة") not in found  # the city, as often as the club
    assert ("ORG", "القاعدة") not in found  # "the base"
    assert ("ORG", "ريال مدريد") in found  # a longer name says which it is


def test_a_one_word_organisation_after_a_place_word_is_left_to_the_model() -> None:
    text = "زار الوفد منطقة الأهرام، وكتبت صحيفة الأهرام الخبر."
    found = {(m.type, text[m.start:m.end], m.start) for m in curated_mentions(text, [])[0]}
    newspaper = text.index("الأهرام الخبر")
    assert found == {("ORG", "الأهرام", newspaper)}  # the newspaper, not the pyramids


def test_a_name_written_with_lam_alif_lam_keeps_the_whole_word() -> None:
    text = "استهدفت الغارات مواقع للجيش السوري، وقالت وللأمم المتحدة رأي آخر."
    found = {(m.type, m.text) for m in curated_mentions(text, [])[0]}
    # للجيش is ل + الجيش: no cut of the word reads as the name, so the span keeps it; و comes off.
    assert {("ORG", "للجيش السوري"), ("ORG", "للأمم المتحدة")} <= found
