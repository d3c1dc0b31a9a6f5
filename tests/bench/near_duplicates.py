"""How many SaudiNewsNet articles of one day are duplicates, and how many Saudi Press Agency stories
other outlets republish: ``python -m tests.bench.near_duplicates --shared ../shared --day 2015-08-10``.

Exact duplicates share a canonical URL or the same matching-form text; near-duplicates are found
with an in-memory datasketch LSH over the same signatures the ingest worker uses, then verified
against the estimated Jaccard, earliest article first (as :class:`NearDuplicateIndex` does).
The threshold sweep shows how the counts move; the exact shingle Jaccard of the pairs just below
and above the threshold is there to be read, since nothing in the corpus labels republications.
The corpus is read where it lies and nothing of it is written anywhere.
"""

from __future__ import annotations

import argparse
import json
import sys
import zipfile
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from datasketch import MinHash, MinHashLSH

from services.ingest.article import content_hash
from services.ingest.near_duplicates import DEFAULT_THRESHOLD, estimated_jaccard, minhash, shingles
from services.ingest.urls import canonical_url

AGENCY = "was"  # SaudiNewsNet's code for the Saudi Press Agency (واس, spa.gov.sa)


@dataclass
class Item:
    order: int
    source: str
    title: str
    url: str
    text: str
    signature: MinHash


def load_day(shared: Path, day: str) -> list[Item]:
    path = shared / "corpus" / "saudinewsnet" / f"{day}.zip"
    if not path.exists():
        sys.exit(f"{path} not found: pass --shared pointing at the project's shared data folder")
    with zipfile.ZipFile(path) as archive:
        articles = json.loads(archive.read(f"{day}.json").decode("utf-8"))
    # First-seen order: extraction time, then position in the file.
    ordered = sorted(enumerate(articles), key=lambda pair: (pair[1].get("date_extracted") or "", pair[0]))
    return [Item(order, a["source"], (a.get("title") or "").strip(), a.get("url") or "", a.get("content") or "",
                 minhash(a.get("content") or ""))
            for order, (_, a) in enumerate(ordered)]


def exact_groups(items: list[Item], key: str) -> dict[str, list[Item]]:
    groups: dict[str, list[Item]] = defaultdict(list)
    for item in items:
        if key == "text":
            value = content_hash(item.text)
        else:
            # "path": same URL but for the query, and the same text (al-madina's "?weekly" copies).
            value = canonical_url(item.url) if key == "url" else \
                canonical_url(item.url).partition("?")[0] + " " + content_hash(item.text)
        if value and (key != "text" or item.text.strip()):
            groups[value].append(item)
    return {k: v for k, v in groups.items() if len(v) > 1}


def near_originals(items: list[Item], threshold: float) -> dict[int, int]:
    """Each article's earliest near-duplicate (by order), for the articles that have one."""
    lsh = MinHashLSH(threshold=threshold, num_perm=items[0].signature.hashvalues.size)
    originals: dict[int, int] = {}
    for item in items:
        if item.signature.is_empty():
            continue
        found = [o for o in lsh.query(item.signature)
                 if estimated_jaccard(items[o].signature.hashvalues, item.signature.hashvalues) >= threshold]
        if found:
            first = min(found)
            originals[item.order] = originals.get(first, first)  # point at the group's root
        lsh.insert(item.order, item.signature)
    return originals


def exact_jaccard(a: Item, b: Item) -> float:
    sa, sb = shingles(a.text), shingles(b.text)
    return len(sa & sb) / len(sa | sb) if sa and sb else 0.0


def report(items: list[Item], threshold: float, sweep: list[float], examples: int) -> None:
    print(f"{len(items)} articles; by source: {dict(Counter(i.source for i in items).most_common())}")
    by_url, by_text = exact_groups(items, "url"), exact_groups(items, "text")
    print(f"exact duplicates by canonical URL: {sum(len(g) - 1 for g in by_url.values())} copies "
          f"in {len(by_url)} groups")
    by_path = exact_groups(items, "path")
    print(f"  (same text at URLs equal but for their query, which canonical_url keeps: "
          f"{sum(len(g) - 1 for g in by_path.values())} copies, sources {dict(Counter(g[0].source for g in by_path.values()))})")
    same_source = sum(len({i.source for i in g}) == 1 for g in by_text.values())
    print(f"exact duplicates by matching-form text: {sum(len(g) - 1 for g in by_text.values())} copies "
          f"in {len(by_text)} groups ({same_source} within one source); "
          f"empty texts: {sum(not i.text.strip() for i in items)}")

    print("\nthreshold sweep (copies = articles with an earlier near-duplicate):")
    print("  threshold  copies  cross-source  agency-stories-republished  other-outlets'-agency-copies")
    for t in sweep:
        originals = near_originals(items, t)
        print(f"  {t:9.2f}  {len(originals):6d}  {_cross(items, originals):12d}  "
              f"{_agency_stories(items, originals):26d}  {_agency_copies(items, originals):23d}")

    originals = near_originals(items, threshold)
    low = near_originals(items, min(sweep))
    print(f"\npairs caught at {min(sweep)} but not at {threshold} (exact shingle Jaccard, titles):")
    for copy, original in sorted(set(low.items()) - set(originals.items()))[:examples]:
        a, b = items[original], items[copy]
        print(f"  J={exact_jaccard(a, b):.2f}  {a.source}: {a.title[:70]}\n           {b.source}: {b.title[:70]}")

    groups = _agency_groups(items, originals)
    outlets = {items[m].source for members in groups.values() for m in members} - {AGENCY}
    print(f"\nat threshold {threshold}: {len(originals)} near-duplicate copies (exact copies included) "
          f"in {len(_groups(originals))} groups; "
          f"{_agency_stories(items, originals)} of {sum(i.source == AGENCY for i in items)} agency stories "
          f"were republished, {_agency_copies(items, originals)} times, by {len(outlets)} outlets "
          f"({', '.join(sorted(outlets))})")
    jaccards = sorted(exact_jaccard(items[o], items[c]) for c, o in originals.items())
    if jaccards:
        print(f"exact shingle Jaccard of the caught pairs: min {jaccards[0]:.2f}, "
              f"median {jaccards[len(jaccards) // 2]:.2f}")
    print(f"\n{examples} example agency groups, largest first (source: title):")
    for _, members in sorted(groups.items(), key=lambda g: (-len(g[1]), g[0]))[:examples]:
        for n, member in enumerate(members):
            print(f"  {'-' if n == 0 else ' '} {items[member].source}: {items[member].title[:90]}")


def _cross(items: list[Item], originals: dict[int, int]) -> int:
    return sum(items[c].source != items[o].source for c, o in originals.items())


def _groups(originals: dict[int, int]) -> dict[int, list[int]]:
    """Near-duplicate groups: the earliest article, then its copies in order."""
    groups: dict[int, list[int]] = defaultdict(list)
    for copy, root in sorted(originals.items()):
        groups[root] = groups[root] or [root]
        groups[root].append(copy)
    return groups


def _agency_groups(items: list[Item], originals: dict[int, int]) -> dict[int, list[int]]:
    """Groups holding an agency story and a copy from another outlet (the agency's copy may not come
    first: an outlet's page can be crawled before the agency's own)."""
    return {root: members for root, members in _groups(originals).items()
            if any(items[m].source == AGENCY for m in members) and any(items[m].source != AGENCY for m in members)}


def _agency_copies(items: list[Item], originals: dict[int, int]) -> int:
    """Other outlets' articles that are near-duplicates of an agency story."""
    return sum(items[m].source != AGENCY for members in _agency_groups(items, originals).values() for m in members)


def _agency_stories(items: list[Item], originals: dict[int, int]) -> int:
    """Agency articles republished by at least one other outlet."""
    return sum(items[m].source == AGENCY for members in _agency_groups(items, originals).values() for m in members)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2].parent / "shared")
    parser.add_argument("--day", default="2015-08-10")
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    parser.add_argument("--sweep", default="0.3,0.4,0.5,0.6,0.7,0.8")
    parser.add_argument("--examples", type=int, default=5)
    args = parser.parse_args(argv)
    report(load_day(args.shared, args.day), args.threshold, [float(t) for t in args.sweep.split(",")],
           args.examples)


if __name__ == "__main__":
    main()
