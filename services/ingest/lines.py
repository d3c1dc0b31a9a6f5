"""Judge one line of a copied news page: article prose, a headline, or page chrome.

A page copied from the web mixes the article with the site around it: menus, counters,
share and font-size buttons, subscription and donation prompts, "related articles" lists.
Those lines have a recognisable *shape* (few words, no sentence punctuation, digits only, a
list marker) and a small, stable *vocabulary* (calls to action addressed to the reader,
section names), and that is all this module looks at. It sees one line at a time; whatever
depends on the neighbours (the headline repeated in the body, a related-articles block, the
page footer) is decided in :mod:`services.ingest.cleaning`.

Lines are expected in display form (:func:`services.common.arabic.normalize_display`). Every
pattern here is compiled once, at import, and matched against a cheap folded copy of the
line (:func:`fold`), so that no per-line call into camel-tools is needed.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from dataclasses import dataclass

__all__ = [
    "Chrome",
    "LineInfo",
    "LineKind",
    "classify_line",
    "fold",
    "headline_key",
    "is_dateline",
    "is_notice",
    "parse_date",
]


class LineKind(enum.Enum):
    PARAGRAPH = "paragraph"  # prose: ends like a sentence, or is too long to be anything else
    HEADING = "heading"  # a few words, no closing stop: headline, sub-heading, caption, byline
    RELATED = "related"  # "related articles" and the like: what follows are other stories
    CHROME = "chrome"  # page furniture that is never part of an article


class Chrome(enum.StrEnum):
    """Why a line is page chrome; the value is the reason reported for a dropped line."""

    SYMBOLS = "counter or symbols"
    FONT_BUTTONS = "font-size buttons"
    COPYRIGHT = "copyright"
    READ_ALSO = "read-also link"
    TAGS = "tags"
    BUTTONS = "buttons"
    CALL_TO_ACTION = "call to action"
    MENU = "navigation menu"
    DATELINE = "date line"
    END_MARKER = "end-of-story marker"
    LONE_WORD = "lone word"

    @property
    def also_inside_articles(self) -> bool:
        """Separators ("***", ".") and one-word labels also stand between an article's lines."""
        return self in (Chrome.SYMBOLS, Chrome.LONE_WORD)


@dataclass(frozen=True, slots=True)
class LineInfo:
    text: str
    kind: LineKind
    reason: Chrome | None  # why the line is chrome; None for every other kind
    words: int  # whitespace-separated tokens
    list_item: bool  # starts with "1." / "-" / "•": an entry of a list, often a list of links

    @property
    def key(self) -> str:
        """:func:`headline_key` of the text, to spot the same headline printed twice."""
        return headline_key(self.text)

    @property
    def title_shaped(self) -> bool:
        """Could this line be the article's headline?"""
        return self.kind is LineKind.HEADING and 3 <= self.words <= 25 and not self.list_item


# --- folding ---------------------------------------------------------------------------------

# The same folds as services.common.arabic.normalize_for_matching (diacritics, alef forms,
# alef maksura, teh marbuta) plus Arabic-Indic digits, done with one str.translate.
_FOLD_TABLE = str.maketrans(
    {
        **dict.fromkeys(range(0x064B, 0x0660)),  # harakat, tanween, shadda, sukun, small marks
        0x0670: None,  # superscript alef
        0x0640: None,  # tatweel
        "أ": "ا",
        "إ": "ا",
        "آ": "ا",
        "ٱ": "ا",
        "ى": "ي",
        "ة": "ه",
        **{chr(0x0660 + d): str(d) for d in range(10)},  # ٠١٢…
        **{chr(0x06F0 + d): str(d) for d in range(10)},  # ۰۱۲… (Persian forms)
    }
)


def fold(text: str) -> str:
    """Fold spelling variants and digits so that patterns match however the site wrote a word."""
    return text.translate(_FOLD_TABLE).lower()


_NON_WORD = re.compile(r"[\W_]+")


def headline_key(text: str) -> str:
    """Compare headlines without their punctuation, diacritics or spelling variants."""
    return _NON_WORD.sub(" ", fold(text)).strip()


def _word_set(words: str) -> frozenset[str]:
    """A vocabulary written as one space-separated string, folded like the lines it will meet."""
    return frozenset(fold(words).split())


def _phrases(*phrases: str) -> re.Pattern[str]:
    """Compile whole-word phrases, written naturally and folded like the lines they will meet.

    A trailing ``*`` lets the last word take any ending (تعليق* matches تعليقا, تعليقك).
    """
    alternatives = []
    for phrase in sorted({fold(p) for p in phrases}, key=len, reverse=True):
        stem = phrase.endswith("*")
        words = phrase.rstrip("*").split()
        alternatives.append(r"\s+".join(map(re.escape, words)) + (r"\w*" if stem else ""))
    return re.compile(rf"(?<!\w)(?:{'|'.join(alternatives)})(?!\w)")


# --- shape ---------------------------------------------------------------------------------

_WORD = re.compile(r"[^\W_]+")
_LETTER = re.compile(r"[^\W\d_]")
# A sentence ends with a stop (or a colon introducing a quote), maybe inside closing quotes.
# An ellipsis (".." "..." "…") does not: it trails teasers and slogans, not news prose.
_STOP = re.compile(r"(?<!\.)[.:۔][\s»\"”’')\]]*$")
_QUESTION_OR_EXCLAMATION = re.compile(r"[!?؟][\s»\"”’')\]]*$")
_LIST_MARKER = re.compile(r"^(?:\(?\d{1,3}[.)\-–]|[-–—•·▪●◦*])\s+")
_BUTTON_MARKS = re.compile(r"[+\-−–]")
_MENU_GLYPH = re.compile(r"^[×✕✖☰≡▼▾⌂]")
_MENU_SEPARATORS = re.compile(r"\s[|•·›>]\s|\s»\s")

# Long enough that no headline reaches it: prose even without a final stop.
_PARAGRAPH_WORDS = 20
# Headers, buttons and prompts are short; matching their vocabulary in longer lines would hit prose.
_SHORT_LINE_WORDS = 6
_PROMPT_LINE_WORDS = 25
_SHARE_LINE_WORDS = 10
_DATELINE_MAX_WORDS = 15


# --- vocabulary ----------------------------------------------------------------------------

# Prompts addressed to the reader, specific enough to judge any line of prompt length.
_CALL_TO_ACTION = _phrases(
    # subscriptions, accounts, newsletters
    "لم تشترك بعد", "اشترك في النشرة*", "اشترك في نشرتنا*", "النشرة البريدية", "نشرتنا*", "نشراتنا*",
    "أنشئ حساب*", "انشئ حساب*", "سجّل دخولك", "أدخل بريدك*", "بريدك الإلكتروني",
    # donations
    "ساهم معنا", "ساهموا معنا", "تبرع عبر*",
    # links and apps
    "اضغط هنا", "انقر هنا", "اضغط على الرابط", "اقرأ القصة كاملة", "حمل التطبيق", "حمّل تطبيق*",
    "نزل التطبيق", "تابعونا على", "تابعنا على", "انضم إلى قناتنا*", "قناتنا على", "صفحتنا على",
    # comments
    "اترك تعليق*", "أضف تعليق*", "اكتب تعليق*", "لا توجد تعليقات", "كن أول من يعلق", "شاركنا رأيك",
    "أضف رأيك", "عدد التعليقات",
    # sharing, printing
    "شارك الخبر", "شارك المقال", "شارك هذا*", "انشر على", "أرسل لصديق", "أرسل إلى صديق",
    "طباعة المقال", "طباعة الخبر", "نسخ الرابط", "تم نسخ الرابط", "حفظ المقال",
    # page furniture
    "زر الذهاب إلى الأعلى", "الذهاب إلى الأعلى", "العودة إلى الأعلى", "العودة للأعلى",
    "الانتقال إلى المحتوى", "تخطى إلى المحتوى", "جميع الحقوق محفوظة", "كل الحقوق محفوظة",
    "حقوق النشر محفوظة", "وقت القراءة", "دقائق للقراءة", "دقيقة للقراءة", "دقائق قراءة",
    "محتوى إعلاني", "مساحة إعلانية", "إعلان ممول", "حجم الخط", "تكبير الخط", "تصغير الخط",
    "all rights reserved", "read more", "sign up", "subscribe",
)  # fmt: skip

# Prompts that a sentence may also say: "ادعم" (support!) folds like "أدعم" (I support), and
# "يصنع الفرق" is said of players too. Judged only on short lines that end without a stop.
_SHORT_CALL_TO_ACTION = _phrases(
    "ادعم", "ادعمنا", "ادعموا", "تبرع الآن", "تبرع لنا", "اشترك الآن", "اشترك مجانا", "يصنع الفرق",
    "تصنع الفرق", "تابعونا", "تابعنا", "سجل الدخول", "اقرأ المزيد", "شاهد المزيد",
)  # fmt: skip

# Words that make up buttons and share rows. A line made only of them (and numbers) is a
# button; the words alone are ordinary in a sentence (شارك "share" / "took part").
_BUTTON_WORDS = _word_set(
    "اشترك اشتركوا للاشتراك الاشتراك شارك شاركها مشاركة طباعة اطبع التعليقات تعليقات تعليق علق "
    "المقال الخبر الصفحة هذا هذه "
    "إعلان اعلان إعلانات تبرع المزيد أعجبني إعجاب حفظ إرسال أرسل بريد نسخ الرابط رابط عبر على "
    "مشاهدة مشاهدات قراءة قراءات زيارة زيارات "
    "فيسبوك فيس بوك تويتر إكس واتساب واتس اب تيليجرام تلغرام تليغرام لينكدإن لينكد إن انستغرام "
    "إنستغرام يوتيوب ماسنجر advertisement share print comments comment subscribe facebook "
    "twitter x whatsapp telegram linkedin email e mail messenger pinterest reddit copy link"
)

# Headers of blocks that list other stories.
_RELATED = _phrases(
    "مقالات متعلقة", "مقالات ذات صلة", "أخبار ذات صلة", "أخبار متعلقة", "مواضيع ذات صلة",
    "مواضيع متعلقة", "موضوعات ذات صلة", "موضوعات متعلقة", "مواد ذات صلة", "روابط ذات صلة",
    "قصص ذات صلة", "محتوى ذو صلة", "ذات صلة", "اقرأ أيضا", "إقرأ أيضا", "اقرأ كذلك", "شاهد أيضا",
    "طالع أيضا", "قد يهمك", "قد يعجبك", "ربما يهمك", "ننصحك بقراءة", "اخترنا لك", "المزيد من الأخبار",
    "أخبار أخرى", "مقالات أخرى", "مقالات مشابهة", "أخبار مشابهة", "الأكثر قراءة", "الأكثر مشاهدة",
    "الأكثر تداولا", "الأكثر تعليقا", "الأكثر شعبية", "آخر الأخبار", "أحدث الأخبار", "محتوى مقترح",
    "related articles", "related stories", "read also", "more stories", "you may also like",
)  # fmt: skip
_RELATED_HEADER = re.compile(rf"^\W*(?:{_RELATED.pattern})")
_RELATED_INLINE = re.compile(rf"^\W*(?:{_RELATED.pattern})\s*[:：|\-–»]")
_RELATED_HEADER_EXTRA_WORDS = 2  # "الأكثر قراءة اليوم", "قد يهمك أيضا"; more is a headline

# A row of tags: "الوسوم: سوريا روسيا". سمات and مواضيع are ordinary words too, so only before a colon.
_TAG_HEADERS = _phrases("الوسوم", "وسوم", "الكلمات المفتاحية", "كلمات مفتاحية", "الكلمات الدلالية", "tags")
_TAG_HEADERS_BEFORE_COLON = _phrases("سمات", "مواضيع", "الموضوعات")
_TAGS = re.compile(rf"^\W*(?:{_TAG_HEADERS.pattern}|(?:{_TAG_HEADERS_BEFORE_COLON.pattern})\s*[:：])")

# Section names of Arabic news sites: a line made mostly of them is a menu.
_SECTION_NAMES = _word_set(
    "الرئيسية الصفحة أخبار الأخبار اقتصاد الاقتصاد سياسة السياسة رياضة الرياضة ثقافة الثقافة "
    "فن فنون الفن منوعات تكنولوجيا التكنولوجيا تقنية علوم صحة الصحة رأي الرأي آراء مقالات "
    "المقالات فيديو الفيديو صور الصور ملتيميديا تقارير التقارير تحقيقات حوارات تحليل تحليلات "
    "محليات محلي عربي دولي عالمي العالم إقليمي مجتمع المجتمع سياحة سيارات المرأة أسرة "
    "بودكاست إنفوجرافيك انفوغراف كاريكاتير مدونات أرشيف الأرشيف اتصل بنا نحن مباشر "
    "الطقس النسخة الورقية خدمات عاجل المزيد english"
)

# Comment policies and legal notices. Articles about privacy may use one of these phrases;
# a notice uses several, and the document level only drops such lines at the very end.
_NOTICE = _phrases(
    "سياسة الخصوصية", "شروط الاستخدام", "شروط استخدام", "إرشادات الاستخدام", "الآراء الواردة",
    "لا تعبر عن رأي", "تعبر عن رأي", "وجهات نظر أصحابها", "التعليقات", "تعليقك", "تعليقاتكم",
    "مشاركاتك", "المحتوى المنشور", "حقوق النشر", "إعادة النشر",
)  # fmt: skip


# --- dates ---------------------------------------------------------------------------------

_MONTH_NAMES = (
    ("يناير", "كانون الثاني", "جانفي", "january", "jan"),
    ("فبراير", "فبرير", "شباط", "فيفري", "february", "feb"),
    ("مارس", "آذار", "march", "mar"),
    ("أبريل", "إبريل", "نيسان", "أفريل", "april", "apr"),
    ("مايو", "أيار", "ماي", "may"),
    ("يونيو", "يونيه", "حزيران", "جوان", "june", "jun"),
    ("يوليو", "يوليه", "تموز", "جويلية", "يوليوز", "july", "jul"),
    ("أغسطس", "آب", "أوت", "غشت", "august", "aug"),
    ("سبتمبر", "أيلول", "شتنبر", "september", "sept", "sep"),
    ("أكتوبر", "تشرين الأول", "october", "oct"),
    ("نوفمبر", "تشرين الثاني", "نونبر", "november", "nov"),
    ("ديسمبر", "كانون الأول", "دجنبر", "december", "dec"),
)
_MONTHS = {fold(name): number for number, names in enumerate(_MONTH_NAMES, start=1) for name in names}
_MONTH = "|".join(r"\s+".join(map(re.escape, m.split())) for m in sorted(_MONTHS, key=len, reverse=True))
_DAY_MONTH_YEAR = re.compile(
    rf"(?<!\d)(?P<day>\d{{1,2}})\s*[-/.,،]?\s*(?P<month>{_MONTH})(?:\s*[/\-]\s*(?:{_MONTH}))?(?!\w)"
    rf"\s*[-/.,،]?\s*(?P<year>\d{{4}})(?!\d)"
)  # "14 آذار/مارس 2019", "23 حزيران، 2017"
_MONTH_DAY_YEAR = re.compile(
    rf"(?<!\w)(?P<month>{_MONTH})\.?\s+(?P<day>\d{{1,2}}),?\s+(?P<year>\d{{4}})(?!\d)"
)
_YEAR_MONTH_DAY = re.compile(r"(?<!\d)(?P<year>\d{4})[-/.](?P<month>\d{1,2})[-/.](?P<day>\d{1,2})(?!\d)")
# Digits only: day first, as Arabic sites write them.
_DAY_MONTH_YEAR_DIGITS = re.compile(
    r"(?<!\d)(?P<day>\d{1,2})[-/.](?P<month>\d{1,2})[-/.](?P<year>\d{4})(?!\d)"
)
_DATE_PATTERNS = (_DAY_MONTH_YEAR, _MONTH_DAY_YEAR, _YEAR_MONTH_DAY, _DAY_MONTH_YEAR_DIGITS)

# Everything a dateline may say besides the date: "الخميس، 14 آذار 2019، آخر تحديث 09:15 (GMT+0300)".
_DATELINE_WORDS = _phrases(
    *_MONTHS, "الأحد", "الاثنين", "الإثنين", "الثلاثاء", "الأربعاء", "الخميس", "الجمعة", "السبت",
    "يوم", "آخر تحديث", "اخر تحديث", "تحديث", "محدث", "نشر", "نشر في", "تاريخ النشر", "بتاريخ",
    "منذ", "قبل", "ساعة", "ساعات", "ساعتين", "دقيقة", "دقائق", "دقيقتين", "ثانية", "ثوان", "يومين",
    "أيام", "أسبوع", "أسابيع", "شهر", "أشهر", "سنة", "ص", "م", "صباحا", "مساء", "مساءً", "ظهرا",
    "بتوقيت", "توقيت", "غرينتش", "جرينتش", "مكة المكرمة", "مكة", "القدس", "الموافق", "هـ", "ميلادي",
    "محرم", "صفر", "ربيع الأول", "ربيع الآخر", "ربيع الثاني", "جمادى الأولى", "جمادى الآخرة",
    "رجب", "شعبان", "رمضان", "شوال", "ذو القعدة", "ذو الحجة",
    "gmt", "utc", "am", "pm", "updated", "published", "ت م", "ت غ",
)  # fmt: skip
_DIGIT = re.compile(r"\d")
_CLOCK = re.compile(r"\d{1,2}:\d{2}(?::\d{2})?")
# Wire copy opens with place, date and agency: "بريدة 25 شوال 1436 هـ الموافق 10 اغسطس 2015 م واس",
# "دمشق، 3 آب 2017 (سانا)". The place is any short name, so the agency or the double Hijri/Gregorian
# date must be there too; a sentence with a date in it has neither.
_AGENCIES = _phrases(
    "واس", "رويترز", "ا ف ب", "أ ف ب", "أ.ف.ب", "ا ش ا", "أ ش أ", "د ب أ", "يو بي آي", "قنا", "وام", "كونا",
    "بنا", "سبأ", "سانا", "الأناضول", "ومع", "واج", "بترا", "العمانية", "وكالات",
)  # fmt: skip
_WIRE_PLACE_MAX_WORDS = 3
_WIRE_OPENING = re.compile(rf"^\W*(?:[^\W\d_]+\W*){{0,{_WIRE_PLACE_MAX_WORDS}}}\d")  # the place, then the date
_LETTERS_ONLY = re.compile(r"[^\W\d_]+")
# "// انتهى //", "(انتهى)", "-انتهى-": the agency's end of story.
_END_MARKER = re.compile(rf"^\W*{fold('انتهى')}\W*$")


def _iso_date(match: re.Match[str]) -> str | None:
    month = match["month"]
    number = int(month) if month.isdigit() else _MONTHS[" ".join(month.split())]
    year = int(match["year"])
    if not 1990 <= year <= 2100:
        return None
    try:
        return dt.date(year, number, int(match["day"])).isoformat()
    except ValueError:
        return None


def parse_date(text: str) -> str | None:
    """The first full calendar date written in ``text`` (Arabic, Levantine, Maghrebi or Latin
    month names, or digits), as ISO 8601 ``YYYY-MM-DD``."""
    folded = fold(text)
    found = []
    for pattern in _DATE_PATTERNS:
        dates = ((match.start(), _iso_date(match)) for match in pattern.finditer(folded))
        if first := next((date for date in dates if date[1]), None):
            found.append(first)
    return min(found)[1] if found else None


def is_notice(text: str) -> bool:
    """Reads like a comment policy or a legal notice (chrome when it trails the article)."""
    return len(set(_NOTICE.findall(fold(text)))) >= 2


def is_dateline(text: str) -> bool:
    """Only a date, a time, a weekday and words like "updated" or "ago": nothing to read."""
    return _is_dateline(fold(text))


def _is_dateline(folded: str) -> bool:
    if "%" in folded or not _DIGIT.search(folded):
        return False  # "الأحد 24/10 (55-70%)" is a table row
    rest = _DATELINE_WORDS.sub(" ", _CLOCK.sub(" ", folded))
    return not _LETTER.search(rest) or _is_wire_dateline(folded, rest)


def _is_wire_dateline(folded: str, rest: str) -> bool:
    """A place, a full date and the agency (or the date twice, Hijri and Gregorian)."""
    if parse_date(folded) is None:
        return False
    has_agency = bool(_AGENCIES.search(rest))
    if not has_agency and fold("الموافق") not in folded:
        return False
    place = _LETTERS_ONLY.findall(_AGENCIES.sub(" ", rest))
    return len(place) <= _WIRE_PLACE_MAX_WORDS and bool(_WIRE_OPENING.match(folded))


# --- the classifier ------------------------------------------------------------------------


def _chrome_reason(line: str, folded: str, n: int, stops: bool, list_item: bool) -> Chrome | None:
    """Why a line of ``n`` tokens is page furniture, or None. Cheapest and surest tests first."""
    if not _LETTER.search(folded):
        return Chrome.SYMBOLS  # "35", "|", "…", a share count
    if "©" in line:
        return Chrome.COPYRIGHT
    if n > _PROMPT_LINE_WORDS:  # prose length: only a long run of section names is still chrome
        return Chrome.MENU if not stops and _looks_like_menu(line, folded) else None
    if 2 <= n <= _SHORT_LINE_WORDS and all(len(_BUTTON_MARKS.sub("", t)) <= 1 for t in line.split()):
        return Chrome.FONT_BUTTONS  # "ع ع ع", "A A A", "+أ -أ"
    inline = _RELATED_INLINE.match(folded)
    if inline and _WORD.search(folded, inline.end()):
        return Chrome.READ_ALSO  # "اقرأ أيضاً: <another story>"
    if not stops and _TAGS.match(folded):
        return Chrome.TAGS
    # A list item made of the same words is content: "2. فيسبوك ماسنجر" in a list of apps.
    if n <= _SHARE_LINE_WORDS and not list_item and _only_buttons(folded):
        return Chrome.BUTTONS
    if _CALL_TO_ACTION.search(folded) or (
        n <= _SHORT_LINE_WORDS and not stops and _SHORT_CALL_TO_ACTION.search(folded)
    ):
        return Chrome.CALL_TO_ACTION
    if not stops and _looks_like_menu(line, folded):
        return Chrome.MENU
    if n <= _DATELINE_MAX_WORDS and _is_dateline(folded):
        return Chrome.DATELINE
    if _END_MARKER.match(folded):
        return Chrome.END_MARKER
    return None


def _is_related_header(folded: str) -> bool:
    """A header such as «مقالات ذات صلة» or «اقرأ أيضاً:», not a headline like «آخر الأخبار عن …»."""
    header = _RELATED_HEADER.match(folded)
    return bool(header) and len(_WORD.findall(folded, header.end())) <= _RELATED_HEADER_EXTRA_WORDS


def _only_buttons(folded: str) -> bool:
    """Buttons only: «شارك», «التعليقات (3)», «شارك المقال: فيسبوك تويتر واتساب»."""
    return all(w in _BUTTON_WORDS or w.isdigit() for w in _WORD.findall(folded))


def _looks_like_menu(line: str, folded: str) -> bool:
    padded = f" {line} "
    if len(_MENU_SEPARATORS.findall(padded)) >= 2:
        segments = _MENU_SEPARATORS.split(padded)
        if sum(len(s.split()) for s in segments) / len(segments) <= 3:
            return True  # "الرئيسية | سياسة | اقتصاد", breadcrumbs "الرئيسية › أخبار › سوريا"
    words = _WORD.findall(folded)
    if len(words) < 3:
        return False
    # "وفنون" is the menu entry "فنون" after a conjunction ("ثقافة وفنون").
    names = {w for w in words if w in _SECTION_NAMES or (w[:1] == "و" and w[1:] in _SECTION_NAMES)}
    hits = len(names) + (2 if _MENU_GLYPH.match(line) else 0)
    return hits >= 4 and hits >= 0.3 * len(words)


def classify_line(line: str) -> LineInfo:
    """Describe one non-empty, display-normalized line."""
    n = len(line.split())
    stops = bool(_STOP.search(line))
    list_item = bool(_LIST_MARKER.match(line))
    if stops and n > _PROMPT_LINE_WORDS and "©" not in line and _LETTER.search(line):
        # Long and ending like a sentence: prose, the most common line, judged without folding.
        return LineInfo(line, LineKind.PARAGRAPH, None, n, list_item)
    folded = fold(line)
    reason = _chrome_reason(line, folded, n, stops, list_item)
    if reason is not None:
        kind = LineKind.CHROME
    elif n <= _SHORT_LINE_WORDS and _is_related_header(folded):
        kind = LineKind.RELATED
    elif n == 1 and not stops:
        kind, reason = LineKind.CHROME, Chrome.LONE_WORD  # a section label, a button, a photo credit
    elif stops or n >= _PARAGRAPH_WORDS or (n > 15 and _QUESTION_OR_EXCLAMATION.search(line)):
        kind = LineKind.PARAGRAPH
    else:
        kind = LineKind.HEADING
    return LineInfo(line, kind, reason, n, list_item)
