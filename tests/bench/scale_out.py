"""Scale-out proof: the same articles through 1, 2 and 3 instances of every worker, one of each killed.

For each instance count N the pipeline is started afresh (embedded broker and Redis, topics with
``--partitions`` partitions, N processes per stage), the same K SaudiNewsNet articles are replayed and
timed until every one has an outcome. Per-stage rates come from the workers' own
``marsad_processing_seconds`` counters, scraped every second. In the run with the most instances one
instance of each stage is SIGKILLed mid-run and restarted; the run then checks that every article
reached the events stage exactly once and that the survivors took over the dead instances' partitions.

    python -m tests.bench.scale_out --articles 5000               # the full measurement (about 40 min here)
    python -m tests.bench.scale_out --articles 300 --instances 3  # one quick run
    python -m tests.bench.scale_out --articles 300 --topic-sizes  # bytes per article on each topic
    python -m tests.bench.scale_out --redis-memory 15000          # Redis memory of event state per event

``tests/integration/test_scale_out.py`` calls :func:`run_scale` at a small size; ``tests/bench/run.py``
can call :func:`main`.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from services.common.arabic import normalize_for_matching
from services.common.config import Settings
from services.common.pipeline import STAGES, Pipeline, WorkerProcess
from services.common.redis_store import Keys, connect, read_outcomes
from services.common.replay import push_documents, summarize, wait_for_outcomes
from services.ingest.files import saudinewsnet_documents

DEFAULT_SHARED = Path(__file__).resolve().parents[3] / "shared"


# -- input -----------------------------------------------------------------------------------------

def saudinewsnet_articles(shared: Path, count: int) -> list[dict[str, Any]] | None:
    """The first ``count`` valid SaudiNewsNet articles in day order, or None when ../shared is absent."""
    corpus = shared / "corpus" / "saudinewsnet"
    if not corpus.is_dir():
        return None
    documents: list[dict[str, Any]] = []
    for day in sorted(corpus.glob("*.zip")):
        wanted = count - len(documents)
        documents.extend(d for d in itertools.islice(saudinewsnet_documents(day), wanted) if isinstance(d, dict))
        if len(documents) >= count:
            break
    return documents


# -- worker probes ---------------------------------------------------------------------------------

def readiness(worker: WorkerProcess) -> dict[str, Any] | None:
    """The worker's /readyz body (also when it answers 503), or None when it does not answer."""
    try:
        with urllib.request.urlopen(worker.health_url + "/readyz", timeout=2) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:  # 503 = not ready, the body still says why
        try:
            return json.load(error)
        except ValueError:
            return None
    except (urllib.error.URLError, OSError, ValueError):
        return None


def metric_sum(text: str, name: str) -> float:
    """Sum of every sample of one metric (all label sets) in a Prometheus text exposition."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def processing_counters(worker: WorkerProcess) -> tuple[float, float] | None:
    """(messages processed, seconds spent processing) since the worker started, from its /metrics."""
    try:
        with urllib.request.urlopen(worker.health_url + "/metrics", timeout=3) as response:
            text = response.read().decode()
    except (urllib.error.URLError, OSError):
        return None
    return metric_sum(text, "marsad_processing_seconds_count"), metric_sum(text, "marsad_processing_seconds_sum")


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux /proc), or None when it is gone.

    On a shared machine wall-clock processing time includes waiting for a core; CPU time does not,
    so it gives what one article costs whatever else the machine is doing.
    """
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def live(pipeline: Pipeline, stage: str) -> list[WorkerProcess]:
    return [w for w in pipeline.workers if w.stage == stage and w.process.poll() is None]


def assigned_by_worker(pipeline: Pipeline, stage: str) -> dict[int, int]:
    """assigned_partitions of every live instance of ``stage``, keyed by metrics port (-1: no answer)."""
    result = {}
    for worker in live(pipeline, stage):
        state = readiness(worker)
        result[worker.metrics_port] = -1 if state is None else int(state.get("assigned_partitions", 0))
    return result


class StageSampler:
    """Scrapes every worker's processing counters once a second in a thread.

    A SIGKILLed instance takes its counters with it, so the last scrape of each process is kept:
    the totals then miss at most one second of a killed instance's work.
    """

    def __init__(self, pipeline: Pipeline, interval: float = 1.0) -> None:
        self.pipeline = pipeline
        self.interval = interval
        self.last: dict[int, tuple[str, float, float]] = {}  # pid -> (stage, count, seconds)
        self.cpu: dict[int, tuple[str, float]] = {}  # pid -> (stage, CPU seconds), last seen
        self.load: list[float] = []  # the machine's 1-minute load average at each sample
        self.series: dict[str, list[tuple[float, float]]] = {stage: [] for stage in STAGES}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stage-sampler", daemon=True)

    def __enter__(self) -> StageSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)
        self.sample()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        for worker in list(self.pipeline.workers):
            if worker.process.poll() is None:
                counters = processing_counters(worker)
                if counters is not None:
                    self.last[worker.process.pid] = (worker.stage, *counters)
                used = cpu_seconds(worker.process.pid)
                if used is not None:
                    self.cpu[worker.process.pid] = (worker.stage, used)
        self.load.append(os.getloadavg()[0])
        now = time.monotonic()
        for stage in STAGES:
            self.series[stage].append((now, self.totals(stage)[0]))

    def totals(self, stage: str) -> tuple[float, float]:
        rows = [(count, seconds) for s, count, seconds in list(self.last.values()) if s == stage]
        return sum(r[0] for r in rows), sum(r[1] for r in rows)

    def stage_cpu(self, stage: str) -> float:
        """CPU seconds the stage's processes used (start-up and model loading included)."""
        return sum(used for s, used in list(self.cpu.values()) if s == stage)

    def stage_rate(self, stage: str) -> float:
        """Messages per second while the stage was busy: from its first processed message to its last."""
        series = self.series[stage]
        final = series[-1][1] if series else 0.0
        started = next((t for t, c in series if c > 0), None)
        finished = next((t for t, c in series if c >= final), None)
        if not final or started is None or finished is None or finished <= started:
            return float("nan")
        first_count = next(c for t, c in series if t == started)
        return (final - first_count) / (finished - started)


# -- one run ---------------------------------------------------------------------------------------

@dataclass
class StageFigures:
    processed: float
    busy_seconds: float
    rate: float  # messages/s through the stage while it was busy
    cpu_seconds: float = 0.0  # CPU time of all the stage's processes over the run

    @property
    def per_core_capacity(self) -> float:
        """Messages/s one fully used core can do for this stage (start-up cost included)."""
        return self.processed / self.cpu_seconds if self.cpu_seconds else float("nan")

    @property
    def per_instance_capacity(self) -> float:
        """Messages/s one instance can do: processed / busy seconds (processing time only)."""
        return self.processed / self.busy_seconds if self.busy_seconds else float("nan")


@dataclass
class KillReport:
    killed_ports: dict[str, int] = field(default_factory=dict)
    before: dict[str, dict[int, int]] = field(default_factory=dict)  # stage -> port -> assigned
    after_kill: dict[str, dict[int, int]] = field(default_factory=dict)  # survivors once they cover it all
    after_restart: dict[str, dict[int, int]] = field(default_factory=dict)
    done_at_kill: int = 0
    seconds_to_kill: float = 0.0  # from the first push to the kill: the steady-state window
    rebalance_seconds: dict[str, float] = field(default_factory=dict)


@dataclass
class RunResult:
    instances: int
    articles: int
    elapsed: float
    outcomes: Counter[str]
    stages: dict[str, StageFigures]
    events: int = 0
    counted_twice: list[str] = field(default_factory=list)
    not_in_any_event: list[str] = field(default_factory=list)
    df_documents: int = 0
    kill: KillReport | None = None
    mean_load: float = 0.0  # the machine's mean 1-minute load average during the run

    @property
    def throughput(self) -> float:
        return self.articles / self.elapsed

    @property
    def steady_throughput(self) -> float:
        """Articles/s before anything was killed (the whole run when nothing was)."""
        if self.kill and self.kill.seconds_to_kill:
            return self.kill.done_at_kill / self.kill.seconds_to_kill
        return self.throughput

    @property
    def cpu_per_article(self) -> float:
        """CPU seconds all stages spent per article: 2 cores can do at most 2 / this articles/s."""
        return sum(f.cpu_seconds for f in self.stages.values()) / self.articles

    @property
    def bottleneck(self) -> str:
        return max(self.stages, key=lambda s: self.stages[s].busy_seconds)


# /readyz counts the whole consumer assignment, which includes the one partition of faust's leader
# topic (<app>-__assignor-__leader) besides the stage's input topic.
ASSIGNOR_PARTITIONS = 1


def covered(assigned: dict[int, int], partitions: int) -> bool:
    """Every partition of the stage's input topic has an owner among the live instances, each has some."""
    return (bool(assigned) and all(a >= 1 for a in assigned.values())
            and sum(assigned.values()) == partitions + ASSIGNOR_PARTITIONS)


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"{what} did not happen within {timeout:.0f}s")
        time.sleep(0.5)
    return time.monotonic() - started


def kill_one_of_each(pipeline: Pipeline, partitions: int, report: KillReport) -> None:
    """SIGKILL one instance of every stage, wait until the survivors own every partition, restart it."""
    for stage in STAGES:
        report.before[stage] = assigned_by_worker(pipeline, stage)
    victims = {stage: live(pipeline, stage)[-1] for stage in STAGES}
    for stage, victim in victims.items():
        victim.process.send_signal(signal.SIGKILL)
        report.killed_ports[stage] = victim.metrics_port
    for victim in victims.values():
        victim.process.wait(10)
    killed_at = time.monotonic()
    for stage in STAGES:
        # The group notices the dead member after the session timeout, then reassigns its partitions.
        wait_until(lambda s=stage: covered(assigned_by_worker(pipeline, s), partitions), 120,
                   f"the surviving {stage} instances taking over all {partitions} partitions")
        report.rebalance_seconds[stage] = time.monotonic() - killed_at
        report.after_kill[stage] = assigned_by_worker(pipeline, stage)
    for stage in STAGES:
        pipeline.restart(stage)
    pipeline.wait_ready(timeout=180)
    for stage in STAGES:
        wait_until(lambda s=stage: covered(assigned_by_worker(pipeline, s), partitions), 120,
                   f"the restarted {stage} instance rejoining")
        report.after_restart[stage] = assigned_by_worker(pipeline, stage)


def check_counted_once(settings: Settings, doc_ids: list[str]) -> tuple[int, list[str], list[str], int]:
    """(events, articles in two events, event outcomes in no event, documents counted in frequencies).

    Every event record is read, hot or dormant (a long replay spans days of stream time, so early
    events go dormant); merged events are left out because their members moved to the survivor.
    """
    client = connect(settings.redis_url)
    keys = Keys(settings.redis_prefix)
    try:
        members: Counter[str] = Counter()
        events = 0
        for key in client.scan_iter(match=keys("ev", "event", "*"), count=1000):
            event_id = key.rsplit(":", 1)[1]
            record = json.loads(client.get(key) or "{}")
            if record.get("status") == "merged":
                continue
            events += 1
            for raw in client.lrange(keys("ev", "members", event_id), 0, -1):
                members[json.loads(raw)["article_id"]] += 1
        twice = sorted(a for a, n in members.items() if n > 1)
        in_events = {d for d, v in read_outcomes(client, keys, doc_ids).items() if v.startswith("event:")}
        missing = sorted(in_events - set(members))
        df = sum(int(client.get(k) or 0) for k in client.scan_iter(match=keys("ev", "df", "*", "documents")))
    finally:
        client.close()
    return events, twice, missing, df


def run_scale(articles: list[dict[str, Any]], instances: int, *, partitions: int = 6, home: Path | None = None,
              kill: bool = False, log: Callable[[str], None] = print) -> RunResult:
    """One fresh pipeline with ``instances`` processes per stage; replay ``articles``; optionally kill."""
    own_home = home is None
    home = home or Path(tempfile.mkdtemp(prefix=f"marsad-scale-{instances}-"))
    settings = replace(Settings.from_env({}), home=home, partitions=partitions)
    pipeline = Pipeline.services(settings)
    try:
        pipeline.create_topics()
        pipeline.start_workers(instances=instances)
        pipeline.wait_ready(timeout=240)
        for stage in STAGES:
            wait_until(lambda s=stage: covered(assigned_by_worker(pipeline, s), partitions), 120,
                       f"{instances} {stage} instances sharing {partitions} partitions")
        settings = pipeline.settings
        doc_ids = [d["doc_id"] for d in articles]
        report = KillReport() if kill else None
        with StageSampler(pipeline) as sampler:
            started = time.monotonic()
            asyncio.run(push_documents(settings, articles))
            if report is not None:
                client = connect(settings.redis_url)
                keys = Keys(settings.redis_prefix)
                # Mid-run: a third done, so every stage has work in flight and work still to come.
                wait_until(lambda: len(read_outcomes(client, keys, doc_ids)) >= len(doc_ids) // 3, 900,
                           "a third of the articles finishing")
                report.done_at_kill = len(read_outcomes(client, keys, doc_ids))
                report.seconds_to_kill = time.monotonic() - started
                client.close()
                log(f"  killing one instance of each stage at {report.done_at_kill}/{len(doc_ids)} done")
                kill_one_of_each(pipeline, partitions, report)
                log(f"  survivors took over in {', '.join(f'{s} {t:.0f}s' for s, t in report.rebalance_seconds.items())}; "
                    f"restarted")
            outcomes = wait_for_outcomes(settings, doc_ids, stall_timeout=300, check_alive=lambda: _alive(pipeline))
            elapsed = time.monotonic() - started
        stages = {}
        for stage in STAGES:
            processed, busy = sampler.totals(stage)
            stages[stage] = StageFigures(processed, busy, sampler.stage_rate(stage), sampler.stage_cpu(stage))
        events, twice, missing, df = check_counted_once(settings, doc_ids)
        load = sum(sampler.load) / len(sampler.load) if sampler.load else 0.0
        return RunResult(instances, len(doc_ids), elapsed, summarize(outcomes), stages, events, twice, missing, df,
                         report, load)
    finally:
        pipeline.stop()
        if own_home:
            shutil.rmtree(home, ignore_errors=True)


def _alive(pipeline: Pipeline) -> None:
    dead = pipeline.dead_workers()
    if dead:
        raise RuntimeError(f"a {dead[0].stage} worker died: see {dead[0].log_path}")


# -- topic sizes -----------------------------------------------------------------------------------

async def topic_sizes(settings: Settings, timeout: float = 60.0) -> dict[str, tuple[int, int, int]]:
    """{topic: (messages, bytes of keys and values, distinct keys)} read from the beginning of each topic."""
    from aiokafka import AIOKafkaConsumer

    from services.common.topics import ALL_TOPICS, topic_name

    sizes = {}
    for spec in ALL_TOPICS:
        consumer = AIOKafkaConsumer(topic_name(settings.topic_prefix, spec),
                                    bootstrap_servers=settings.kafka_bootstrap_servers, group_id=None,
                                    auto_offset_reset="earliest", enable_auto_commit=False)
        await consumer.start()
        count = size = 0
        keys: set[bytes] = set()
        try:
            deadline = time.monotonic() + timeout
            quiet = 0
            while time.monotonic() < deadline and quiet < 3:
                batch = await consumer.getmany(timeout_ms=1000)
                quiet = 0 if batch else quiet + 1
                for records in batch.values():
                    for record in records:
                        count += 1
                        size += len(record.value or b"") + len(record.key or b"")
                        keys.add(record.key or b"")
        finally:
            await consumer.stop()
        sizes[spec.name] = (count, size, len(keys))
    return sizes


def measure_topic_sizes(articles: list[dict[str, Any]], log: Callable[[str], None] = print) -> None:
    """Replay ``articles`` through one instance per stage and report each topic's bytes per article."""
    home = Path(tempfile.mkdtemp(prefix="marsad-topic-sizes-"))
    pipeline = Pipeline.services(replace(Settings.from_env({}), home=home))
    try:
        pipeline.create_topics()
        pipeline.start_workers()
        pipeline.wait_ready(timeout=240)
        asyncio.run(push_documents(pipeline.settings, articles))
        wait_for_outcomes(pipeline.settings, [d["doc_id"] for d in articles], stall_timeout=300)
        sizes = asyncio.run(topic_sizes(pipeline.settings))
    finally:
        pipeline.stop()
        shutil.rmtree(home, ignore_errors=True)
    for topic, (count, size, keys) in sizes.items():
        log(f"{topic:24s} {count:6d} messages {size / 2**20:8.2f} MiB  {size / len(articles):8.0f} bytes per article"
            f"  ({keys} distinct keys: what compaction would keep)")


# -- Redis memory per event -----------------------------------------------------------------------

@dataclass
class MemorySample:
    articles: int
    events: int  # hot events (not merged)
    used_bytes: int  # INFO memory used_memory minus the empty server's


async def _fill_event_store(redis_url: str, texts: list[tuple[str, str, str]], checkpoints: list[int],
                            log: Callable[[str], None]) -> list[MemorySample]:
    """Assign synthetic articles (real SaudiNewsNet text, synthetic entities) through EventStore."""
    import random
    from datetime import UTC, datetime

    from services.common.clock import iso
    from services.common.redis_store import connect_async
    from services.events.features import article_features
    from services.events.store import EventStore

    rng = random.Random(7)
    kinds = ("PERS", "ORG", "LOC")
    # A long tail of entities, as in the news: a few very common, most rare.
    vocabulary = [(kinds[i % 3], f"{kinds[i % 3]}:{i:016x}", f"كيان {i}") for i in range(20000)]
    weights = [1.0 / (rank + 1) for rank in range(len(vocabulary))]
    client = connect_async(redis_url)
    store = EventStore(client, Keys("mem:"), threshold=0.25)
    baseline = int((await client.info("memory"))["used_memory"])
    samples = []
    start = 1_436_000_000.0  # July 2015, like SaudiNewsNet
    for index, (source, title, text) in enumerate(texts, 1):
        at = start + index * 60.0  # one article a minute of stream time
        picked = {v[1]: v for v in rng.choices(vocabulary, weights, k=8)}.values()
        entities = [{"type": kind, "canonical_id": cid, "canonical_name": name, "surface_forms": [name],
                     "mentions": [{"start": 0, "end": len(name), "text": name, "in_title": False}],
                     "count": rng.randint(1, 4), "salience": round(rng.random(), 3)} for kind, cid, name in picked]
        stamp = iso(datetime.fromtimestamp(at, UTC))
        article = {"schema_version": 1, "article_id": f"m{index}", "doc_id": f"m{index}", "source": source,
                   "source_path": f"{source}/{index}.txt", "url": f"https://{source}.example/{index}", "title": title,
                   "text": text, "lead": text[:300], "normalized_text": normalize_for_matching(text), "language": "ar",
                   "published_at": stamp, "received_at": stamp, "cleaned_at": iso(), "content_hash": "0" * 32,
                   "duplicate_of": None, "entities": entities, "ner_model": "synthetic", "enriched_at": iso()}
        await store.assign(article, article_features(article))
        if index in checkpoints:
            used = int((await client.info("memory"))["used_memory"]) - baseline
            samples.append(MemorySample(index, await store.active_count(), used))
            log(f"  {index} articles -> {samples[-1].events} events, {used / 2**20:.1f} MiB")
            sys.stdout.flush()
    await client.aclose()
    return samples


def measure_redis_memory(shared: Path, articles: int = 20000, log: Callable[[str], None] = print) -> list[MemorySample]:
    """Redis memory of the events stage's state, from the embedded valkey's INFO memory."""
    from services.common.embedded import EmbeddedRedis

    texts = []
    for document in saudinewsnet_articles(shared, articles) or []:
        texts.append((document["source"], document["title"] or "", document["content"]))
    checkpoints = sorted({len(texts) // 4, len(texts) // 2, len(texts)})
    home = Path(tempfile.mkdtemp(prefix="marsad-redis-memory-"))
    server = EmbeddedRedis(home).start()
    try:
        return asyncio.run(_fill_event_store(server.url, texts, checkpoints, log))
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)


# -- report ----------------------------------------------------------------------------------------

def table(results: list[RunResult]) -> str:
    lines = ["instances/stage | articles | seconds | articles/s | before kill | ingest/s | entities/s | events/s | "
             "busy s (ingest/entities/events) | CPU s/article | load | bottleneck"]
    lines.append("-" * len(lines[0]))
    for r in results:
        rates = " | ".join(f"{r.stages[s].rate:8.1f}" for s in STAGES)
        busy = "/".join(f"{r.stages[s].busy_seconds:.0f}" for s in STAGES)
        kill = " (one of each killed)" if r.kill else ""
        lines.append(f"{r.instances:15d} | {r.articles:8d} | {r.elapsed:7.1f} | {r.throughput:10.1f} | {r.steady_throughput:11.1f} | {rates} | "
                     f"{busy:>31} | {r.cpu_per_article:13.3f} | {r.mean_load:4.1f} | {r.bottleneck}{kill}")
    return "\n".join(lines)


def describe(result: RunResult) -> list[str]:
    lines = [f"N={result.instances}: outcomes {dict(result.outcomes)}; {result.events} events; "
             f"document frequencies count {result.df_documents}; articles in two events: {len(result.counted_twice)}; "
             f"event outcomes missing from events: {len(result.not_in_any_event)}"]
    for stage in STAGES:
        figures = result.stages[stage]
        lines.append(f"  {stage:8s} processed {figures.processed:6.0f}  busy {figures.busy_seconds:7.1f}s  "
                     f"one instance's capacity {figures.per_instance_capacity:6.1f} msg/s  "
                     f"CPU {figures.cpu_seconds:7.1f}s = {figures.per_core_capacity:6.1f} msg/s per core")
    lines.append(f"  machine load average during the run: {result.mean_load:.1f} (2 cores here; the workers' "
                 f"CPU time is what they cost, wall-clock time includes waiting for a core)")
    if result.kill:
        k = result.kill
        for stage in STAGES:
            lines.append(f"  {stage:8s} assigned partitions by instance port: before {k.before[stage]}, "
                         f"after killing :{k.killed_ports[stage]} {k.after_kill[stage]} "
                         f"({k.rebalance_seconds[stage]:.0f}s), after restart {k.after_restart[stage]}")
    return lines


def problems(result: RunResult, partitions: int) -> list[str]:
    """What went wrong in a run (empty when nothing was lost, nothing counted twice, partitions moved)."""
    found = []
    if sum(result.outcomes.values()) != result.articles:
        found.append(f"{result.articles - sum(result.outcomes.values())} articles without an outcome")
    if result.counted_twice:
        found.append(f"articles counted in two events: {result.counted_twice[:5]}")
    if result.not_in_any_event:
        found.append(f"articles with an event outcome in no event: {result.not_in_any_event[:5]}")
    if result.df_documents != result.outcomes.get("event", 0):
        found.append(f"document frequencies count {result.df_documents}, events hold {result.outcomes.get('event', 0)}")
    if result.kill:
        for stage in STAGES:
            before, after = result.kill.before[stage], result.kill.after_kill[stage]
            survivors = {port: n for port, n in after.items() if port in before}
            if not covered(after, partitions):
                found.append(f"{stage}: survivors do not cover all {partitions} partitions: {after}")
            if not any(n != before[port] for port, n in survivors.items()):
                found.append(f"{stage}: no survivor's assignment changed after the kill: {before} -> {after}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    parser.add_argument("--articles", type=int, default=5000, help="SaudiNewsNet articles per run")
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--instances", type=int, nargs="+", default=[1, 2, 3], help="instances per stage, one run each")
    parser.add_argument("--no-kill", action="store_true", help="do not kill an instance in the largest run")
    parser.add_argument("--redis-memory", type=int, metavar="ARTICLES", default=0,
                        help="instead: measure Redis memory of event state after this many synthetic articles")
    parser.add_argument("--topic-sizes", action="store_true",
                        help="instead: bytes each topic holds per article, from one replay of --articles")
    args = parser.parse_args(argv)
    if args.topic_sizes:
        sample = saudinewsnet_articles(args.shared, args.articles)
        if sample is None:
            print(f"topic sizes skipped: {args.shared}/corpus/saudinewsnet not found")
            return 0
        measure_topic_sizes(sample)
        return 0
    if args.redis_memory:
        if saudinewsnet_articles(args.shared, 1) is None:
            print(f"redis memory skipped: {args.shared}/corpus/saudinewsnet not found")
            return 0
        samples = measure_redis_memory(args.shared, args.redis_memory)
        for sample in samples:
            print(f"{sample.articles} articles, {sample.events} events: {sample.used_bytes / 2**20:.1f} MiB = "
                  f"{sample.used_bytes / sample.events * 100000 / 2**30:.2f} GiB per 100,000 events, "
                  f"{sample.used_bytes / sample.articles:.0f} bytes per article")
        return 0
    articles = saudinewsnet_articles(args.shared, args.articles)
    if articles is None:
        print(f"scale-out bench skipped: {args.shared}/corpus/saudinewsnet not found "
              "(it replays SaudiNewsNet from ../shared)")
        return 0
    print(f"scale-out: {len(articles)} SaudiNewsNet articles, {args.partitions} partitions, "
          f"instances per stage {args.instances}, embedded broker and Redis")
    results = []
    for n in args.instances:
        kill = not args.no_kill and n == max(args.instances) and n > 1
        print(f"run with {n} instance(s) of each worker{' (one of each killed mid-run)' if kill else ''} ...",
              flush=True)
        result = run_scale(articles, n, partitions=args.partitions, kill=kill)
        results.append(result)
        print("\n".join(describe(result)), flush=True)
    print()
    print(table(results))
    failures = [f"N={r.instances}: {p}" for r in results for p in problems(r, args.partitions)]
    # Each article's outcome depends on its content only: every run must end the same way.
    failures += [f"N={r.instances}: outcomes {dict(r.outcomes)} differ from N={results[0].instances}'s "
                 f"{dict(results[0].outcomes)}" for r in results[1:] if r.outcomes != results[0].outcomes]
    for failure in failures:
        print("FAILED:", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
