"""End-to-end run of the training code path on a few hand-written sentences (seconds)."""

import json
from pathlib import Path

import pytest

from services.entities.evaluation import evaluate
from services.entities.ner import NerModel
from services.entities.train import TrainConfig, _smoothed, dev_range, main, repair_bio, split_dev, train

SENTENCES = [
    [("زار", "O"), ("محمد", "B-PERS"), ("علي", "I-PERS"), ("مدينة", "O"), ("حلب", "B-LOC"), (".", "O")],
    [("أعلنت", "O"), ("وزارة", "B-ORG"), ("الصحة", "I-ORG"), ("في", "O"), ("عمان", "B-LOC"), (".", "O")],
    [("وصل", "O"), ("سمير", "B-PERS"), ("إلى", "O"), ("تونس", "B-LOC"), ("بالدولار", "O"), (".", "O")],
    [("قال", "O"), ("بنك", "B-ORG"), ("الخليج", "I-ORG"), ("إن", "O"), ("الدينار", "B-MISC"), (".", "O")],
]


def test_repair_bio() -> None:
    assert repair_bio(["O", "I-LOC", "I-LOC", "I-ORG"]) == ["O", "B-LOC", "I-LOC", "B-ORG"]


def test_dev_blocks_cut_the_file_into_contiguous_blocks_the_last_by_default() -> None:
    assert dev_range(107, 0.1) == range(96, 107) == dev_range(107, 0.1, block=10)
    assert dev_range(107, 0.1, block=1) == range(0, 11)
    assert dev_range(107, 0.1, block=4) == range(33, 44)
    train_part, dev_part = split_dev(list(range(107)), dev_range(107, 0.1, block=4))
    assert dev_part == list(range(33, 44)) and train_part == [*range(33), *range(44, 107)]
    with pytest.raises(ValueError, match="makes 10 blocks"):
        dev_range(107, 0.1, block=11)


def test_epoch_choice_averages_neighbours() -> None:
    f1s = [0.70, 0.78, 0.71, 0.75, 0.76, 0.75]
    # The spike at epoch 2 scores less than the steady stretch around epoch 5.
    assert _smoothed(f1s, 2) < _smoothed(f1s, 5)
    assert _smoothed(f1s, 1) == (0.70 + 0.78) / 2
    assert _smoothed(f1s, 6) == (0.76 + 0.75) / 2


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


def test_evaluation_reports_what_the_weights_saw(tmp_path: Path) -> None:
    data = tmp_path / "tiny.txt"
    data.write_text(
        "\n\n".join("\n".join(f"{w} {t}" for w, t in sentence) for sentence in SENTENCES * 2) + "\n",
        encoding="utf-8",
    )
    seen_file = tmp_path / "seen.txt"
    seen_file.write_text("\n".join(f"{w} {t}" for w, t in SENTENCES[0]) + "\n", encoding="utf-8")
    new_file = tmp_path / "new.txt"
    new_file.write_text("وصل O\nخالد B-PERS\nإلى O\nبيروت B-LOC\n", encoding="utf-8")
    cfg = TrainConfig(epochs=1, dev_fraction=0.25, hidden=8, full=True)
    checkpoint = train(data, tmp_path / "model", cfg, log=lambda _: None)
    model = NerModel.load(tmp_path / "model")

    scores = evaluate(model, seen_file)
    info = scores["model"]
    assert info["trained_on"] == "train+dev"
    assert info["epochs"] == checkpoint["dev"]["epoch"] == 1
    assert info["dev_at_selection"]["f1"] == round(checkpoint["dev"]["f1"], 4)
    assert info["dev_at_selection"]["held_out"] == "last 25% of the training file"
    assert info["sentences_seen_in_training"] == 1
    assert "overstate" in info["warning"]
    assert scores["tokens_per_second"] > 0  # speed is still measured live

    info = evaluate(model, new_file)["model"]
    assert info["sentences_seen_in_training"] == 0
    assert "warning" not in info


def test_bioes_tags_round_trip_and_only_well_formed_paths_are_allowed() -> None:
    from services.entities.model import allowed_transitions, to_bio, to_bioes
    from services.entities.train import TAGS_BIOES

    bio = ["B-PERS", "I-PERS", "I-PERS", "O", "B-LOC", "B-LOC", "I-LOC", "O", "B-ORG"]
    assert to_bioes(bio) == ["B-PERS", "I-PERS", "E-PERS", "O", "S-LOC", "B-LOC", "E-LOC", "O", "S-ORG"]
    assert to_bio(to_bioes(bio)) == bio
    allowed = allowed_transitions(TAGS_BIOES)

    def may(before: str, after: str) -> bool:
        return bool(allowed[TAGS_BIOES.index(before), TAGS_BIOES.index(after)])

    assert may("B-LOC", "E-LOC") and may("I-LOC", "I-LOC") and may("E-LOC", "S-ORG") and may("S-LOC", "O")
    # An open span must go on or end as the same type; nothing ends a span that was never opened.
    assert not may("B-LOC", "O") and not may("I-LOC", "B-ORG") and not may("B-LOC", "E-ORG")
    assert not may("O", "E-LOC") and not may("O", "I-LOC") and not may("S-LOC", "I-LOC")


def test_a_bioes_model_tags_in_bio(tmp_path: Path) -> None:
    data = tmp_path / "tiny.txt"
    data.write_text(
        "\n\n".join("\n".join(f"{w} {t}" for w, t in sentence) for sentence in SENTENCES * 3) + "\n",
        encoding="utf-8",
    )
    train(data, tmp_path / "model", TrainConfig(epochs=2, dev_fraction=0.25, hidden=16, tag_scheme="bioes"),
          log=lambda _: None)
    model = NerModel.load(tmp_path / "model")
    [tags] = model.tag([[word for word, _ in SENTENCES[0]]])
    assert len(tags) == len(SENTENCES[0])
    assert all(tag == "O" or tag[:2] in ("B-", "I-") for tag in tags)


def test_dev_scores_are_those_of_the_shipped_output(monkeypatch) -> None:
    from types import SimpleNamespace

    import services.entities.train as training
    from services.entities.features import Vocabs
    from services.entities.gazetteer import default_gazetteer

    # Model selection scores what NerModel.tag returns: the RLM mark hidden from the network,
    # then consistency and the person-name repairs.
    sentence = ["قال", "\u200f", "ماركو", "فان", "باستن", "."]
    gold = ["O", "O", "B-PERS", "I-PERS", "I-PERS", "O"]
    dev = training._Dev([(sentence, gold)], Vocabs.build([sentence]), default_gazetteer())
    seen: list = []

    def predict(model, encoded, tags):
        seen.extend(len(item) for item in encoded)
        return [["O", "B-PERS", "B-PERS", "I-PERS", "O"]]

    monkeypatch.setattr(training, "predict", predict)
    raw, shipped = training._dev_scores(SimpleNamespace(config=SimpleNamespace(tags=[])), dev, 20)
    assert seen == [5]
    assert raw["f1"] == 0.0
    assert shipped["f1"] == 1.0


def test_averaged_weights_are_the_mean_of_each_tensor() -> None:
    import torch

    import services.entities.train as training

    states = [{"w": torch.tensor([1.0, 2.0])}, {"w": torch.tensor([3.0, 6.0])}]
    assert torch.equal(training._mean_state(states)["w"], torch.tensor([2.0, 4.0]))
    assert training._mean_state(states[:1]) is states[0]


def test_the_averaged_window_holds_the_last_epochs() -> None:
    import services.entities.train as training

    history: list = []
    for epoch in range(1, 9):
        history = training._last(history, {"epoch": epoch}, 5)
        assert [state["epoch"] for state in history] == list(range(max(1, epoch - 4), epoch + 1))
    assert training._last(history, {"epoch": 9}, 1) == [{"epoch": 9}]


def test_ner_eval_scores_a_model_trained_without_the_dev_block(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from services.common.cli import app
    new = [
        [("وصل", "O"), ("خالد", "B-PERS"), ("إلى", "O"), ("بيروت", "B-LOC")],
        [("غادر", "O"), ("سمير", "B-PERS"), ("بغداد", "B-LOC"), (".", "O")],
    ]
    data = tmp_path / "tiny.txt"
    data.write_text(
        "\n\n".join("\n".join(f"{w} {t}" for w, t in sentence) for sentence in SENTENCES + new) + "\n",
        encoding="utf-8",
    )
    dev, model = tmp_path / "dev.txt", tmp_path / "model"
    main(["--data", str(data), "--out", str(model), "--no-full", "--epochs", "1", "--hidden", "8",
          "--dev-fraction", "0.34", "--dev-out", str(dev)])
    assert dev.read_text(encoding="utf-8").split() == [part for s in new for pair in s for part in pair]

    result = CliRunner().invoke(app, ["ner-eval", str(dev), "--model", str(model)])
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert scores["model"]["trained_on"] == "train"
    assert scores["model"]["sentences_seen_in_training"] == 0
    assert scores["tokens"] == 8 and 0.0 <= scores["f1"] <= 1.0

    missing = CliRunner().invoke(app, ["ner-eval", str(dev), "--model", str(tmp_path / "nowhere")])
    assert missing.exit_code == 1
    assert "not found" in missing.stderr


def test_another_dev_block_can_be_held_out_for_a_cross_validated_estimate(tmp_path: Path, capsys) -> None:
    data = tmp_path / "tiny.txt"
    data.write_text(
        "\n\n".join("\n".join(f"{w} {t}" for w, t in sentence) for sentence in SENTENCES * 2) + "\n",
        encoding="utf-8",
    )
    dev, model = tmp_path / "dev.txt", tmp_path / "model"
    main(["--data", str(data), "--out", str(model), "--no-full", "--epochs", "1", "--hidden", "8",
          "--dev-fraction", "0.25", "--dev-block", "2", "--dev-out", str(dev)])
    assert dev.read_text(encoding="utf-8").split() == [part for s in SENTENCES[2:4] for pair in s for part in pair]
    assert "6 train / 2 dev sentences (dev = block 2: sentences 3-4)" in capsys.readouterr().out
    info = NerModel.load(model).provenance([])
    assert info["dev_at_selection"]["held_out"] == "block 2 of the training file (25% of its sentences)"

    with pytest.raises(SystemExit):
        main(["--data", str(data), "--dev-fraction", "0.25", "--dev-block", "5"])
    assert "--dev-block must be from 1 to 4" in capsys.readouterr().err
