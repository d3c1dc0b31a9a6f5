"""The CAMeL BERT backend on a tiny random model in CAMeL's layout: no network, no camel data.

The stock side is the real ``camel_tools.ner.NERecognizer``; the fast one must give its labels.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.entities.bert_backend import (
    LABELS,
    MODEL_ENV,
    CamelModelError,
    FastCamelRecognizer,
    StockCamelRecognizer,
    check_model_dir,
    load_camel_recognizer,
)
from tests.bench.bert_speed import write_camel_model

ROOT = Path(__file__).resolve().parents[2]
RLM = "\u200f"
FATHATAN = "\u064b"  # a lone diacritic: the tokenizer strips it to nothing

SENTENCES: list[list[str]] = [
    ["أعلن", "وزير", "الخارجية", "السعودي", "في", "الرياض", "."],
    ["قال", "محمد", "بن", "سلمان", "إن", "المملكة", "تدعم", "الأمم", "المتحدة", "."],
    ["مصر"],
    [],
    ["", RLM, "القاهرة", FATHATAN, "و", "بغداد", RLM, ""],
    ["والصادرات", "ارتفعت", "بنسبة", "12.5%", "خلال", "العام", "الماضي", "،", "بحسب", "وكالة", "الأنباء", "."],
    ["عبد" + RLM + "الله", "(", "رويترز", ")", "-", "ذكرت", "شركة", "أرامكو", "أن", "الإنتاج", "زاد", "."],
    [*("الحكومة تعمل على خفض التضخم وزيادة الصادرات إلى أوروبا وآسيا".split() * 4), "."],
    [RLM, ""],
]
# Over the 254-subword window the stock featurizer cuts at: labelled in several segments.
LONG_SENTENCE = ("أعلن وزير الخارجية السعودي الأمير فيصل بن فرحان في الرياض اليوم أن المملكة تدعم جهود "
                 "الأمم المتحدة لإنهاء الأزمة في اليمن" .split() * 12) + ["."]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    # Keep the offline catalogue this module writes out of the repository and the user's home.
    saved = {key: os.environ.get(key) for key in ("MARSAD_HOME", "CAMELTOOLS_DATA")}
    os.environ["MARSAD_HOME"] = str(tmp_path_factory.mktemp("marsad-home"))
    if "camel_tools.data" not in sys.modules:
        os.environ["CAMELTOOLS_DATA"] = str(tmp_path_factory.mktemp("empty-camel-data"))
    # A large classifier scale spreads the random logits so that all nine labels occur.
    yield write_camel_model(tmp_path_factory.mktemp("camel") / "arabert", classifier_scale=50.0)
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="module")
def stock(model_dir: Path) -> StockCamelRecognizer:
    return StockCamelRecognizer(model_dir)


@pytest.fixture(scope="module")
def fast(model_dir: Path) -> FastCamelRecognizer:
    return FastCamelRecognizer(model_dir, num_threads=1)


def test_import_without_network_writes_a_local_catalogue(tmp_path: Path) -> None:
    home, data = tmp_path / "home", tmp_path / "camel-data"
    data.mkdir()
    script = (
        "import socket\n"
        "def refuse(*args, **kwargs):\n"
        "    raise OSError('network used')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "from services.entities.bert_backend import ensure_offline_camel_tools\n"
        "path = ensure_offline_camel_tools()\n"
        # camel_tools.ner's only network use is this import (torch/transformers make it slow)
        "from camel_tools.data import CATALOGUE\n"
        "import os\n"
        "assert CATALOGUE.get_dataset('NamedEntityRecognition').name == 'arabert'\n"
        "print(path, os.environ['CAMELTOOLS_DATA'], os.environ['HF_HUB_OFFLINE'])\n"
    )
    env = {**os.environ, "MARSAD_HOME": str(home), "CAMELTOOLS_DATA": str(data)}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    catalogue, folder, offline = done.stdout.split()
    assert Path(catalogue) == home / "camel_data" / "catalogue.json"
    assert folder == str(home / "camel_data") and offline == "1"
    assert "NamedEntityRecognition" in json.loads(Path(catalogue).read_text(encoding="utf-8"))["components"]
    assert not (data / "catalogue.json").exists(), "the user's camel data folder is left alone"


def test_names(stock: StockCamelRecognizer, fast: FastCamelRecognizer) -> None:
    assert (fast.name, stock.name) == ("camel-bert", "camel-bert-stock")


@pytest.mark.parametrize("which", ["stock", "fast"])
def test_one_label_per_token_from_the_nine(which: str, request: pytest.FixtureRequest) -> None:
    recognizer = request.getfixturevalue(which)
    tagged = recognizer.tag([*SENTENCES, LONG_SENTENCE])
    assert [len(labels) for labels in tagged] == [len(s) for s in [*SENTENCES, LONG_SENTENCE]]
    assert {label for labels in tagged for label in labels} <= set(LABELS)
    # Tokens with no subword are not seen by the model: O, and nothing shifts.
    for sentence, labels in zip(SENTENCES, tagged[: len(SENTENCES)], strict=True):
        for word, label in zip(sentence, labels, strict=True):
            if word in ("", RLM, FATHATAN):
                assert label == "O"
    assert recognizer.tag([]) == []
    assert recognizer.tag([[]]) == [[]]


def test_random_model_gives_varied_labels(fast: FastCamelRecognizer) -> None:
    # Otherwise "fast == stock" could hold trivially (e.g. everything O).
    assert len({label for labels in fast.tag([*SENTENCES, LONG_SENTENCE]) for label in labels}) >= 5


def test_fast_cuts_segments_exactly_as_the_stock_featurizer(stock: StockCamelRecognizer,
                                                            fast: FastCamelRecognizer) -> None:
    from camel_tools.ner import NERDataset

    labels = list(stock.recognizer.labels_map.values())
    for sentence in [*SENTENCES, LONG_SENTENCE]:
        features = NERDataset([sentence], stock.recognizer.tokenizer, labels, 256).features
        stock_segments = [
            [int(i) for i, mask in zip(f["input_ids"], f["attention_mask"], strict=True) if mask][1:-1]
            for f in features
        ]
        fast_segments = [ids for ids, _ in fast._segments(sentence)]
        assert fast_segments == stock_segments or (stock_segments == [[]] and fast_segments == [])


def test_long_sentence_is_labelled_in_full(stock: StockCamelRecognizer, fast: FastCamelRecognizer) -> None:
    segments = fast._segments(LONG_SENTENCE)
    assert len(segments) >= 2, "the test sentence must be longer than the window"
    assert sum(len(words) for _, words in segments) == len(LONG_SENTENCE)
    fast_labels = fast.tag([LONG_SENTENCE])[0]
    assert len(fast_labels) == len(LONG_SENTENCE)
    assert fast_labels == stock.tag([LONG_SENTENCE])[0]


def test_fast_gives_the_stock_labels(stock: StockCamelRecognizer, fast: FastCamelRecognizer) -> None:
    batch = [*SENTENCES, LONG_SENTENCE, *SENTENCES[::-1]] * 3
    expected = stock.tag(batch)
    assert fast.tag(batch) == expected
    # Batch composition (and so padding width) does not change a sentence's labels.
    assert [fast.tag([sentence])[0] for sentence in batch[:10]] == expected[:10]
    small = FastCamelRecognizer(fast.model.name_or_path, max_batch_size=2, max_batch_tokens=64)
    assert small.tag(batch) == expected


def test_extract_offsets_slice_back_to_the_mention(fast: FastCamelRecognizer, stock: StockCamelRecognizer) -> None:
    text = ("أعلن وزير الخارجية السعودي الأمير فيصل بن فرحان في الرياض اليوم أن المملكة تدعم جهود الأمم المتحدة.\n"
            "وقال عبد" + RLM + "الله (رويترز) إن شركة أرامكو رفعت إنتاجها بنسبة 12.5% خلال العام الماضي؟ نعم!")
    mentions = fast.extract(text)
    assert mentions, "the random model tags some entities"
    for mention in mentions:
        assert text[mention.start : mention.end] == mention.text
        assert mention.type in {"LOC", "ORG", "PERS", "MISC"}
    assert mentions == stock.extract(text)
    assert fast.extract("   \n") == []


def test_missing_or_malformed_model_dir_is_explained(tmp_path: Path, model_dir: Path) -> None:
    with pytest.raises(CamelModelError, match=r"does not exist.*camel_data -i ner-arabert.*MARSAD_CAMEL_NER_MODEL"):
        FastCamelRecognizer(tmp_path / "nowhere")
    with pytest.raises(CamelModelError, match="does not exist"):
        StockCamelRecognizer(tmp_path / "nowhere")
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "config.json").write_text((model_dir / "config.json").read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(CamelModelError, match=r"lacks vocab\.txt, model\.safetensors or pytorch_model\.bin"):
        FastCamelRecognizer(partial)
    (partial / "vocab.txt").write_text("[PAD]\n", encoding="utf-8")
    (partial / "model.safetensors").write_bytes(b"")
    (partial / "config.json").write_text(json.dumps({"id2label": {"0": "O", "1": "B-PER"}}), encoding="utf-8")
    with pytest.raises(CamelModelError, match="expected CAMeL's"):
        check_model_dir(partial)
    (partial / "config.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(CamelModelError, match=r"config\.json is not"):
        check_model_dir(partial)


def test_load_camel_recognizer_resolves_the_folder(model_dir: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MODEL_ENV, str(model_dir))
    assert load_camel_recognizer(None).name == "camel-bert"
    monkeypatch.setenv(MODEL_ENV, str(tmp_path / "elsewhere"))
    with pytest.raises(CamelModelError, match="elsewhere"):
        load_camel_recognizer(None)
    assert load_camel_recognizer(model_dir).tag([["مصر"]])[0][0] in LABELS
    monkeypatch.delenv(MODEL_ENV)
    monkeypatch.setenv("CAMELTOOLS_DATA", str(tmp_path / "ct"))
    with pytest.raises(CamelModelError, match=r"ct/data/ner/arabert"):
        load_camel_recognizer(None)
