"""Gazetteer matching, proclitic handling and document-level consistency."""

from services.entities.consistency import propagate
from services.entities.gazetteer import CATEGORIES, default_gazetteer
from services.entities.morph import lookup_variants, normalize, split_proclitics


def _categories(words: list[str]) -> list[set[tuple[str, str]]]:
    return [{(CATEGORIES[s // 2], "BI"[s % 2]) for s in slots} for slots in default_gazetteer().match(words)]


def test_normalize_folds_spelling_variants() -> None:
    assert normalize("أحمد") == normalize("احمد")
    assert normalize("سوريةُ") == normalize("سوريه")
    assert normalize("٢٠٠٦") == normalize("2006") == "0000"


def test_proclitics() -> None:
    assert split_proclitics(normalize("وبالقاهرة")) == ("وبال", "قاهره")
    assert split_proclitics(normalize("للأمم")) == ("لل", "امم")
    assert split_proclitics(normalize("لبنان")) == ("", "لبنان")
    assert normalize("القاهرة") in lookup_variants(normalize("للقاهرة"))


def test_gazetteer_matches_phrases_with_clitics() -> None:
    found = _categories(["وصل", "بالقاهرة", "مندوب", "للأمم", "المتحدة", "ومحمد"])
    assert ("PLACE", "B") in found[1]
    assert ("ORG", "B") in found[3] and ("ORG", "I") in found[4]
    assert ("FIRST", "B") in found[5]
    assert not found[0] and not found[2]


def test_gazetteer_keeps_alef_maksura_apart_and_skips_frequent_words() -> None:
    on, ali, cannes = _categories(["على", "علي", "كان"])
    assert ("FIRST", "B") in ali
    assert ("FIRST", "B") not in on
    assert ("CITY", "B") not in cannes


def test_consistency_tags_repeats_and_surnames() -> None:
    sentences = [["قال", "باتريك", "فييرا", "إن"], ["وسجل", "فييرا", "هدفا", "لبرشلونة"], ["في", "برشلونة"]]
    tags = [["O", "B-PERS", "I-PERS", "O"], ["O", "O", "O", "O"], ["O", "B-ORG"]]
    assert propagate(sentences, tags) == [
        ["O", "B-PERS", "I-PERS", "O"],
        ["O", "B-PERS", "O", "B-ORG"],
        ["O", "B-ORG"],
    ]
    # Outside the window nothing is borrowed; frequent words are never propagated.
    assert propagate(sentences, tags, window=0)[1] == ["O", "O", "O", "O"]
    assert propagate([["في"], ["في"]], [["B-LOC"], ["O"]])[1] == ["O"]


def test_gazetteer_dropout_hides_all_of_a_tokens_matches_and_only_in_training() -> None:
    import numpy as np
    import torch

    from services.entities.features import Vocabs, encode, make_batch

    words = ["وصل", "بالقاهرة", "مندوب", "للأمم", "المتحدة", "ومحمد"]
    vocabs = Vocabs.build([words])
    encoded = [encode(words, vocabs, default_gazetteer())] * 200
    kept = make_batch(encoded).gaz
    matched = kept.sum(-1) > 0
    assert matched.sum() == 4 * 200
    no_unk = (np.zeros(len(vocabs.words)), np.zeros(len(vocabs.stems)))
    assert torch.equal(make_batch(encoded, no_unk, np.random.default_rng(0)).gaz, kept)
    assert torch.equal(make_batch(encoded, gaz_dropout=0.5).gaz, kept)  # no rng: not training

    hidden = make_batch(encoded, no_unk, np.random.default_rng(0), gaz_dropout=0.3).gaz
    per_token = hidden.sum(-1)
    assert ((per_token == 0) | (per_token == kept.sum(-1))).all()  # a token's matches go together
    share = ((per_token == 0) & matched).sum().item() / matched.sum().item()
    assert 0.25 < share < 0.35
    assert make_batch(encoded, no_unk, np.random.default_rng(0), gaz_dropout=1.0).gaz.sum() == 0
