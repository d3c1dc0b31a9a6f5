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

# Invented texts (no corpus text in the repository): an agency story, an outlet's copy of it, another
# story on the same subject, and two "template" stories that share a formula but not their facts.
AGENCY = (
    "صحار 12 نوفمبر 2026 وكالة الأفق\n"
    "أعلنت هيئة الطرق في ولاية صحار أنها أنجزت صيانة أكثر من 214 كيلومتراً من الطرق الداخلية التي تضررت "
    "من السيول الأخيرة، وذلك تنفيذاً لخطة الطوارئ التي أقرها مجلس المحافظة الشهر الماضي.\n"
    "وأوضح المتحدث باسم الهيئة أن فرق الصيانة تواصل أعمالها في جميع الأحياء المتضررة، "
    "وأن حركة السير عادت إلى طبيعتها في معظم الطرق الرئيسية منذ صباح اليوم.\n"
    "وأشار إلى أن الهيئة خصصت جميع معداتها وفرقها الفنية لإنجاز الأعمال بسرعة ودقة، "
    "داعياً السائقين إلى الالتزام بالتحويلات المؤقتة حتى انتهاء الأعمال المتبقية."
)
# An outlet's copy: its own dateline, diacritics, other spellings of alef and teh marbuta, one line cut.
REPUBLISHED = (
    "المرفأ – صحار\n"
    "أَعلنت هيئة الطرق في ولاية صحار أنها أنجزت صيانة أكثر من 214 كيلومترا من الطرق الداخلية التي تضررت "
    "من السيول الاخيرة، وذلك تنفيذا لخطة الطوارئ التي اقرها مجلس المحافظه الشهر الماضي.\n"
    "وأوضح المتحدث باسم الهيئة أن فرق الصيانة تواصل أعمالها في جميع الأحياء المتضررة، "
    "وأن حركة السير عادت إلى طبيعتها في معظم الطرق الرئيسية منذ صباح اليوم.\n"
    "وأشار إلى أن الهيئة خصصت جميع معداتها وفرقها الفنية لإنجاز الأعمال بسرعة ودقة."
)
# Same subject, different story and wording.
OTHER_STORY = (
    "قالت بلدية صحار إنها ستبدأ الأسبوع المقبل حملة لإزالة مخلفات السيول من الأودية القريبة من الأحياء "
    "السكنية، بعد شكاوى متكررة من الأهالي بشأن انسداد مجاري المياه.\n"
    "وأضافت البلدية أن الحملة ستستمر ثلاثة أسابيع بمشاركة المتطوعين، "
    "داعية السكان إلى الإبلاغ عن أي انسداد عبر الرقم المجاني أو تطبيق البلدية على الهواتف الذكية."
)
# A template story: a congratulation cable to another country, same formula, different facts.
CABLE_SINGAPORE = (
    "بعث رئيس مجلس الوزراء برقية تهنئة إلى رئيسة جمهورية أرخبيل المرجان السيدة لينا موراو "
    "بمناسبة العيد الوطني لبلادها. وأعرب رئيس المجلس باسم الحكومة والشعب عن أصدق التهاني "
    "وأطيب التمنيات بالصحة والسعادة لفخامتها ولشعب أرخبيل المرجان الصديق."
)
CABLE_CHAD = (
    "بعث رئيس مجلس الوزراء برقية تهنئة إلى رئيس جمهورية الهضبة الزرقاء السيد أمادو كيتا "
    "بمناسبة ذكرى استقلال بلاده. وأعرب رئيس المجلس عن أصدق التهاني وأطيب التمنيات "
    "بالصحة والسعادة لفخامته وللحكومة والشعب الشقيق بالمزيد من التقدم والازدهار."
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
