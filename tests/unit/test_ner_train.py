"""End-to-end run of the training code path on a few hand-written sentences (seconds)."""

from pathlib import Path

from services.entities.ner import NerModel
from services.entities.train import TrainConfig, repair_bio, train

SENTENCES = [
    [("زار", "O"), ("محمد", "B-PERS"), ("علي", "I-PERS"), ("مدينة", "O"), ("حلب", "B-LOC"), (".", "O")],
    [("أعلنت", "O"), ("وزارة", "B-ORG"), ("الصحة", "I-ORG"), ("في", "O"), ("عمان", "B-LOC"), (".", "O")],
    [("وصل", "O"), ("سمير", "B-PERS"), ("إلى", "O"), ("تونس", "B-LOC"), ("بالدولار", "O"), (".", "O")],
    [("قال", "O"), ("بنك", "B-ORG"), ("الخليج", "I-ORG"), ("إن", "O"), ("الدينار", "B-MISC"), (".", "O")],
]


def test_repair_bio() -> None:
    assert repair_bio(["O", "I-LOC", "I-LOC", "I-ORG"]) == ["O", "B-LOC", "I-LOC", "B-ORG"]


def test_tiny_training_run_writes_a_loadable_model(tmp_path: Path) -> None:
    data = tmp_path / "tiny.txt"
    data.write_text(
        "\n\n".join("\n".join(f"{w} {t}" for w, t in sentence) for sentence in SENTENCES * 3) + "\n",
        encoding="utf-8",
    )
    lines: list[str] = []
    cfg = TrainConfig(epochs=2, dev_fraction=0.25, hidden=16, full=True)
    checkpoint = train(data, tmp_path / "model", cfg, log=lines.append)
    assert any(line.startswith("epoch  2") for line in lines)
    assert any(line.startswith("retraining on all 12 sentences") for line in lines)
    assert 0.0 <= checkpoint["dev"]["f1"] <= 1.0
    model = NerModel.load(tmp_path / "model")
    [tags] = model.tag([["زار", "سمير", "حلب", "."]])
    assert len(tags) == 4


def test_training_is_deterministic(tmp_path: Path) -> None:
    data = tmp_path / "tiny.txt"
    data.write_text(
        "\n\n".join("\n".join(f"{w} {t}" for w, t in sentence) for sentence in SENTENCES * 2) + "\n",
        encoding="utf-8",
    )
    cfg = TrainConfig(epochs=1, dev_fraction=0.25, hidden=8)
    first = train(data, None, cfg, log=lambda _: None)["state_dict"]
    second = train(data, None, cfg, log=lambda _: None)["state_dict"]
    assert first.keys() == second.keys()
    assert all(first[name].equal(second[name]) for name in first)
