"""This run (the leader) and its companion pytest process at the other revision.

The companion runs the leader's selected tests, in the leader's order, in a checkout of
the other revision. At each measurement it says ``ready`` with the measurement's key and
waits; the leader, at the same key, times the two in lock-step
(:mod:`pytest_infergate.measure.lockstep`) and says ``stop``. A key the companion does
not reach before it moves past the leader's test is missing at that revision: NEW. A
key the leader is not at is told to ``skip`` (its test then just calls the model once).

Messages (:mod:`.channel`): companion -> leader ``hello``, ``ready {key, nodeid}``,
``warmed {clock}``, ``samples {ns, cpu_ns, span_ns, waited_ns}``, ``error {message}``,
``test_end {nodeid}``, ``done``; leader -> companion ``warm {seconds, calls, core}``,
``samples {count, clock}``, ``stop``, ``skip``.
For an accuracy evaluation: companion ``ready``, leader ``result``, companion
``accuracy {result}`` (:func:`pytest_infergate.store.results_file.encode_record`), leader ``stop``.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, TypeGuard

from pytest_infergate.against.channel import CHANNEL_VERSION, Channel, ChannelError
from pytest_infergate.against.revision import Revision
from pytest_infergate.measure.lockstep import ArmTimer, Turn, on_one_core
from pytest_infergate.options import COMPANION_ENV
from pytest_infergate.results import AccuracyResult
from pytest_infergate.store.results_file import WireError, decode_record, encode_record

#: How long the leader waits for the companion's next message: its start (imports,
#: collection, a model build in a fixture) and a test's work between two measurements.
WAIT_S = 600.0


class Companion:
    """The leader's handle on the companion process; :attr:`broken` says why it can no
    longer pair (empty while it can)."""

    def __init__(
        self,
        revision: Revision,
        process: subprocess.Popen[bytes],
        listener: socket.socket,
        token: str,
        order: Sequence[str],
        log: Path,
        tests_file: Path,
    ) -> None:
        self.revision = revision
        self._process = process
        self._listener = listener
        self._token = token
        self._order = {nodeid: i for i, nodeid in enumerate(order)}
        self._log = log
        self._tests_file = tests_file
        self.started_at = time.perf_counter()
        #: Seconds from the companion's start until it connected (imports, collection).
        self.start_s: float | None = None
        self._channel: Channel | None = None
        self._pending: dict[str, Any] | None = None
        self._done = False
        self.broken = ""
        #: Seconds the leader spent waiting for the companion outside lock-step turns.
        self.waited_s = 0.0
        #: Keys measured against the companion, and accuracy keys judged against its.
        self.paired: list[str] = []
        self.paired_accuracy: list[str] = []

    @classmethod
    def start(
        cls,
        revision: Revision,
        python: str,
        where: Path,
        nodeids: Sequence[str],
        extra_args: Sequence[str] = (),
    ) -> Companion:
        """Start ``python -m pytest`` in ``where`` (the leader's rootdir's place in the
        other checkout) on the files of ``nodeids`` that exist there; it connects back
        when it starts, and runs those of ``nodeids`` it collects, in their order."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        token = secrets.token_hex(16)
        paths = {n.split("::", 1)[0] for n in nodeids}
        files = sorted(p for p in paths if (where / p).exists())
        handle, list_path = tempfile.mkstemp(prefix="infergate-tests-", suffix=".json")
        with os.fdopen(handle, "w") as out:
            json.dump(list(nodeids), out)
        handle, log_path = tempfile.mkstemp(prefix="infergate-companion-", suffix=".log")
        host, port = listener.getsockname()
        env = {**os.environ, COMPANION_ENV: f"{host}:{port}:{token}:{list_path}"}
        env.pop("PYTEST_ADDOPTS", None)
        command = [python, "-m", "pytest", "-p", "no:cacheprovider", "-q", *extra_args, *files]
        with os.fdopen(handle, "wb") as sink:
            process = subprocess.Popen(
                command,
                cwd=where,
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        return cls(revision, process, listener, token, nodeids, Path(log_path), Path(list_path))

    # --- pairing -------------------------------------------------------------------

    def pair(self, key: str, nodeid: str) -> _Turns | None:
        """The companion's side of ``key``, waiting at its ``ready``; ``None`` when the
        key is missing at the other revision or the link broke (:attr:`broken`)."""
        turns = self._reach(key, nodeid)
        if turns is not None:
            self.paired.append(key)
        return turns

    def _reach(self, key: str, nodeid: str) -> _Turns | None:
        if self.broken or self._done:
            return None
        here = self._order.get(nodeid, -1)
        try:
            while True:
                message = self._next()
                op = message["op"]
                if op == "done":
                    self._done = True
                    return None
                if op == "test_end":
                    if self._order.get(message.get("nodeid", ""), -1) >= here:
                        return None
                    continue
                if op != "ready":
                    raise ChannelError(f"unexpected {op!r} from the companion")
                theirs = self._order.get(message.get("nodeid", ""), -1)
                if message.get("key") == key:
                    return _Turns(self._require_channel(), self)
                if theirs > here:
                    self._pending = message
                    return None
                self._require_channel().send("skip")
        except ChannelError as exc:
            self._break(str(exc))
            return None

    def accuracy(self, key: str, nodeid: str) -> AccuracyResult | None:
        """The companion's evaluation of ``key`` (``None``: missing there, or the link
        broke)."""
        turns = self._reach(key, nodeid)
        if turns is None:
            return None
        try:
            channel = self._require_channel()
            channel.send("result")
            message = channel.receive(WAIT_S)
            if message["op"] != "accuracy":
                raise ChannelError(f"expected 'accuracy' from the companion, got {message['op']!r}")
            result: AccuracyResult = decode_record(message.get("result"))
        except (ChannelError, WireError) as exc:
            self._break(str(exc))
            return None
        turns.stop()
        self.paired_accuracy.append(key)
        return result

    @contextmanager
    def quiet(self, key: str, nodeid: str) -> Iterator[None]:
        """Hold the companion at ``key`` (an in-process A/B run: both arms are this
        revision's) so that it does not load the machine while this process times."""
        turns = self._reach(key, nodeid)
        try:
            yield
        finally:
            if turns is not None:
                turns.stop()

    def _next(self) -> dict[str, Any]:
        if self._pending is not None:
            message, self._pending = self._pending, None
            return message
        started = time.perf_counter()
        try:
            return self._require_channel().receive(WAIT_S)
        finally:
            self.waited_s += time.perf_counter() - started

    def _require_channel(self) -> Channel:
        if self._channel is not None:
            return self._channel
        self._listener.settimeout(1.0)
        deadline = time.monotonic() + WAIT_S
        while True:
            if self._process.poll() is not None:
                raise ChannelError(
                    f"the companion exited ({self._process.returncode}) "
                    f"before it connected: {self.last_line()}"
                )
            try:
                sock, _ = self._listener.accept()
                break
            except TimeoutError:
                if time.monotonic() > deadline:
                    raise ChannelError(
                        f"the companion did not start within {WAIT_S:.0f} s"
                    ) from None
        channel = Channel(sock, WAIT_S)
        hello = channel.receive()
        if hello.get("op") != "hello" or hello.get("token") != self._token:
            channel.close()
            raise ChannelError("something else connected to the companion's port")
        if hello.get("version") != CHANNEL_VERSION:
            raise ChannelError(
                f"the companion speaks channel version {hello.get('version')}, "
                f"this run {CHANNEL_VERSION}: install the same pytest-infergate in both"
            )
        self._channel = channel
        self.start_s = time.perf_counter() - self.started_at
        return channel

    def _break(self, why: str) -> None:
        self.broken = f"{why} (the companion's output: {self._log})"
        self.close()

    # --- the end -------------------------------------------------------------------

    def last_line(self) -> str:
        """The companion's last line of output that says something."""
        try:
            lines = self._log.read_text(errors="replace").splitlines()
        except OSError:
            return "(no output)"
        wanted = [ln for ln in lines if ln.strip() and not set(ln.strip()) <= set("=-_ ")]
        for line in reversed(wanted):
            if "error" in line.lower() or "ERROR" in line:
                return line.strip()[:300]
        return wanted[-1].strip()[:300] if wanted else "(no output)"

    def finish(self, timeout_s: float = 60.0) -> None:
        """Let the companion run out (every later ``ready`` is skipped), then close."""
        if self._channel is not None and not self.broken:
            deadline = time.monotonic() + timeout_s
            try:
                while not self._done and time.monotonic() < deadline:
                    message = self._next()
                    if message["op"] == "ready":
                        self._channel.send("skip")
                    elif message["op"] == "done":
                        self._done = True
            except ChannelError:
                pass
        self.close()

    def close(self) -> None:
        """Close the channel and end the process (it is in its own tests; a closed
        channel ends it at its next message, a terminate now)."""
        if self._channel is not None:
            self._channel.close()
        self._listener.close()
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._tests_file.unlink(missing_ok=True)
        if not self.broken:
            self._log.unlink(missing_ok=True)


class _Turns:
    """The companion's arm of one measurement (a :class:`~.lockstep.Peer`)."""

    def __init__(self, channel: Channel, owner: Companion) -> None:
        self._channel = channel
        self._owner = owner

    def _ask(self, op: str, reply: str, **fields: Any) -> dict[str, Any]:
        self._channel.send(op, **fields)
        message = self._channel.receive(WAIT_S)
        if message["op"] == "error":
            raise PeerFailed(str(message.get("message", "the companion's call failed")))
        if message["op"] != reply:
            raise ChannelError(f"expected {reply!r} from the companion, got {message['op']!r}")
        return message

    def warm(self, seconds: float, calls: int, core: int | None) -> str:
        clock = self._ask("warm", "warmed", seconds=seconds, calls=calls, core=core).get("clock")
        if clock not in ("thread", "process"):
            raise ChannelError("the companion named no CPU clock")
        return str(clock)

    def samples(self, count: int, clock: str) -> Turn:
        message = self._ask("samples", "samples", count=count, clock=clock)
        wall, cpu = message.get("ns"), message.get("cpu_ns")
        span, waited = message.get("span_ns"), message.get("waited_ns")
        if not _counts(wall, count) or not _counts(cpu, count):
            raise ChannelError("the companion sent malformed samples")
        if not isinstance(span, int) or span < 0:
            raise ChannelError("the companion sent a malformed turn length")
        if waited is not None and (not isinstance(waited, int) or waited < 0):
            raise ChannelError("the companion sent a malformed run-queue wait")
        return Turn(tuple(wall), tuple(cpu), span, waited)

    def stop(self) -> None:
        try:
            self._channel.send("stop")
        except ChannelError as exc:
            self._owner._break(str(exc))


def _counts(values: object, count: int) -> TypeGuard[list[int]]:
    return (
        isinstance(values, list)
        and len(values) == count
        and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values)
    )


class PeerFailed(Exception):
    """The companion's call raised; its message."""


class Follower:
    """The companion's side: announces each measurement and times when told."""

    def __init__(self, channel: Channel) -> None:
        self._channel = channel

    @classmethod
    def connect(cls, spec: str) -> tuple[Follower, list[str]]:
        """Connect to the leader named by ``spec`` (``host:port:token:tests-file``);
        the leader's node ids, in its order."""
        host, port, token, tests = spec.split(":", 3)
        sock = socket.create_connection((host, int(port)), timeout=30)
        channel = Channel(sock, WAIT_S)
        channel.send("hello", token=token, version=CHANNEL_VERSION, python=sys.version.split()[0])
        order = json.loads(Path(tests).read_text())
        return cls(channel), [str(n) for n in order]

    def measure(
        self, key: str, nodeid: str, call: Callable[[], Any], sync: Callable[[], object] | None
    ) -> tuple[ArmTimer, list[int]] | None:
        """Serve ``key`` until the leader stops; the timer and every sample it took, or
        ``None`` when the leader skipped it (the caller then calls the model itself)."""
        self._channel.send("ready", key=key, nodeid=nodeid)
        timer = ArmTimer(call, sync)
        taken: list[int] = []
        with ExitStack() as pinned:
            while True:
                message = self._channel.receive(WAIT_S)
                op = message["op"]
                if op == "skip":
                    return None
                if op == "stop":
                    return timer, taken
                try:
                    if op == "warm":
                        core = message.get("core")
                        if isinstance(core, int):
                            pinned.enter_context(on_one_core(core))
                        timer.warm(float(message["seconds"]), int(message["calls"]))
                        self._channel.send("warmed", clock=timer.clock)
                    elif op == "samples":
                        turn = timer.samples(int(message["count"]), str(message["clock"]))
                        taken += turn.wall_ns
                        self._channel.send(
                            "samples",
                            ns=list(turn.wall_ns),
                            cpu_ns=list(turn.cpu_ns),
                            span_ns=turn.span_ns,
                            waited_ns=turn.waited_ns,
                        )
                    else:
                        raise ChannelError(f"unexpected {op!r} from the leader")
                except ChannelError:
                    raise
                except Exception as exc:
                    self._channel.send("error", message=f"{type(exc).__name__}: {exc}"[:500])
                    raise

    def offer_accuracy(self, key: str, nodeid: str, result: AccuracyResult) -> None:
        """Announce ``key`` and send ``result`` when the leader asks for it."""
        self._channel.send("ready", key=key, nodeid=nodeid)
        while True:
            op = self._channel.receive(WAIT_S)["op"]
            if op in ("skip", "stop"):
                return
            if op != "result":
                raise ChannelError(f"unexpected {op!r} from the leader")
            self._channel.send("accuracy", result=encode_record(result))

    def test_end(self, nodeid: str) -> None:
        self._channel.send("test_end", nodeid=nodeid)

    def done(self) -> None:
        try:
            self._channel.send("done")
        finally:
            self._channel.close()
