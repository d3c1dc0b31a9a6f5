"""The ``marsad`` command."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from services.ingest import SAMPLE_FEED

from .config import ConfigError, Settings
from .redis_store import Keys, connect, delete_prefixed

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Marsad: streaming ingestion of Arabic news (clean, entities, events).")
err = Console(stderr=True)
STAGE_NAMES = ("ingest", "entities", "events")


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ValueError as exc:
        err.print(f"[red]configuration error:[/] {exc}")
        raise typer.Exit(2) from None


@app.command()
def worker(stage: Annotated[str, typer.Argument(help="ingest | entities | events")]) -> None:
    """Run one stage's worker in the foreground (configured from the environment)."""
    if stage not in STAGE_NAMES:
        err.print(f"[red]unknown stage {stage!r}[/]; choose one of: {', '.join(STAGE_NAMES)}")
        raise typer.Exit(2)
    if stage == "ingest":
        from services.ingest.worker import build_stage
    elif stage == "entities":
        from services.entities.worker import build_stage
    else:
        from services.events.worker import build_stage
    try:
        built = build_stage()
    except RuntimeError as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    built.run()


@app.command()
def clean(path: Annotated[Path, typer.Argument(exists=True, help="a .txt, .html, .json(l) or .zip")]) -> None:
    """Print the cleaned title and body of a document (no broker needed)."""
    from services.ingest.article import CleaningError, DecodingError, clean_document
    from services.ingest.files import InvalidRecord, iter_documents

    failed = False
    for index, document in enumerate(iter_documents([path])):
        if index:
            print("\n" + "-" * 40 + "\n")
        if isinstance(document, InvalidRecord):
            err.print(f"[red]{document.source_path}: {document.reason}[/]")
            failed = True
            continue
        try:
            cleaned = clean_document(document)
        except (CleaningError, DecodingError) as exc:
            err.print(f"[red]{document.get('source_path')}: {exc}[/]")
            failed = True
            continue
        print(cleaned.title)
        print()
        print(cleaned.text)
    if failed:
        raise typer.Exit(1)


@app.command()
def entities(path: Annotated[Path, typer.Argument(exists=True, help="a .txt, .html, .json(l) or .zip")]) -> None:
    """Print the entities of a document as JSON (no broker needed)."""
    from services.entities.enrich import enrich
    from services.entities.recognizers import load_recognizer
    from services.ingest.article import CleaningError, DecodingError, build_article, clean_document
    from services.ingest.files import InvalidRecord, iter_documents

    recognizer = load_recognizer(_settings().ner_backend)
    results = []
    for document in iter_documents([path]):
        if isinstance(document, InvalidRecord):
            err.print(f"[red]{document.source_path}: {document.reason}[/]")
            raise typer.Exit(1)
        try:
            article = build_article(document, clean_document(document))
        except (CleaningError, DecodingError) as exc:
            err.print(f"[red]{document.get('source_path')}: {exc}[/]")
            raise typer.Exit(1) from None
        enriched = enrich(article, recognizer)
        results.append({"doc_id": article["doc_id"], "title": article["title"], "ner_model": recognizer.name,
                        "entities": enriched["entities"]})
    output = results[0] if len(results) == 1 else results
    print(json.dumps(output, ensure_ascii=False, indent=1))


@app.command("ner-eval")
def ner_eval(
    path: Annotated[Path, typer.Argument(exists=True, help="CoNLL file: 'token TAG' lines")],
    model: Annotated[Path | None, typer.Option(
        help="a model file or folder, e.g. one `python -m services.entities.train --no-full` wrote "
             "(default: the shipped model)")] = None,
) -> None:
    """Score the default NER on a CoNLL file: precision, recall, F1 (conlleval) and tokens/s."""
    from services.entities.evaluation import evaluate
    from services.entities.ner import NerModel, default_model

    try:
        scores = evaluate(default_model() if model is None else NerModel.load(model), path)
    except (FileNotFoundError, ValueError) as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None
    print(json.dumps(scores, ensure_ascii=False))


@app.command()
def topics() -> None:
    """Create any missing topic on the configured Kafka cluster."""
    from .kafka_admin import ensure_topics

    settings = _settings()
    if not settings.kafka_bootstrap_servers:
        err.print("[red]KAFKA_BOOTSTRAP_SERVERS is not set[/] (the embedded broker creates its topics itself)")
        raise typer.Exit(2)
    created = asyncio.run(ensure_topics(settings))
    err.print(f"created: {', '.join(created) or 'nothing, every topic exists'}")


def _start_pipeline(settings: Settings, fresh: bool):
    from .pipeline import Pipeline

    err.print(f"[bold]Marsad[/] state in {settings.home}/ "
              f"({'embedded' if settings.embedded else 'configured'} services)")
    pipeline = Pipeline.services(settings)
    try:
        if pipeline.broker:
            err.print(f"  broker  Tansu on {pipeline.settings.kafka_bootstrap_servers} (in memory)")
        if pipeline.redis:
            err.print(f"  redis   valkey-server on {pipeline.redis.url} (append-only file in {settings.home}/redis)")
        if fresh:
            _clear_state(pipeline.settings)
        pipeline.create_topics()
        pipeline.start_workers()
        with err.status("starting workers (a consumer group join takes a few seconds)..."):
            pipeline.wait_ready()
        err.print("  workers " + ", ".join(f"{w.stage} ({w.health_url}/metrics)" for w in pipeline.workers))
    except BaseException:
        pipeline.stop()
        raise
    return pipeline


def _prepare_running(settings: Settings, fresh: bool) -> None:
    """Before pushing to workers that run elsewhere: say where, and clear state if asked."""
    err.print(f"[bold]Marsad[/] replay into the running pipeline on {settings.kafka_bootstrap_servers} "
              f"(topic prefix {settings.topic_prefix!r}, Redis prefix {settings.redis_prefix!r})")
    if fresh:
        _clear_state(settings)


def _clear_state(settings: Settings) -> None:
    """--fresh: delete Marsad's keys (those under its Redis prefix), nothing else."""
    client = connect(settings.redis_url, settings)
    removed = delete_prefixed(client, settings.redis_prefix)
    client.close()
    err.print(f"  --fresh: removed {removed} keys under {settings.redis_prefix!r}")


def _push(settings: Settings, paths: list[Path]):
    from services.ingest.files import iter_documents

    from .replay import push_documents

    with _progress() as progress:
        task = progress.add_task("sending documents", total=None)
        result = asyncio.run(push_documents(settings, iter_documents(paths),
                                            lambda n: progress.update(task, completed=n)))
    if result.rejected:
        err.print(f"[yellow]{len(result.rejected)} records broke the raw-document schema and went to the "
                  f"dead-letter topic[/], e.g. {result.rejected[0].source_path}: {result.rejected[0].reason}")
    return result


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=err, transient=False)


@app.command()
def replay(
    paths: Annotated[list[Path], typer.Argument(exists=True, help="files or folders to push through")],
    fresh: Annotated[bool, typer.Option("--fresh", help="start from empty state")] = False,
    stall_timeout: Annotated[float, typer.Option(help="fail when nothing progresses this long (s)")] = 300.0,
    workers: Annotated[bool, typer.Option(
        "--workers/--no-workers",
        help="start workers for the replay (default), or only push to a pipeline already running "
             "on KAFKA_BOOTSTRAP_SERVERS and REDIS_URL")] = True,
) -> None:
    """Push documents through the whole pipeline and wait until every one has left it."""
    from .replay import Stalled, summarize, wait_for_outcomes

    settings = _settings()
    if not workers and not (settings.kafka_bootstrap_servers and settings.redis_url):
        err.print("[red]--no-workers pushes to a running pipeline:[/] set KAFKA_BOOTSTRAP_SERVERS and REDIS_URL "
                  "to the broker and Redis its workers use")
        raise typer.Exit(2)
    started = time.monotonic()
    pipeline = _start_pipeline(settings, fresh) if workers else None
    try:
        if pipeline is None:
            _prepare_running(settings, fresh)
        target = pipeline.settings if pipeline else settings
        result = _push(target, paths)
        with _progress() as progress:
            task = progress.add_task("through the pipeline", total=len(set(result.doc_ids)))
            outcomes = wait_for_outcomes(target, result.doc_ids, stall_timeout=stall_timeout,
                                         on_progress=lambda n: progress.update(task, completed=n),
                                         check_alive=pipeline.check_alive if pipeline else lambda: None)
        elapsed = time.monotonic() - started
        kinds = summarize(outcomes)
        from services.events.store import current_events

        client = connect(target.redis_url, target)
        events = current_events(client, Keys(settings.redis_prefix))
        client.close()
        err.print(f"[bold green]replayed {len(set(result.doc_ids))} documents[/] in {elapsed:.1f}s: "
                  + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
                  + (f", {len(result.rejected)} rejected by schema" if result.rejected else "")
                  + f"; {len(events)} events in state")
    except (Stalled, RuntimeError) as exc:
        err.print(f"[red]replay failed:[/] {exc}")
        raise typer.Exit(1) from None
    finally:
        if pipeline is not None:
            pipeline.stop()


def _events_table(events: list[dict]) -> Table:
    table = Table(title=f"{len(events)} events", expand=True)
    table.add_column("event")
    table.add_column("articles", justify="right")
    table.add_column("sources")
    table.add_column("title")
    table.add_column("where")
    for event in events[:25]:
        where = (event.get("primary_location") or {}).get("name", "")
        table.add_row(event["event_id"], str(event["article_count"]), ", ".join(event["sources"]),
                      event["title"], where)
    return table


@app.command()
def events(as_json: Annotated[bool, typer.Option("--json", help="print one JSON array")] = False,
           limit: Annotated[int, typer.Option(help="at most this many (0: all)")] = 0) -> None:
    """Print the current events from Redis (starting the embedded Redis on the same state if needed)."""
    from services.events.store import current_events

    from .pipeline import Pipeline

    settings = _settings()
    pipeline = Pipeline.services(settings, need_broker=False)
    try:
        client = connect(pipeline.settings.redis_url, pipeline.settings)
        found = current_events(client, Keys(settings.redis_prefix), limit or None)
        client.close()
    finally:
        pipeline.stop()
    if as_json:
        print(json.dumps([{"id": e["event_id"], **e} for e in found], ensure_ascii=False, indent=1))
    else:
        Console().print(_events_table(found))


@app.command()
def trends(as_json: Annotated[bool, typer.Option("--json", help="print the snapshot as JSON")] = False) -> None:
    """Print the top rising entities (15 min, 1 h, 24 h windows of stream time, burst score)."""
    from services.events.store import EventStore

    from .pipeline import Pipeline
    from .redis_store import connect_async

    settings = _settings()
    pipeline = Pipeline.services(settings, need_broker=False)

    async def compute() -> dict | None:
        client = connect_async(pipeline.settings.redis_url, settings=pipeline.settings)
        try:
            return await EventStore(client, Keys(settings.redis_prefix), settings.event_threshold).trend_snapshot()
        finally:
            await client.aclose()

    try:
        snapshot = asyncio.run(compute())
    finally:
        pipeline.stop()
    if as_json:
        print(json.dumps(snapshot, ensure_ascii=False, indent=1))
        return
    if not snapshot or not snapshot["entities"]:
        err.print("no rising entities yet (an entity needs 2+ mentions in the last hour of stream time)")
        return
    table = Table(title=f"rising entities at {snapshot['snapshot_id']}")
    for column in ("entity", "type", "15m", "1h", "24h", "burst"):
        table.add_column(column, justify="right" if column not in ("entity", "type") else "left")
    for entity in snapshot["entities"]:
        counts = entity["counts"]
        table.add_row(entity["name"], entity["type"], str(counts["15m"]), str(counts["1h"]), str(counts["24h"]),
                      f"{entity['burst']:.2f}")
    Console().print(table)


@app.command()
def run(
    paths: Annotated[list[Path] | None, typer.Argument(help="files or folders (default: the sample feed)")] = None,
    until_idle: Annotated[bool, typer.Option("--until-idle", help="exit once all input has passed")] = False,
    fresh: Annotated[bool, typer.Option("--fresh", help="start from empty state")] = False,
    sources: Annotated[Path | None, typer.Option("--sources", exists=True, dir_okay=False,
                                                 help="TOML file of feeds to poll (or MARSAD_SOURCES)")] = None,
) -> None:
    """Run the whole pipeline, feed it, and show events as they form (Ctrl-C stops everything)."""
    from services.ingest.sources import SourcesError, load_sources

    from .replay import read_outcomes

    settings = _settings()
    if sources is not None:
        settings = replace(settings, sources=str(sources.resolve()))
    if settings.sources:
        try:
            feeds = load_sources(settings.sources)
        except (SourcesError, OSError) as exc:
            err.print(f"[red]sources:[/] {exc}")
            raise typer.Exit(2) from None
        err.print(f"polling {sum(f.enabled for f in feeds)} sources from {settings.sources}")
        if until_idle:
            err.print("[red]--until-idle has no end with feeds to poll; leave it out[/]")
            raise typer.Exit(2)
    paths = paths or ([] if settings.sources else [SAMPLE_FEED])
    pipeline = _start_pipeline(settings, fresh)
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    try:
        result = _push(pipeline.settings, paths)
        from services.events.store import current_events

        client = connect(pipeline.settings.redis_url, pipeline.settings)
        keys = Keys(settings.redis_prefix)
        pending = set(result.doc_ids)
        total = len(pending)
        with Live(console=err, refresh_per_second=2) as live:
            while not stop["now"]:
                pipeline.check_alive()
                pending -= set(read_outcomes(client, keys, pending))
                table = _events_table(current_events(client, keys, 25))
                table.caption = (f"{total - len(pending)}/{total} documents through"
                                 + ("; polling feeds" if pipeline.settings.sources else "") + "; "
                                 + ("idle, Ctrl-C to stop" if not pending else "working..."))
                live.update(table)
                if until_idle and not pending:
                    break
                time.sleep(1)
        client.close()
    except KeyboardInterrupt:
        err.print("stopping...")
    except RuntimeError as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None
    finally:
        pipeline.stop()
        err.print("stopped cleanly.")


def _exit_on_sigterm(signum: int, frame: object) -> None:
    # Unwinding (rather than dying on the spot) runs the `finally` blocks that stop every child
    # process a command started: workers, the broker, Redis.
    raise SystemExit(128 + signum)


def main() -> None:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except ConfigError as exc:
        # Settings found unusable after start (a CA file that does not load): a message, not a traceback.
        err.print(f"[red]configuration error:[/] {exc}")
        sys.exit(2)


if __name__ == "__main__":
    main()
