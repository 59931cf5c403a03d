"""Private brokers for tests that kill, freeze or fill one: never the shared services.

`PrivateRabbit` is a RabbitMQ node of its own (name, ports, data and log folders under a
temporary directory, no plugins); `PrivateRedis` a `redis-server` on a free port. Both listen
on 127.0.0.1 only, and `stop` ends them by pid.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis

from tests.integration.support import reachable


def free_port() -> int:
    """A TCP port nothing listens on at the moment."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class PrivateRabbit:
    """A RabbitMQ node of the test's own, controlled with `rabbitmqctl -n`."""

    base: Path
    nodename: str = field(default_factory=lambda: f"itest-{uuid.uuid4().hex[:8]}@localhost")
    port: int = field(default_factory=free_port)
    dist_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    @property
    def pid_file(self) -> Path:
        return self.base / "rabbit.pid"

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "RABBITMQ_NODENAME": self.nodename,
                "RABBITMQ_DIST_PORT": str(self.dist_port),
                "RABBITMQ_MNESIA_BASE": str(self.base / "mnesia"),
                "RABBITMQ_LOG_BASE": str(self.base / "log"),
                "RABBITMQ_CONFIG_FILE": str(self.base / "rabbitmq.conf"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.base / "enabled_plugins"),
                "RABBITMQ_PID_FILE": str(self.pid_file),
            }
        )
        return env

    def start(self) -> None:
        """Start the node (again, with its data, after `kill`) and wait until it serves."""
        if not (self.base / "rabbitmq.conf").exists():
            self.base.chmod(0o755)
            (self.base / "mnesia").mkdir()
            (self.base / "log").mkdir()
            (self.base / "enabled_plugins").write_text("[].\n")
            (self.base / "rabbitmq.conf").write_text(
                f"listeners.tcp.default = 127.0.0.1:{self.port}\nloopback_users = none\n"
            )
            shutil.chown(self.base, "rabbitmq", "rabbitmq")
            for path in self.base.rglob("*"):
                shutil.chown(path, "rabbitmq", "rabbitmq")
        self.pid_file.unlink(missing_ok=True)
        log = (self.base / "server.out").open("ab")
        self.process = subprocess.Popen(
            ["rabbitmq-server"], env=self._env(), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        self.ctl("wait", str(self.pid_file), "--timeout", "90", timeout=120)
        deadline = time.monotonic() + 30
        while not reachable(self.url):
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.nodename} does not listen on {self.port}")
            time.sleep(0.2)

    def ctl(self, *args: str, timeout: float = 60) -> str:
        """Run `rabbitmqctl -n NODE ARGS` and return its output."""
        done = subprocess.run(
            ["rabbitmqctl", "-n", self.nodename, *args],
            env=self._env(), capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            command = " ".join(args)
            raise AssertionError(f"rabbitmqctl {command} failed:\n{done.stdout}{done.stderr}")
        return done.stdout

    def beam_pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def kill(self) -> None:
        """`kill -9` the node's Erlang VM and wait for the server script to end."""
        pid = self.beam_pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if self.process is not None:
            self.process.wait(timeout=30)
        deadline = time.monotonic() + 30
        while reachable(self.url) and time.monotonic() < deadline:
            time.sleep(0.1)

    def freeze(self) -> None:
        """SIGSTOP the node's Erlang VM: it keeps its sockets but answers nothing."""
        pid = self.beam_pid()
        assert pid is not None, "the node is not running"
        os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        pid = self.beam_pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    def queue_length(self, queue: str) -> int:
        """Messages ready in `queue`, as the node counts them."""
        for line in self.ctl("list_queues", "name", "messages", "--quiet").splitlines():
            name, _, count = line.partition("\t")
            if name == queue:
                return int(count)
        raise AssertionError(f"queue {queue!r} is not on {self.nodename}")

    def stop(self) -> None:
        """Stop the node by pid and remove its folders."""
        pid = self.beam_pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
                os.kill(pid, signal.SIGKILL)
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        shutil.rmtree(self.base, ignore_errors=True)


@dataclass
class PrivateRedis:
    """A `redis-server` of the test's own, without persistence."""

    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        """A client of this server (the caller closes it)."""
        return redis.Redis.from_url(self.url)

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 15
        while not reachable(self.url):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise AssertionError(f"redis-server did not start on {self.port}")
            time.sleep(0.05)

    def freeze(self) -> None:
        """SIGSTOP the server: it keeps its sockets but answers nothing."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGCONT)
        self.process.kill()
        self.process.wait(timeout=15)


@pytest.fixture(scope="module")
def private_rabbit() -> Iterator[PrivateRabbit]:
    """One RabbitMQ node per test module; tests that kill it start it again."""
    if shutil.which("rabbitmq-server") is None or shutil.which("rabbitmqctl") is None:
        pytest.skip("the RabbitMQ server scripts are not on this machine")
    # Not under pytest's temporary folder: the rabbitmq user cannot enter it.
    node = PrivateRabbit(Path(tempfile.mkdtemp(prefix="itest-rabbit-")))
    try:
        node.start()
        yield node
    finally:
        node.stop()


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    """A fresh `redis-server` for one test, stopped (after SIGCONT) when it ends."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not on this machine")
    server = PrivateRedis()
    try:
        server.start()
        yield server
    finally:
        server.stop()
