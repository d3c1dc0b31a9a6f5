"""Near-duplicate signatures: pure, no Redis."""

from __future__ import annotations

from datasketch import MinHashLSH

from services.ingest.near_duplicates import (
    DEFAULT_THRESHOLD,
    NearDuplicateIndex,
    estimated_jaccard,
    minhash,
    shingles,
)

AGENCY = (
    "الرياض 25 شوال 1436 هـ الموافق 10 اغسطس 2015 م واس\n"
    "أعلنت المديرية العامة للجوازات أنها أنهت تصحيح أوضاع أكثر من 439 ألف مقيم يمني في مختلف مناطق المملكة، "
    "وذلك تنفيذاً للأمر الملكي القاضي بتصحيح أوضاع الأشقاء اليمنيين المقيمين بصورة غير نظامية.\n"
    "وأوضح المتحدث الرسمي للمديرية العامة للجوازات أن لجان التصحيح تواصل أعمالها في جميع المناطق، "
    "وأن المراجعين يستقبلون يومياً من الساعة الثامنة صباحاً حتى الرابعة عصراً طوال أيام الأسبوع.\n"
    "وأشار إلى أن المديرية سخرت جميع إمكاناتها البشرية والتقنية لإنجاز المعاملات بسرعة ودقة، "
    "داعياً من لم يراجع بعد إلى المبادرة بمراجعة أقرب لجنة قبل انتهاء المهلة المحددة."
)
# An outlet's copy: its own dateline, diacritics, other spellings of alef and teh marbuta, one line cut.
REPUBLISHED = (
    "عين اليوم – الرياض\n"
    "أَعلنت المديريّة العامة للجوازات أنها أنهت تصحيح أوضاع أكثر من 439 ألف مقيم يمني في مختلف مناطق المملكه، "
    "وذلك تنفيذا للامر الملكي القاضي بتصحيح أوضاع الأشقاء اليمنيين المقيمين بصورة غير نظامية.\n"
    "وأوضح المتحدث الرسمي للمديرية العامة للجوازات أن لجان التصحيح تواصل أعمالها في جميع المناطق، "
    "وأن المراجعين يستقبلون يومياً من الساعة الثامنة صباحاً حتى الرابعة عصراً طوال أيام الأسبوع.\n"
    "وأشار إلى أن المديرية سخرت جميع إمكاناتها البشرية والتقنية لإنجاز المعاملات بسرعة ودقة."
)
# Same subject, different story and wording.
OTHER_STORY = (
    "قالت وزارة العمل إنها ستبدأ الأسبوع المقبل حملات تفتيش على المنشآت التي تشغل عمالاً تحت أشعة الشمس "
    "في ساعات الظهيرة، مخالفة بذلك قرار حظر العمل في الأماكن المكشوفة خلال أشهر الصيف.\n"
    "وأضافت الوزارة أن المخالفين سيعاقبون بغرامات مالية وإغلاق المنشأة في حال تكرار المخالفة، "
    "داعية العمال إلى الإبلاغ عن أي مخالفة عبر الرقم المجاني أو تطبيق الوزارة على الهواتف الذكية."
)
# A template story: a royal cable to another country, same formula, different facts.
CABLE_SINGAPORE = (
    "بعث خادم الحرمين الشريفين الملك سلمان بن عبدالعزيز آل سعود برقية تهنئة لفخامة الرئيس توني تان "
    "رئيس جمهورية سنغافورة بمناسبة ذكرى اليوم الوطني لبلاده. وأعرب الملك المفدى باسمه واسم شعب وحكومة "
    "المملكة العربية السعودية عن أصدق التهاني وأطيب التمنيات بالصحة والسعادة لفخامته ولشعب سنغافورة الصديق."
)
CABLE_CHAD = (
    "بعث خادم الحرمين الشريفين الملك سلمان بن عبدالعزيز آل سعود برقية تهنئة لفخامة الرئيس إدريس ديبي "
    "رئيس جمهورية تشاد بمناسبة ذكرى استقلال بلاده. وأعرب الملك المفدى عن أصدق التهاني وأطيب التمنيات "
    "بالصحة والسعادة لفخامته وللحكومة والشعب التشادي الشقيق المزيد من التقدم والازدهار."
)


def test_shingles_fold_spelling_and_diacritics() -> None:
    assert shingles("أَعلنت المديريّة العامة للجوازات اليوم") == shingles("اعلنت المديريه العامه للجوازات اليوم")
    assert shingles("كلمة واحدة") == {"كلمه واحده"}
    assert shingles("  ،،  ") == set()
    assert len(shingles("one two three four five six")) == 2


def test_signatures_are_deterministic_and_pure() -> None:
    first, second = minhash(AGENCY), minhash(AGENCY)
    assert (first.hashvalues == second.hashvalues).all()
    assert len(first.hashvalues) == 128
    assert minhash("").is_empty()


def test_a_republished_agency_story_is_a_near_duplicate() -> None:
    similarity = estimated_jaccard(minhash(AGENCY).hashvalues, minhash(REPUBLISHED).hashvalues)
    assert similarity >= DEFAULT_THRESHOLD, similarity


def test_different_stories_are_not() -> None:
    assert estimated_jaccard(minhash(AGENCY).hashvalues, minhash(OTHER_STORY).hashvalues) < 0.1
    template = estimated_jaccard(minhash(CABLE_SINGAPORE).hashvalues, minhash(CABLE_CHAD).hashvalues)
    assert template < DEFAULT_THRESHOLD, template


def test_bands_are_datasketchs_choice_for_the_threshold() -> None:
    index = NearDuplicateIndex("redis://127.0.0.1:1/0", "t:", threshold=0.6, num_perm=128)
    lsh = MinHashLSH(threshold=0.6, num_perm=128)
    assert (index.bands, index.rows) == (lsh.b, lsh.r)
    keys = index.band_keys(minhash(AGENCY))
    assert len(keys) == index.bands == len(set(keys))
    assert all(key.startswith("t:nd:band:") for key in keys)
    # A near duplicate shares at least one band with the original: that is what makes it a candidate.
    assert set(keys) & set(index.band_keys(minhash(REPUBLISHED)))
