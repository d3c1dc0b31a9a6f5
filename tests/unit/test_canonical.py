from services.entities.canonical import (
    clitic_candidates,
    entity_id,
    group_person_names,
    mention_key,
    strip_titles,
)
from services.entities.extract import PlacedMention, RegistrySnapshot, build_entities


def test_spelling_variants_of_places_share_a_key() -> None:
    assert mention_key("LOC", "سورية") == mention_key("LOC", "سوريا")
    assert mention_key("LOC", "آستانة") == mention_key("LOC", "أستانة")
    assert mention_key("LOC", "قرغيزيا") == mention_key("LOC", "قرغيزستان")


def test_clitics_are_stripped_only_towards_a_known_name() -> None:
    known = {"سوريا", "روسيا"}
    assert mention_key("LOC", "وبسوريا", known.__contains__) == "سوريا"
    assert mention_key("LOC", "لروسيا", known.__contains__) == "روسيا"
    # وليد starts with و but is a name, not a conjunction: nothing known says otherwise.
    assert mention_key("PERS", "وليد المعلم") == "وليد المعلم"
    assert mention_key("ORG", "للأمم المتحدة") == "الامم المتحده"
    assert clitic_candidates("وبسوريا") == ["سوريا", "بسوريا"]


def test_names_that_start_with_the_letters_of_clitics_keep_them() -> None:
    listed = {"كاليفورنيا", "بالتيمور"}
    # Listed as written: not ك+اليفورنيا, not ب+التيمور.
    assert mention_key("LOC", "كاليفورنيا", listed.__contains__, listed.__contains__) == "كاليفورنيا"
    assert mention_key("LOC", "بالتيمور", listed.__contains__, listed.__contains__) == "بالتيمور"
    assert mention_key("LOC", "وكاليفورنيا", listed.__contains__, listed.__contains__) == "كاليفورنيا"
    # Unlisted: ب+ال is read as clitics, the letters كال as part of the name.
    assert mention_key("LOC", "بالقاهرة") == "القاهره"
    assert mention_key("MISC", "كاليبر") == "كاليبر"


def test_a_listed_name_is_one_entity_with_its_clitic_forms() -> None:
    mentions = [
        PlacedMention("LOC", 0, 10, "كاليفورنيا", False, 1.0),
        PlacedMention("LOC", 20, 31, "وكاليفورنيا", False, 1.0),
    ]
    [entity] = build_entities(mentions).entities
    assert entity["canonical_name"] == "كاليفورنيا"
    assert entity["count"] == 2


def test_titles_before_a_name_are_not_part_of_it() -> None:
    assert strip_titles("الرئيس الروسي فلاديمير بوتين".split()) == ["فلاديمير", "بوتين"]
    assert mention_key("PERS", "الرئيس الروسي فلاديمير بوتين") == "فلاديمير بوتين"
    assert strip_titles(["الرئيس"]) == ["الرئيس"]


def test_short_person_names_join_the_longer_name_in_the_article() -> None:
    groups = group_person_names(["بوتين", "فلاديمير بوتين", "لافروف"])
    assert groups["بوتين"] == "فلاديمير بوتين"
    assert groups["لافروف"] == "لافروف"


def test_ids_are_stable_and_typed() -> None:
    assert entity_id("LOC", "سوريا") == entity_id("LOC", "سوريا")
    assert entity_id("LOC", "سوريا") != entity_id("ORG", "سوريا")
    assert entity_id("PERS", "x").startswith("PERS:")


def _mention(kind: str, text: str, source: str, *, in_title: bool = False, weight: float = 1.0) -> PlacedMention:
    start = source.index(text)
    return PlacedMention(kind, start, start + len(text), text, in_title, weight)


def test_build_entities_groups_offsets_and_salience() -> None:
    title = "بوتين يزور سورية"
    text = "وصل الرئيس الروسي فلاديمير بوتين إلى دمشق. وقال بوتين إن سوريا بلد صديق."
    mentions = [
        _mention("PERS", "بوتين", title, in_title=True, weight=3.0),
        _mention("LOC", "سورية", title, in_title=True, weight=3.0),
        _mention("PERS", "فلاديمير بوتين", text),
        _mention("LOC", "دمشق", text),
        PlacedMention("PERS", text.rindex("بوتين"), text.rindex("بوتين") + 5, "بوتين", False, 1.0),
        _mention("LOC", "سوريا", text),
    ]
    entities = build_entities(mentions).entities
    by_name = {e["canonical_name"]: e for e in entities}
    putin = by_name["فلاديمير بوتين"]
    assert putin["count"] == 3 and putin["salience"] == 1.0
    assert set(putin["surface_forms"]) == {"بوتين", "فلاديمير بوتين"}
    syria = next(e for e in entities if "سورية" in e["surface_forms"])
    assert set(syria["surface_forms"]) == {"سورية", "سوريا"}
    assert by_name["دمشق"]["salience"] < syria["salience"]
    for entity in entities:
        for m in entity["mentions"]:
            assert (title if m["in_title"] else text)[m["start"]:m["end"]] == m["text"]


def test_registry_aliases_resolve_a_lone_surname() -> None:
    text = "قال لافروف إن المحادثات مستمرة."
    mention = _mention("PERS", "لافروف", text)
    registry = RegistrySnapshot(known={("PERS", "لافروف")}, aliases={("PERS", "لافروف"): "سيرغي لافروف"},
                                names={("PERS", "سيرغي لافروف"): "سيرغي لافروف"})
    extraction = build_entities([mention], registry)
    assert extraction.entities[0]["canonical_id"] == entity_id("PERS", "سيرغي لافروف")
    assert extraction.entities[0]["canonical_name"] == "سيرغي لافروف"
    assert extraction.links[("PERS", "لافروف")] == "سيرغي لافروف"


def test_a_full_name_joins_the_lone_surname_seen_before_it() -> None:
    text = "قال وزير الخارجية سيرغي لافروف إن المحادثات مستمرة."
    mention = _mention("PERS", "سيرغي لافروف", text)
    earlier = RegistrySnapshot(known={("PERS", "لافروف")}, names={("PERS", "لافروف"): "لافروف"})
    extraction = build_entities([mention], earlier)
    assert extraction.entities[0]["canonical_id"] == entity_id("PERS", "لافروف")
    assert extraction.links[("PERS", "سيرغي لافروف")] == "لافروف"
    # A surname already claimed by another full name is not taken over by a new one.
    claimed = RegistrySnapshot(known={("PERS", "الاسد")}, aliases={("PERS", "الاسد"): "بشار الاسد"})
    other = _mention("PERS", "حافظ الأسد", "توفي حافظ الأسد.")
    assert build_entities([other], claimed).entities[0]["canonical_id"] == entity_id("PERS", "حافظ الاسد")


def test_a_clitic_comes_off_a_name_the_curated_lists_know_even_when_the_article_has_it_only_once() -> None:
    # «وقرغيزستان» is the only spelling with -ستان in the article; the curated country list says
    # the و is a conjunction, so it joins «قرغيزيا», the variant spelling of the same country.
    text = "وقعت كازاخستان وقرغيزستان اتفاقا. وقالت قرغيزيا إن الاتفاق نهائي."
    mentions = [_mention("LOC", "وقرغيزستان", text), _mention("LOC", "قرغيزيا", text)]
    entities = build_entities(mentions).entities
    assert len(entities) == 1
    assert entities[0]["canonical_id"] == entity_id("LOC", "قرغيزستان")
    assert entities[0]["canonical_name"] == "قرغيزستان"
    # A word that only looks like a clitic and a name stays whole.
    assert build_entities([_mention("PERS", "وليد", "قال وليد")]).entities[0]["canonical_name"] == "وليد"


def test_other_names_of_a_listed_organisation_share_its_key_and_written_name() -> None:
    assert mention_key("ORG", "مجلس الأمن الدولي") == mention_key("ORG", "مجلس الأمن")
    assert mention_key("ORG", "حلف الناتو") == mention_key("ORG", "حلف شمال الأطلسي")
    mentions = [
        PlacedMention("ORG", 0, 17, "مجلس الأمن الدولي", False, 1.0),
        PlacedMention("LOC", 30, 56, "الولايات المتحدة الأمريكية", False, 1.0),
    ]
    names = {e["type"]: (e["canonical_name"], e["surface_forms"]) for e in build_entities(mentions).entities}
    # Shown by the name they are keyed by, not cut to its length ("الأمن الدولي").
    assert names["ORG"] == ("مجلس الأمن", ["مجلس الأمن الدولي"])
    assert names["LOC"] == ("الولايات المتحدة", ["الولايات المتحدة الأمريكية"])


def test_a_descriptor_before_a_known_organisation_is_not_part_of_its_name() -> None:
    listed = {"داعش", "حماس"}
    assert mention_key("ORG", "تنظيم داعش", listed.__contains__) == "داعش"
    assert mention_key("ORG", "لتنظيم داعش", listed.__contains__) == "داعش"
    assert mention_key("ORG", "حركة حماس", listed.__contains__) == "حماس"
    # Nothing known follows: the descriptor stays (حركة المقاومة is not المقاومة).
    assert mention_key("ORG", "حركة المقاومة", listed.__contains__) == "حركه المقاومه"
    mentions = [
        PlacedMention("ORG", 0, 10, "تنظيم داعش", False, 1.0),
        PlacedMention("ORG", 20, 24, "داعش", False, 1.0),
    ]
    [entity] = build_entities(mentions).entities
    assert (entity["canonical_name"], entity["count"]) == ("داعش", 2)


def test_a_proclitic_comes_off_a_common_noun_that_heads_a_name() -> None:
    # مجلس, جيش: trigger words, no name starts with them plus a glued ل or و.
    assert mention_key("ORG", "لمجلس الأمن القومي الروسي") == "مجلس الامن القومي الروسي"
    assert mention_key("ORG", "للجيش السوري") == "الجيش السوري"
    # لجنة is itself the noun: its ل stays.
    assert mention_key("ORG", "لجنة المتابعة") == "لجنه المتابعه"
    assert mention_key("ORG", "ولجنة المتابعة") == "لجنه المتابعه"
