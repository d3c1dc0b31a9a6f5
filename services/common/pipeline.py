"""Start and stop the whole pipeline: embedded services when nothing is configured, then the workers.

``marsad run`` and ``marsad replay`` share this. Workers run as child processes (one per stage,
each its own consumer group) with their logs under ``$MARSAD_HOME/logs``.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field, replace
from pathlib import Path

from .config import Settings
from .embedded import EmbeddedBroker, EmbeddedError, EmbeddedRedis, free_port, log_tail, stop_process
from .kafka_admin import ensure_topics

STAGES = ("ingest", "entities", "events")


@dataclass
class WorkerProcess:
    stage: str
    metrics_port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}"

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(self.health_url + "/readyz", timeout=2) as response:
                return bool(json.load(response).get("ready"))
        except (urllib.error.URLError, OSError, ValueError):
            return False


@dataclass
class Pipeline:
    """Everything ``marsad run``/``replay`` start, stopped in reverse order by :meth:`stop`."""

    settings: Settings
    broker: EmbeddedBroker | None = None
    redis: EmbeddedRedis | None = None
    workers: list[WorkerProcess] = field(default_factory=list)

    @classmethod
    def services(cls, settings: Settings, *, need_broker: bool = True) -> Pipeline:
        """Start embedded Redis (and broker) for whatever ``settings`` leave unset."""
        pipeline = cls(settings)
        home = settings.home
        try:
            if not settings.redis_url:
                pipeline.redis = EmbeddedRedis(home).start()
                settings = replace(settings, redis_url=pipeline.redis.url)
            if need_broker and not settings.kafka_bootstrap_servers:
                pipeline.broker = EmbeddedBroker(home).start()
                settings = settings.with_plaintext_kafka(pipeline.broker.bootstrap_servers)
        except (EmbeddedError, OSError):
            pipeline.stop()
            raise
        pipeline.settings = settings
        return pipeline

    def create_topics(self) -> list[str]:
        return asyncio.run(ensure_topics(self.settings))

    def start_workers(self, stages: tuple[str, ...] = STAGES, instances: int = 1) -> None:
        logs = self.settings.home / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        for stage in stages:
            for index in range(instances):
                self.workers.append(self._spawn(stage, index, logs))

    def _spawn(self, stage: str, index: int, logs: Path) -> WorkerProcess:
        port = free_port()
        env = dict(os.environ)
        env.update({
            "KAFKA_BOOTSTRAP_SERVERS": self.settings.kafka_bootstrap_servers,
            # Explicit, not inherited: with the embedded broker these are PLAINTEXT whatever the shell says.
            "KAFKA_SECURITY_PROTOCOL": self.settings.kafka_security_protocol,
            "KAFKA_SASL_MECHANISM": self.settings.kafka_sasl_mechanism,
            "KAFKA_SASL_USERNAME": self.settings.kafka_sasl_username,
            "KAFKA_SASL_PASSWORD": self.settings.kafka_sasl_password,
            "KAFKA_SSL_CAFILE": self.settings.kafka_ssl_cafile,
            "REDIS_URL": self.settings.redis_url,
            "REDIS_SSL_CAFILE": self.settings.redis_ssl_cafile,
            "REDIS_SSL_CERTFILE": self.settings.redis_ssl_certfile,
            "REDIS_SSL_KEYFILE": self.settings.redis_ssl_keyfile,
            "MARSAD_TOPIC_PREFIX": self.settings.topic_prefix,
            "MARSAD_PARTITIONS": str(self.settings.partitions),
            "MARSAD_REDIS_PREFIX": self.settings.redis_prefix,
            "MARSAD_HOME": str(self.settings.home),
            "MARSAD_METRICS_PORT": str(port),
            "MARSAD_METRICS_HOST": "127.0.0.1",
            "MARSAD_LOG_JSON": "1" if self.settings.log_json else "0",
            "MARSAD_LOG_LEVEL": self.settings.log_level,
            "MARSAD_SOURCES": self.settings.sources,
            "MARSAD_FETCH_ALLOW": self.settings.fetch_allow,
            "MARSAD_FETCH_HOST_DELAY": str(self.settings.fetch_host_delay),
        })
        suffix = f"-{index}" if index else ""
        log_path = logs / f"worker-{stage}{suffix}.log"
        with log_path.open("ab") as log_file:
            process = subprocess.Popen([sys.executable, "-m", "services.common.cli", "worker", stage],
                                       env=env, stdout=log_file, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True)
        return WorkerProcess(stage, port, process, log_path)

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Block until every worker reports ready; fail with its log tail if one dies."""
        deadline = time.monotonic() + timeout
        pending = list(self.workers)
        while pending:
            self.check_alive()
            for worker in list(pending):
                if worker.ready():
                    pending.remove(worker)
            if pending and time.monotonic() > deadline:
                names = ", ".join(w.stage for w in pending)
                raise RuntimeError(f"workers not ready after {timeout:.0f}s: {names}; logs in {self.settings.home}/logs")
            time.sleep(0.5)

    def restart(self, stage: str) -> WorkerProcess:
        """Start a fresh process for ``stage`` in place of one that died (or was killed)."""
        for index, worker in enumerate(self.workers):
            if worker.stage == stage and worker.process.poll() is not None:
                replacement = self._spawn(stage, 0, self.settings.home / "logs")
                self.workers[index] = replacement
                return replacement
        raise ValueError(f"no stopped {stage} worker to restart")

    def dead_workers(self) -> list[WorkerProcess]:
        return [w for w in self.workers if w.process.poll() is not None]

    def check_alive(self) -> None:
        """Raise with the log's last lines when a worker has exited."""
        for worker in self.dead_workers():
            raise RuntimeError(f"the {worker.stage} worker exited (code {worker.process.returncode}); "
                               f"last lines of {worker.log_path}:\n{log_tail(worker.log_path, 25)}")

    def stop(self) -> None:
        # Workers first (they flush and commit), then the broker, then Redis (it writes its file last).
        for worker in self.workers:
            if worker.process.poll() is None:
                worker.process.terminate()
        for worker in self.workers:
            stop_process(worker.process, timeout=20)
        self.workers.clear()
        if self.broker is not None:
            self.broker.stop()
        if self.redis is not None:
            self.redis.stop()

