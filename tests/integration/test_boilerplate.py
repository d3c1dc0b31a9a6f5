"""Per-source boilerplate learning against a real valkey-server, and the cleaner using it."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from services.common.redis_store import Keys
from services.ingest.boilerplate import BoilerplateModel, chrome_oracle, document_lines
from services.ingest.cleaning import clean_text, line_fingerprint
from tests.conftest import shared_path

pytestmark = pytest.mark.integration

DAY = 86400
MENU = ["الرئيسية", "محليات", "اقتصاد", "رياضة", "كتاب وآراء"]
FOOTER = [
    "اشترك في النشرة البريدية لتصلك أهم الأخبار يومياً على بريدك الإلكتروني مجاناً ودون أي رسوم",
    "جميع الحقوق محفوظة لصحيفة المرصد 2015",
    "تابعونا على تويتر",
]
STORIES = [
    ("أمانة جدة تغلق 12 مطعماً مخالفاً",
     ["أغلقت أمانة محافظة جدة اثني عشر مطعماً في أحياء متفرقة بعد ضبط مخالفات صحية خلال جولات تفتيشية مكثفة نفذتها فرق الرقابة.",
      "وقال المتحدث باسم الأمانة إن الجولات ستستمر طوال الصيف وإن العقوبات تشمل الغرامة والإغلاق المؤقت للمنشآت المخالفة."]),
    ("ارتفاع أسعار الخضار في أسواق الرياض",
     ["شهدت أسواق الخضار في الرياض ارتفاعاً ملحوظاً في أسعار الطماطم والبطاطس خلال الأسبوع الجاري بسبب تراجع الكميات الواردة.",
      "وأرجع تجار في السوق المركزي الارتفاع إلى موجة الحر التي أثرت على الإنتاج المحلي في عدد من المزارع."]),
    ("النصر يتعاقد مع مدافع برازيلي",
     ["أعلن نادي النصر تعاقده مع مدافع برازيلي لمدة موسمين قادماً من الدوري البرتغالي بعد اجتيازه الفحص الطبي بنجاح.",
      "وأكد رئيس النادي أن الصفقة تأتي ضمن خطة تدعيم الخط الخلفي قبل انطلاق الموسم الجديد بأسابيع قليلة."]),
    ("تدشين مشروع لتحلية المياه في ينبع",
     ["دشن أمير المنطقة مشروعاً جديداً لتحلية المياه في ينبع بطاقة إنتاجية تصل إلى مئة ألف متر مكعب يومياً.",
      "ويهدف المشروع إلى تلبية الطلب المتزايد على المياه في المحافظة والقرى المجاورة لها خلال السنوات المقبلة."]),
]


def page(n: int, comments: int = 35) -> str:
    title, body = STORIES[n]
    # The comment counter changes from page to page; its fingerprint does not.
    return "\n".join([*MENU, title, *body, f"{comments + n} تعليقاً", *FOOTER])


@pytest.fixture
def keys() -> Keys:
    return Keys(f"t{uuid.uuid4().hex[:8]}:")


def model_at(client, keys: Keys, now: list[float]) -> BoilerplateModel:  # type: ignore[no-untyped-def]
    return BoilerplateModel(client, keys, min_articles=3, window_days=7, clock=lambda: now[0])


async def process(model: BoilerplateModel, source: str, article_id: str, text: str):  # type: ignore[no-untyped-def]
    """What the ingest worker does: snapshot, clean with the oracle, learn."""
    lines = document_lines(text)
    chrome = await model.snapshot(source, lines)
    cleaned = clean_text(text, is_known_chrome=chrome_oracle(chrome))
    await model.learn(source, article_id, lines)
    return chrome, cleaned


async def test_menu_and_footer_are_learnt_after_three_articles_body_never(client, keys: Keys) -> None:  # type: ignore[no-untyped-def]
    model = model_at(client, keys, [time.time()])
    chrome_fps = {line_fingerprint(line) for line in [*MENU, *FOOTER, "35 تعليقاً"]}
    seen = []
    for n in range(4):
        chrome, _ = await process(model, "outlet", f"a{n}", page(n))
        seen.append(chrome)
    assert seen[0] == seen[1] == set()  # one or two articles: nothing recurs enough yet
    assert seen[2] == chrome_fps  # the third article is the third to carry them
    assert seen[3] == chrome_fps
    body = {line_fingerprint(line) for _, lines in STORIES for line in lines}
    assert not body & set().union(*seen)
    # Another outlet has learnt nothing.
    assert await model.snapshot("elsewhere", document_lines(page(0))) == set()


async def test_the_cleaner_drops_learnt_chrome_and_keeps_the_body(client, keys: Keys) -> None:  # type: ignore[no-untyped-def]
    model = model_at(client, keys, [time.time()])
    for n in range(3):
        await process(model, "outlet", f"a{n}", page(n))
    _, cleaned = await process(model, "outlet", "a3", page(3))
    title, body = STORIES[3]
    assert cleaned.title == title
    assert cleaned.text.split("\n") == body


async def test_the_same_article_twice_never_makes_chrome(client, keys: Keys) -> None:  # type: ignore[no-untyped-def]
    model = model_at(client, keys, [time.time()])
    text = page(0)
    for _ in range(5):  # redeliveries
        chrome, _ = await process(model, "outlet", "a0", text)
        assert chrome == set()
    # The same text under another id (a second URL for one story) is not counted again either.
    assert not await model.learn("outlet", "a0-copy", document_lines(text))
    chrome, _ = await process(model, "outlet", "a1", page(1))
    assert chrome == set()


async def test_a_redelivered_article_is_cleaned_as_the_first_time(client, keys: Keys) -> None:  # type: ignore[no-untyped-def]
    model = model_at(client, keys, [time.time()])
    await process(model, "outlet", "a0", page(0))
    first, cleaned_first = await process(model, "outlet", "a1", page(1))
    again, cleaned_again = await process(model, "outlet", "a1", page(1))
    assert first == again == set()
    assert cleaned_first == cleaned_again


async def test_a_line_repeated_inside_one_article_counts_once(client, keys: Keys) -> None:  # type: ignore[no-untyped-def]
    model = model_at(client, keys, [time.time()])
    await model.learn("outlet", "a0", ["تحديث", "نص أول", "تحديث", "تحديث"])
    await model.learn("outlet", "a1", ["تحديث", "نص ثان"])
    assert await model.snapshot("outlet", ["تحديث", "نص ثالث"]) == {line_fingerprint("تحديث")}
    assert await model.snapshot("outlet", ["نص ثالث"]) == set()


async def test_counts_leave_the_window_and_keys_expire(client, keys: Keys) -> None:  # type: ignore[no-untyped-def]
    now = [time.time()]
    model = model_at(client, keys, now)
    await model.learn("outlet", "a0", [*MENU, "نص أول"])
    await model.learn("outlet", "a1", [*MENU, "نص ثان"])
    assert await model.snapshot("outlet", MENU) == {line_fingerprint(line) for line in MENU}
    stored = [key async for key in client.scan_iter(match=keys.prefix + "*")]
    assert stored
    for key in stored:
        assert 0 < await client.ttl(key) <= 7 * DAY, key
    now[0] += 7 * DAY  # a week later the two articles are out of the window
    assert await model.snapshot("outlet", MENU) == set()


async def test_seed_articles_keep_their_gold_body(client, keys: Keys) -> None:  # type: ignore[no-untyped-def]
    """The five seed pages learnt as one outlet, twice over: no gold body line becomes chrome."""
    seeds = shared_path("corpus", "seeds")
    gold = json.loads((seeds / "gold.json").read_text(encoding="utf-8"))["files"]
    model = model_at(client, keys, [time.time()])
    texts = {name: (seeds / name).read_text(encoding="utf-8") for name in sorted(gold)}
    for _ in range(2):
        for name, text in texts.items():
            await model.learn("seeds", name, document_lines(text))
    for name, text in texts.items():
        chrome = await model.snapshot("seeds", document_lines(text))
        body = {line_fingerprint(line) for line in gold[name]["body"]}
        assert not body & chrome, name
