from pathlib import Path

import pytest

from services.entities.ner import DEFAULT_MODEL_PATH, Mention, NerModel, default_model

SAMPLE_FEED = Path(__file__).resolve().parents[2] / "services" / "ingest" / "sample_feed"

pytestmark = pytest.mark.skipif(
    not DEFAULT_MODEL_PATH.exists(), reason=f"no shipped model at {DEFAULT_MODEL_PATH}"
)

SENTENCE = "وقال وزير الخارجية المصري في القاهرة إن الأمم المتحدة أرسلت وفدا إلى دمشق ."


def test_shipped_model_finds_obvious_entities() -> None:
    words = SENTENCE.split()
    [tags] = default_model().tag([words])
    assert len(tags) == len(words)
    tagged = dict(zip(words, tags, strict=True))
    assert tagged["القاهرة"] == "B-LOC"
    assert tagged["دمشق"] == "B-LOC"
    # ANERcorp convention: titles and ministry names are O, international bodies ORG.
    assert tags[words.index("الأمم") : words.index("المتحدة") + 1] == ["B-ORG", "I-ORG"]
    assert tagged["وقال"] == "O"


def test_one_tag_per_token_even_for_empty_and_invisible_tokens() -> None:
    sentences = [["في", "", "القاهرة", "\u200f", "."], [], [""], ["\u200f", "\u200f"]]
    tagged = default_model().tag(sentences)
    assert [len(tags) for tags in tagged] == [5, 0, 1, 2]
    assert tagged[0][1] == tagged[0][3] == "O"
    assert tagged[2] == ["O"]
    assert all(tag == "O" or tag[:2] in ("B-", "I-") for tags in tagged for tag in tags)


def test_extract_offsets_slice_back_to_text() -> None:
    text = "أعلن الرئيس الفرنسي جاك شيراك في باريس أن «الأمم المتحدة» ستعقد اجتماعا.\nوزارة الدفاع\u200f ترد."
    mentions = default_model().extract(text)
    assert mentions, "expected some entities"
    for mention in mentions:
        assert isinstance(mention, Mention)
        assert mention.type in ("LOC", "ORG", "PERS", "MISC")
        assert text[mention.start : mention.end] == mention.text
    assert ("LOC", "باريس") in {(m.type, m.text) for m in mentions}


def test_default_model_is_cached() -> None:
    assert default_model() is default_model()


def test_load_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not found"):
        NerModel.load(tmp_path / "missing.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not a readable NER model"):
        NerModel.load(bad)


def test_shipped_model_records_its_held_out_dev_scores() -> None:
    info = default_model().provenance([["في", "القاهرة", "."]])
    assert info["trained_on"] in ("train", "train+dev")
    assert 0.5 < info["dev_at_selection"]["f1"] <= 1.0
    assert info["epochs"] >= 1


def test_tag_repairs_person_name_boundaries(monkeypatch: pytest.MonkeyPatch) -> None:
    import services.entities.ner as ner

    # Whatever the network says, a name it cut in two comes out whole (names.fix_person_names).
    monkeypatch.setattr(ner, "predict", lambda *_: [["O", "B-PERS", "B-PERS", "I-PERS", "O"]])
    [tags] = default_model().tag([["قال", "ماركو", "فان", "باستن", "."]])
    assert tags == ["O", "B-PERS", "I-PERS", "I-PERS", "O"]


def test_the_int8_tagger_gives_the_float_tagger_s_labels(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch
    import trafilatura

    from services.entities import model as model_module
    from services.entities.features import encode
    from services.entities.tokens import split_sentences, tokenize

    shipped = default_model()
    checkpoint = torch.load(DEFAULT_MODEL_PATH, map_location="cpu", weights_only=True)
    float_tagger = model_module.Tagger(model_module.ModelConfig(**checkpoint["config"]))
    float_tagger.load_state_dict(checkpoint["state_dict"])
    quantized = model_module.for_inference(float_tagger)
    assert isinstance(quantized.lstm, torch.ao.nn.quantized.dynamic.LSTM)
    assert type(float_tagger.lstm) is torch.nn.LSTM  # the float model is left as it was
    # The sample feed's articles: a few thousand tokens of news. Rounding may flip a borderline
    # token (ولي [العهد السعودي]), as on 28 of ANERcorp's 125k training tokens, and no more.
    sentences = []
    for page in sorted(SAMPLE_FEED.rglob("*.html")):
        text = trafilatura.extract(page.read_text(encoding="utf-8")) or ""
        sentences += [[token.text for token in sentence] for sentence in split_sentences(tokenize(text), text)]
    encoded = [encode(words, shipped.vocabs, shipped.gazetteer) for words in sentences]
    tags = shipped.tags
    by_float = model_module.predict(float_tagger, encoded, tags)
    by_int8 = model_module.predict(quantized, encoded, tags)
    tokens = sum(map(len, sentences))
    differing = sum(a != b for x, y in zip(by_int8, by_float, strict=True) for a, b in zip(x, y, strict=True))
    assert tokens > 2000 and sum(tag != "O" for row in by_float for tag in row) > 100
    assert differing <= tokens // 200

    def gone(*args, **kwargs):
        raise RuntimeError("quantized engine unavailable")

    monkeypatch.setattr(torch.ao.quantization, "quantize_dynamic", gone)
    fallback = model_module.for_inference(float_tagger)
    assert fallback is not float_tagger and type(fallback.lstm) is torch.nn.LSTM  # a float copy
    assert model_module.predict(fallback, encoded, tags) == model_module.predict(float_tagger, encoded, tags)
