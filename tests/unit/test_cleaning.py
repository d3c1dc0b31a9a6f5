"""The cleaning core on plain text: synthetic snippets, then the seed articles in ../shared."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from services.common.arabic import normalize_display
from services.ingest.cleaning import CleaningError, clean_text, explain_text, line_fingerprint
from services.ingest.lines import LineKind, classify_line, parse_date

SHARED = Path(__file__).resolve().parents[2].parent / "shared"

TITLE = "افتتاح مستشفى جديد في حمص بسعة مئتي سرير"
PARAGRAPHS = [
    "أعلنت وزارة الصحة اليوم عن افتتاح مستشفى جديد في مدينة حمص يضم مئتي سرير ويخدم سكان الريف الشرقي للمحافظة.",
    "وقال الوزير في مؤتمر صحفي إن المستشفى سيستقبل المرضى ابتداء من الأسبوع المقبل، وإن الكوادر الطبية جاهزة.",
    "وأضاف أن الحكومة تخطط لافتتاح ثلاثة مستشفيات أخرى قبل نهاية العام الحالي في محافظات حماة وإدلب ودير الزور.",
]
BODY = "\n".join(PARAGRAPHS)


def page(*lines: str) -> str:
    """A copied page: blank lines between blocks, as browsers copy them."""
    return "\n\n".join(lines)


# --- body and title ----------------------------------------------------------------------------


def test_clean_article_comes_out_whole_and_in_order() -> None:
    doc = clean_text(page(TITLE, *PARAGRAPHS))
    assert doc.title == TITLE
    assert doc.text == BODY
    assert doc.lead == PARAGRAPHS[0]
    assert doc.language == "ar"
    assert doc.dropped_lines == 0


def test_text_is_display_normalized() -> None:
    noisy = PARAGRAPHS[0].replace("وزارة", "وزا\u200cرة").replace("مستشفى", "مستشفى\u00a0 ")
    doc = clean_text(page(TITLE, noisy, *PARAGRAPHS[1:]))
    assert doc.text == normalize_display(doc.text)
    assert doc.lead == normalize_display(noisy)


def test_subheading_between_paragraphs_is_kept() -> None:
    doc = clean_text(page(TITLE, PARAGRAPHS[0], "خلفية القرار", *PARAGRAPHS[1:]))
    assert doc.text.split("\n") == [PARAGRAPHS[0], "خلفية القرار", *PARAGRAPHS[1:]]


def test_short_last_sentence_before_the_footer_is_kept() -> None:
    last = "ولم تعلق المعارضة على القرار."
    doc = clean_text(page(TITLE, *PARAGRAPHS, last, "اترك تعليقاً", "زر الذهاب إلى الأعلى"))
    assert doc.text.split("\n")[-1] == last


def test_headline_repeated_in_the_body_is_dropped_and_kept_as_title() -> None:
    doc = clean_text(page(TITLE, PARAGRAPHS[0], TITLE, *PARAGRAPHS[1:], TITLE))
    assert doc.title == TITLE
    assert doc.text == BODY
    assert doc.dropped_lines == 2  # two copies; the headline lifted out as title is not boilerplate


def test_headline_printed_twice_below_the_article_is_found() -> None:
    second_story = "أمطار غزيرة تغلق الطرق في ريف اللاذقية"
    doc = clean_text(page(*PARAGRAPHS, TITLE, second_story, TITLE))
    assert doc.title == TITLE
    assert doc.text.startswith(BODY)
    assert TITLE not in doc.text


@pytest.mark.parametrize("label", ["رابط الخبر بصحيفة الواحة: ", "المصدر - ", "اقرأ الخبر كاملا | "])
def test_a_labelled_link_back_to_the_article_is_dropped(label: str) -> None:
    doc = clean_text(page(*PARAGRAPHS, label + TITLE), title_hint=TITLE)
    assert doc.text == BODY
    # A sentence that quotes the headline after a long lead-in is the article's own.
    quoting = "وقال مدير المستشفى في تصريح خاص لمراسلنا بعد الجولة التفقدية: " + TITLE
    assert quoting in clean_text(page(*PARAGRAPHS, quoting), title_hint=TITLE).text


def test_title_hint_wins_and_its_copies_leave_the_body() -> None:
    hint = "الصحة تفتتح مستشفى في حمص"
    doc = clean_text(page(hint, *PARAGRAPHS), title_hint=hint)
    assert doc.title == hint
    assert doc.text == BODY


def test_headline_worded_a_little_differently_from_the_hint_is_lifted_out() -> None:
    doc = clean_text(page(TITLE, *PARAGRAPHS), title_hint=TITLE.replace("بسعة", "يتسع لـ"))
    assert doc.text == BODY


# --- boilerplate kinds -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "menu",
    [
        "× الرئيسية سياسة اقتصاد رياضة ثقافة وفنون منوعات فيديو بودكاست الطقس اتصل بنا",
        "الرئيسية | سياسة | اقتصاد | رياضة | اتصل بنا",
        "الرئيسية › أخبار › سوريا",
    ],
)
def test_navigation_menu_is_dropped(menu: str) -> None:
    doc = clean_text(page(menu, TITLE, *PARAGRAPHS))
    assert doc.title == TITLE
    assert doc.text == BODY


def test_labels_above_the_headline_are_page_header() -> None:
    doc = clean_text(page("شؤون محلية", "بقلم فريق التحرير", TITLE, *PARAGRAPHS))
    assert doc.title == TITLE
    assert doc.text == BODY
    assert doc.dropped_lines == 2


def test_section_names_inside_a_sentence_are_no_menu() -> None:
    sentence = "وتشمل الخطة أخبار الاقتصاد والرياضة والثقافة والفن والتكنولوجيا في نشرة واحدة يومية."
    assert classify_line(sentence).kind is LineKind.PARAGRAPH


@pytest.mark.parametrize("line", ["35", "1,204", "ع ع ع", "A A A", "+أ -أ", "***"])
def test_counters_and_font_size_buttons_are_dropped(line: str) -> None:
    doc = clean_text(page(TITLE, line, *PARAGRAPHS))
    assert line not in doc.text.split("\n")
    assert doc.text == BODY


def test_related_articles_list_at_the_end_is_dropped_with_what_follows() -> None:
    related = [
        "مقالات متعلقة",
        "1. الحكومة تعلن خطة صحية جديدة",
        "2. افتتاح مدرسة في حماة",
        "3. وزير الصحة يزور إدلب",
    ]
    appeal = [
        "الصحافة المستقلة تحتاج إلى دعمكم..",
        "ادعم موقعنا",
        "دولار واحد شهرياً يصنع الفرق",
        "اضغط هنا للمساهمة",
    ]
    doc = clean_text(page(TITLE, *PARAGRAPHS, *related, *appeal))
    assert doc.text == BODY
    assert doc.dropped_lines == len(related) + len(appeal)


def test_read_also_block_inside_the_article_is_dropped_and_the_article_goes_on() -> None:
    inline = ["اقرأ أيضاً", "الحكومة تعلن خطة صحية جديدة", "افتتاح مدرسة في حماة"]
    doc = clean_text(page(TITLE, PARAGRAPHS[0], *inline, *PARAGRAPHS[1:]))
    assert doc.text == BODY


def test_read_also_link_on_one_line_is_dropped() -> None:
    doc = clean_text(page(TITLE, PARAGRAPHS[0], "اقرأ أيضاً: الحكومة تعلن خطة صحية جديدة", *PARAGRAPHS[1:]))
    assert doc.text == BODY


@pytest.mark.parametrize(
    "prompt",
    [
        "لم تشترك بعد",
        "أنشئ حساباً خاصاً بك لتصلك نشراتنا البريدية وتحفظ المقالات التي تهمك",
        "اترك تعليقاً",
        "زر الذهاب إلى الأعلى",
        "شارك: فيسبوك تويتر واتساب",
        "التعليقات (12)",
        "جميع الحقوق محفوظة لموقع المثال 2024",
        "تابعونا على تلغرام",
        "الوسوم: سوريا روسيا تركيا",
        "1.204 مشاهدة",
    ],
)
def test_calls_to_action_are_dropped(prompt: str) -> None:
    doc = clean_text(page(TITLE, *PARAGRAPHS, prompt))
    assert doc.text == BODY


def test_appeal_between_paragraphs_is_dropped_and_the_article_goes_on() -> None:
    doc = clean_text(page(TITLE, PARAGRAPHS[0], "ادعم الصحافة المستقلة", *PARAGRAPHS[1:]))
    assert doc.text == BODY


@pytest.mark.parametrize(
    "sentence",
    [
        "شارك آلاف الأشخاص في المسيرة.",
        "وقال الوزير: «أنا أدعم هذا القرار».",
        "ويتقاضى العامل مئة دولار شهرياً، وهذا يصنع الفرق.",
        "قضايا ذات صلة بالفساد",
        "آخر الأخبار عن مفاوضات جنيف",
        "سمات القيادة في الأزمات",
    ],
)
def test_words_of_prompts_and_headers_inside_sentences_are_kept(sentence: str) -> None:
    doc = clean_text(page(TITLE, PARAGRAPHS[0], sentence, *PARAGRAPHS[1:]))
    assert doc.text.split("\n") == [PARAGRAPHS[0], sentence, *PARAGRAPHS[1:]]


def test_comment_policy_at_the_end_is_dropped() -> None:
    policy = (
        "نرحب بتعليقاتكم، وننصحك بمراجعة إرشادات الاستخدام قبل النشر، ويمكن استخدام مشاركاتك "
        "بما يتوافق مع سياسة الخصوصية."
    )
    doc = clean_text(page(TITLE, *PARAGRAPHS, policy))
    assert doc.text == BODY


def test_dateline_is_dropped_and_read_as_publication_date() -> None:
    doc = clean_text(page(TITLE, "الخميس، 14 آذار/مارس 2019، آخر تحديث 09:15 (GMT+0300)", *PARAGRAPHS))
    assert doc.text == BODY
    assert doc.published_at == "2019-03-14"


def test_wire_copy_opening_and_closing_lines_are_dropped() -> None:
    # An agency story: place, Hijri and Gregorian date and agency above; end marker and time below.
    # Left in, they make every story of the agency share a paragraph.
    opening = "حمص 3 رجب 1446 هـ الموافق 3 يناير 2025 م واس"
    doc = clean_text(page(TITLE, opening, *PARAGRAPHS, "// انتهى //", "14:05 ت م"))
    assert doc.text == BODY
    assert doc.published_at == "2025-01-03"


@pytest.mark.parametrize("line", ["دمشق، 3 آب 2017 (سانا)", "الدوحة 12 مارس 2024 قنا", "(انتهى)"])
def test_other_wire_lines_are_chrome(line: str) -> None:
    assert classify_line(line).kind is LineKind.CHROME


@pytest.mark.parametrize("line", ["افتتح المعرض 10 اغسطس 2015", "انتهى الاجتماع بعد ساعتين من النقاش",
                                  "وقال الوزير إن الاتفاق وقع في 10 اغسطس 2015 بحضور واس"])
def test_sentences_with_dates_or_agency_names_are_no_wire_lines(line: str) -> None:
    assert classify_line(line).kind is not LineKind.CHROME


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("23 حزيران 2017", "2017-06-23"),
        ("٢٣ يونيو ٢٠١٧", "2017-06-23"),
        ("نشر في 2017-06-23 10:00", "2017-06-23"),
        ("23/06/2017", "2017-06-23"),
        ("March 14, 2019", "2019-03-14"),
        ("31 شباط 2017", None),
        ("الجمعة 23 حزيران", None),
    ],
)
def test_parse_date(text: str, iso: str | None) -> None:
    assert parse_date(text) == iso


# --- the oracle, errors, fingerprints ----------------------------------------------------------


def test_known_chrome_oracle_is_honoured_with_display_normalized_lines() -> None:
    tagline = "موقع المثال، صوت المدينة منذ عام 2010"
    asked: list[str] = []

    def is_known_chrome(line: str) -> bool:
        asked.append(line)
        return line == tagline

    raw = page(TITLE, PARAGRAPHS[0], tagline.replace("المدينة", "المديـــنة"), *PARAGRAPHS[1:])
    assert tagline in clean_text(raw).text
    doc = clean_text(raw, is_known_chrome=is_known_chrome)
    assert doc.text == BODY
    assert tagline in asked


def test_known_chrome_below_the_article_starts_the_footer() -> None:
    raw = page(TITLE, *PARAGRAPHS, "موقع المثال", "صوت المدينة منذ عام 2010")
    doc = clean_text(raw, is_known_chrome=lambda line: line == "موقع المثال")
    assert doc.text == BODY


@pytest.mark.parametrize("raw", ["", "   \n\n  ", "35\n\nع ع ع\n\nاشترك الآن\n\nالرئيسية | سياسة | اقتصاد"])
def test_nothing_usable_raises_cleaning_error(raw: str) -> None:
    with pytest.raises(CleaningError):
        clean_text(raw)


def test_headline_without_any_article_raises_cleaning_error() -> None:
    with pytest.raises(CleaningError, match="paragraph"):
        clean_text(page(TITLE, "شاهد الفيديو"))


def test_undecodable_text_raises_cleaning_error() -> None:
    with pytest.raises(CleaningError, match="charset"):
        clean_text("\ufffd\ufffd\ufffd" * 20 + BODY)


def test_cleaning_error_is_a_value_error_with_a_reason() -> None:
    with pytest.raises(ValueError, match=r"\w+"):
        clean_text("")


def test_line_fingerprint_ignores_numbers_spelling_and_punctuation() -> None:
    assert line_fingerprint("35 تعليقاً") == line_fingerprint("36 تعليقا")
    assert line_fingerprint("أخبار ذات صلة:") == line_fingerprint("اخبار ذات صلة")
    assert line_fingerprint("اقرأ أيضاً") != line_fingerprint("اترك تعليقاً")
    assert re.fullmatch(r"[0-9a-f]{16}", line_fingerprint("ع ع ع"))


def test_explain_text_gives_a_reason_for_every_dropped_line() -> None:
    decisions = explain_text(page("35", TITLE, *PARAGRAPHS, "اترك تعليقاً"))
    reasons = {d.text: d.dropped for d in decisions}
    assert reasons["35"] == "counter or symbols"
    assert reasons[TITLE] == "headline"
    assert reasons["اترك تعليقاً"] == "call to action"
    assert all(reasons[p] is None for p in PARAGRAPHS)


# --- the seed articles in ../shared ------------------------------------------------------------

SEEDS = SHARED / "corpus" / "seeds"


def _seed_gold() -> dict[str, dict[str, list[str] | str]]:
    if not (SEEDS / "gold.json").is_file():
        pytest.skip(f"../shared not found: no seed gold at {SEEDS / 'gold.json'}")
    return json.loads((SEEDS / "gold.json").read_text(encoding="utf-8"))["files"]


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@pytest.mark.shared
def test_seed_articles_match_the_gold() -> None:
    """The same judgement as ../shared/tools/seeds_clean.py, on what `marsad clean` prints.

    The article text is in display form by contract (normalize_display), so the gold lines are
    compared in that form too.
    """
    problems = []
    for name, gold in _seed_gold().items():
        doc = clean_text((SEEDS / name).read_text(encoding="utf-8"))
        printed = f"{doc.title}\n\n{doc.text}"
        text = _squash(printed)
        lines = {_squash(line) for line in printed.splitlines() if line.strip()}
        for line in gold["body"]:
            if _squash(normalize_display(line)) not in text:
                problems.append(f"{name}: lost body line {line[:40]!r}")
        for line in gold["boilerplate"]:
            line = _squash(normalize_display(line))
            if line in lines or (len(line) > 20 and line in text):
                problems.append(f"{name}: kept boilerplate {line[:40]!r}")
        if _squash(normalize_display(gold["title"])) not in _squash(doc.title):
            problems.append(f"{name}: title {doc.title[:40]!r}")
    assert not problems, "\n".join(problems)


@pytest.mark.shared
def test_seed_body_lines_come_out_in_order() -> None:
    for name, gold in _seed_gold().items():
        text = clean_text((SEEDS / name).read_text(encoding="utf-8")).text
        positions = [text.find(_squash(normalize_display(line))) for line in gold["body"]]
        assert positions == sorted(positions), name
