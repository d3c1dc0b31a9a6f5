from services.events.clustering import (
    DocumentFrequencies,
    EventProfile,
    events_to_merge,
    matching_events,
    prepare,
    score,
    time_factor,
)
from services.events.features import ArticleFeatures, article_features, stem, terms_of
from services.events.updates import EventRecord, event_id_for, update_message

HOUR = 3600.0


def features(article_id: str, terms: dict[str, float], entities: dict[str, float], ts: float = 0.0,
             source: str = "s") -> ArticleFeatures:
    return ArticleFeatures(article_id, source, ts, terms, entities, None)


def profile_of(event_id: str, *articles: ArticleFeatures) -> EventProfile:
    profile = EventProfile(event_id)
    for article in articles:
        profile.absorb(prepare(article, DF))
    return profile


DF = DocumentFrequencies(100, {"صاروخ": 5, "حماه": 2, "قصف": 10, "فيضان": 3}, {"LOC:syria": 60, "LOC:aqirbat": 1})


def test_rare_shared_entities_weigh_more_than_common_ones() -> None:
    event = profile_of("e1", features("a", {"قصف": 2}, {"LOC:syria": 1.0, "LOC:aqirbat": 1.0}))
    rare = features("b", {"قصف": 1}, {"LOC:aqirbat": 1.0, "LOC:other": 1.0})
    common = features("c", {"قصف": 1}, {"LOC:syria": 1.0, "LOC:other": 1.0})
    assert score(rare, event, DF).entities > score(common, event, DF).entities


def test_time_decays_similarity() -> None:
    event = profile_of("e1", features("a", {"صاروخ": 1}, {}, ts=0))
    assert time_factor(features("b", {}, {}, ts=HOUR), event) > time_factor(features("c", {}, {}, ts=96 * HOUR), event)
    assert time_factor(features("d", {}, {}, ts=0), event) == 1.0


def test_matching_respects_threshold_and_breaks_ties_deterministically() -> None:
    article = features("x", {"صاروخ": 2, "حماه": 1}, {"LOC:aqirbat": 1.0})
    same = profile_of("e-b", features("a", {"صاروخ": 2, "حماه": 1}, {"LOC:aqirbat": 1.0}))
    twin = profile_of("e-a", features("a2", {"صاروخ": 2, "حماه": 1}, {"LOC:aqirbat": 1.0}))
    other = profile_of("e-c", features("c", {"فيضان": 3}, {"LOC:syria": 1.0}))
    matches = matching_events(article, [same, other, twin], DF, threshold=0.3)
    best = matches[0] if matches else None
    assert best is not None and best.event_id == "e-a"
    assert matching_events(features("y", {"فيضان": 1}, {}), [same], DF, threshold=0.3) == []


def test_terms_are_normalized_stemmed_and_stopwords_dropped() -> None:
    counts = terms_of("وبالصواريخ الصواريخ في سورية")
    assert counts[stem("الصواريخ")] == 2
    assert "في" not in counts
    assert terms_of("سورية") == terms_of("سوريه") == terms_of("وسورية")
    assert terms_of("فرقاطتين") == terms_of("فرقاطة")
    assert stem("كاليبر") == "كاليبر"  # not the article كال-


def test_update_message_summarizes_the_event() -> None:
    article = {"article_id": "d1", "source": "outlet-a", "title": "قصف صاروخي قرب حماة",
               "text": "نص", "lead": "أطلقت سفن صواريخ على مواقع قرب حماة. وقالت الوزارة إن القصف دقيق.",
               "received_at": "2026-11-10T08:00:00Z", "published_at": "2026-11-10T07:00:00Z",
               "source_path": "a.txt", "url": None, "duplicate_of": None,
               "entities": [{"canonical_id": "LOC:0123456789abcdef", "type": "LOC", "canonical_name": "حماة",
                             "salience": 1.0}]}
    record = EventRecord(EventProfile(event_id_for("d1")))
    record.add(article, prepare(article_features(article), DF), syndicated=False)
    update = update_message(event_id_for("d1"), record)
    assert update["status"] == "new" and update["version"] == 1
    assert update["title"] == "قصف صاروخي قرب حماة"
    assert update["summary"] == "أطلقت سفن صواريخ على مواقع قرب حماة."
    assert update["primary_location"]["name"] == "حماة"
    assert update["articles"][0]["source_path"] == "a.txt"
    second = {**article, "article_id": "d2", "source": "outlet-b"}
    record.add(second, prepare(article_features(second), DF), syndicated=True)
    update = update_message(event_id_for("d1"), record)
    assert update["status"] == "updated" and update["version"] == 2
    assert update["source_count"] == 2 and update["syndicated_count"] == 1
    assert event_id_for("d1") == event_id_for("d1") != event_id_for("d2")


def test_passage_similarity_is_the_best_pairwise_cosine() -> None:
    from services.events.clustering import _dot, passage_similarity

    mine = ArticleFeatures("x", "s", 0.0, {"صاروخ": 2, "حماه": 1, "فيضان": 1}, {}, None,
                           ({"صاروخ": 2, "حماه": 1}, {"فيضان": 3, "قصف": 1}))
    theirs = ArticleFeatures("y", "s", 0.0, {"قصف": 1}, {}, None,
                             ({"قصف": 2, "فيضان": 1}, {"حماه": 1, "صاروخ": 1, "قصف": 1}))
    event = profile_of("e1", theirs)
    prepared = prepare(mine, DF)
    brute_force = max(_dot(a, b) for a in prepared.passages for b in event.passages)
    assert abs(passage_similarity(prepared, event) - brute_force) < 1e-3 and brute_force > 0.5


def test_an_event_keeps_its_members_vectors_as_weighted_when_they_arrived() -> None:
    # Re-weighting every member at every comparison would cost more than the comparison: an event
    # stores unit vectors, so later frequencies change how a new article is weighed, not its members.
    event = profile_of("e1", features("a", {"صاروخ": 2, "حماه": 1}, {}))
    stored = dict(event.terms)
    later = DocumentFrequencies(1000, {"صاروخ": 900, "حماه": 1}, {})
    matching_events(features("b", {"صاروخ": 1}, {}), [event], later, threshold=0.0)
    assert event.terms == stored
    assert abs(sum(w * w for w in event.terms.values()) - 1.0) < 1e-3
    assert EventProfile(**event.to_json()) == event


def test_only_an_article_that_tells_both_stories_in_full_merges_two_events() -> None:
    # Two halves of one story: the strike and the town it hit. An article telling both matches
    # each half as a whole text, so the events merge.
    strike_text = {"صاروخ": 2, "قصف": 1, "حماه": 1}
    town_text = {"حماه": 2, "قصف": 1, "فيضان": 1}
    strike = profile_of("e-strike", ArticleFeatures("a", "s", 0.0, strike_text, {"LOC:aqirbat": 1.0}, None,
                                                    (strike_text,)))
    town = profile_of("e-town", ArticleFeatures("b", "s", 0.0, town_text, {"LOC:aqirbat": 1.0}, None,
                                                (town_text,)))
    bridge = ArticleFeatures("c", "s", 0.0, {"صاروخ": 2, "قصف": 2, "حماه": 3, "فيضان": 1}, {"LOC:aqirbat": 1.0},
                             None, (strike_text, town_text))
    matches = matching_events(bridge, [strike, town], DF, threshold=0.25)
    assert [m.event_id for m in matches] == ["e-strike", "e-town"]
    assert events_to_merge(strike, [(town, matches[1])], DF, 0.25) == [town]
    # A digest that shares one paragraph with another story matches it through that paragraph
    # (passage score 1) but not as a whole: joining is fine, merging the two events is not.
    digest = ArticleFeatures("d", "s", 0.0, {"صاروخ": 2, "قصف": 1, "ملعب": 9, "مباراه": 9, "هدف": 9}, {}, None,
                             ({"حماه": 2, "قصف": 1, "فيضان": 1}, {"ملعب": 9, "مباراه": 9, "هدف": 9}))
    weak = score(digest, town, DF)
    assert weak.passages > 0.99 and weak.score >= 0.25 and weak.text < 0.3
    assert events_to_merge(strike, [(town, weak)], DF, 0.25) == []


def test_idf_rises_with_rarity_in_the_stream_and_in_the_background() -> None:
    import math

    from services.events.background import BackgroundFrequencies

    prior = BackgroundFrequencies(1000, {"قصف": 400, "عقيربات": 1})
    df = DocumentFrequencies(100, {"قصف": 40, "صاروخ": 60}, {}, prior)
    idf = df.term_idfs(["قصف", "صاروخ", "عقيربات", "كاليبر"])
    # Stream counts speak next to the prior: unknown to the background, common in the stream.
    assert idf["صاروخ"] < idf["عقيربات"]
    # With no stream count, the background decides: rare there, rare here.
    assert idf["قصف"] < idf["عقيربات"] <= idf["كاليبر"]
    expected = 1.0 + math.log((100 + 20) / (40 + 20 * prior.rate("قصف")))
    assert math.isclose(idf["قصف"], expected, rel_tol=1e-12)


def test_background_rates_are_cached_and_the_cache_is_bounded(monkeypatch) -> None:
    import services.events.background as background

    monkeypatch.setattr(background, "MAX_CACHED_RATES", 3)
    prior = background.BackgroundFrequencies(1000, {"قصف": 400})
    for term in ("قصف", "صاروخ", "حماه", "فيضان"):
        assert prior.rates[term] == prior.rate(term)
    assert 1 <= len(prior.rates) <= 3
