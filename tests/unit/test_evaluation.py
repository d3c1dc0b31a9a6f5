from pathlib import Path

import pytest

from services.entities.evaluation import chunks, conll_scores, evaluate, read_conll


def test_chunks_follow_conlleval_rules() -> None:
    assert chunks(["B-PERS", "I-PERS", "O", "B-LOC"]) == [(0, 2, "PERS"), (3, 4, "LOC")]
    # I- without B- opens a chunk; I- of another type closes the previous one and opens its own.
    assert chunks(["O", "I-ORG", "I-ORG", "I-LOC"]) == [(1, 3, "ORG"), (3, 4, "LOC")]
    assert chunks(["B-LOC", "B-LOC"]) == [(0, 1, "LOC"), (1, 2, "LOC")]


def test_perfect_prediction() -> None:
    gold = [["B-PERS", "I-PERS", "O", "B-LOC"]]
    scores = conll_scores(gold, gold)
    assert scores["precision"] == scores["recall"] == scores["f1"] == 1.0


def test_hand_computed_case() -> None:
    gold = [
        ["B-PERS", "I-PERS", "O", "B-LOC", "O"],
        ["B-ORG", "I-ORG", "I-ORG", "O", "B-MISC"],
    ]
    pred = [
        ["B-PERS", "I-PERS", "O", "B-ORG", "O"],  # PERS right; LOC predicted as ORG: 1 FP + 1 FN
        ["B-ORG", "I-ORG", "O", "O", "I-MISC"],  # ORG span too short: wrong; I-MISC alone = right MISC
    ]
    scores = conll_scores(gold, pred)
    # gold chunks 4, predicted 4, correct 2 (PERS, MISC)
    assert scores["precision"] == pytest.approx(2 / 4)
    assert scores["recall"] == pytest.approx(2 / 4)
    assert scores["f1"] == pytest.approx(0.5)
    per = scores["per_type"]
    assert per["PERS"]["f1"] == 1.0
    assert per["MISC"]["f1"] == 1.0
    assert per["LOC"]["recall"] == 0.0 and per["LOC"]["precision"] == 0.0
    assert per["ORG"]["precision"] == 0.0  # 2 predicted ORG chunks, none exact
    assert per["ORG"]["support"] == 1


def test_partial_and_split_spans_count_as_errors() -> None:
    gold = [["B-ORG", "I-ORG", "I-ORG"]]
    pred = [["B-ORG", "I-ORG", "B-ORG"]]
    scores = conll_scores(gold, pred)
    assert scores["precision"] == 0.0 and scores["recall"] == 0.0 and scores["f1"] == 0.0


def test_precision_and_recall_differ() -> None:
    gold = [["B-LOC", "O", "O", "O"]]
    pred = [["B-LOC", "O", "B-PERS", "B-PERS"]]
    scores = conll_scores(gold, pred)
    assert scores["precision"] == pytest.approx(1 / 3)
    assert scores["recall"] == 1.0
    assert scores["f1"] == pytest.approx(0.5)


def test_length_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError, match="sentence 0"):
        conll_scores([["O", "O"]], [["O"]])


def test_read_conll_and_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("باريس B-LOC\nمدينة O\n\n\nجميلة O\n", encoding="utf-8")
    assert read_conll(path) == [(["باريس", "مدينة"], ["B-LOC", "O"]), (["جميلة"], ["O"])]
    path.write_text("باريس B-LOC\nخطأ\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"a\.txt:2"):
        read_conll(path)
    path.write_text("باريس LOC\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"a\.txt:1: bad tag"):
        read_conll(path)


def test_evaluate_adds_speed_fields(tmp_path: Path) -> None:
    path = tmp_path / "gold.txt"
    path.write_text("باريس B-LOC\nمدينة O\n\nعلي B-PERS\n", encoding="utf-8")

    class AllO:
        def tag(self, sentences: list[list[str]]) -> list[list[str]]:
            return [["O"] * len(s) for s in sentences]

    scores = evaluate(AllO(), path)
    assert scores["tokens"] == 3 and scores["sentences"] == 2
    assert scores["recall"] == 0.0
    assert {"seconds", "tokens_per_second"} <= scores.keys()


SHARED = Path(__file__).resolve().parents[2].parent / "shared"
ANERCORP_TRAIN = SHARED / "corpus" / "anercorp" / "train.txt"


@pytest.mark.shared
@pytest.mark.skipif(
    not ANERCORP_TRAIN.exists(), reason=f"{ANERCORP_TRAIN} is absent (no ../shared data folder)"
)
def test_read_conll_on_anercorp_train() -> None:
    data = read_conll(ANERCORP_TRAIN)
    assert sum(len(tokens) for tokens, _ in data) == 125_102
    assert {tag for _, tags in data for tag in tags} == {
        "O",
        *(f"{p}-{t}" for p in "BI" for t in ("LOC", "ORG", "PERS", "MISC")),
    }
    scores = conll_scores([tags for _, tags in data], [tags for _, tags in data])
    assert scores["f1"] == 1.0 and scores["per_type"]["LOC"]["support"] > 3000
