"""Progress of a long measurement on a terminal: what is timed, samples so far, p50 so far.

A person watching a 10 s measurement (or a sweep of six) should see it move; a CI log
should not fill with it. So a progress line is drawn only on a terminal, not under
``-q``, not in CI, not on an xdist worker (:func:`progress_wanted`, as the accuracy
evaluation's), and only once the measurement (or sweep) has run for ``delay_s``.

Timing is left alone: the line is redrawn between samples, after the clock reads, at
most every ``interval_s``; a call of the hook between redraws reads one clock. ``rich``
(the ``progress`` extra) draws it when installed, imported only when a line is first
drawn, and with no refresh thread of its own (a thread waking during the timed calls
would be noise); else a plain ``\\r`` line.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib.util import find_spec
from typing import IO, TYPE_CHECKING, Any, Literal, cast

if TYPE_CHECKING:
    import pytest

#: ``(label, started) -> hook``: a progress hook for one measurement whose delay counts
#: from ``started`` (``time.monotonic``; a sweep's start, for its later points).
ProgressFactory = Callable[[str, float], "SamplingProgress"]

Backend = Literal["rich", "plain"]


@dataclass(frozen=True)
class Terminal:
    """Where progress goes: ``write`` past pytest's capture, and the line's width."""

    write: Callable[[str], None]
    width: int = 80


class SamplingProgress:
    """The ``after_sample`` hook of one measurement (:class:`.timing.Hooks`)."""

    def __init__(
        self,
        label: str,
        terminal: Terminal,
        *,
        started: float | None = None,
        delay_s: float = 2.0,
        interval_s: float = 0.25,
        backend: Backend = "plain",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._label = label
        self._terminal = terminal
        self._clock = clock
        self._start = clock() if started is None else started
        self._delay_s = delay_s
        self._interval_s = interval_s
        self._backend = backend
        self._next = self._start + delay_s
        self._line: _Line | None = None

    def __call__(self, samples: Sequence[int]) -> None:
        now = self._clock()
        if now < self._next or not samples:
            return
        self._next = now + self._interval_s
        if self._line is None:
            self._line = (
                _RichLine(self._terminal) if self._backend == "rich" else _PlainLine(self._terminal)
            )
        self._line.draw(self.text(samples, now - self._start))

    def text(self, samples: Sequence[int], elapsed_s: float) -> str:
        """``label: 812 samples, p50 ~1.23 ms, 4 s``."""
        ordered = sorted(samples)
        p50_ms = ordered[(len(ordered) - 1) // 2] / 1e6
        return f"{self._label}: {len(samples)} samples, p50 ~{p50_ms:.3g} ms, {elapsed_s:.0f} s"

    def close(self) -> None:
        """Erase the line, so the test's outcome prints where it would have."""
        if self._line is not None:
            self._line.close()
            self._line = None


class _Line:
    def draw(self, text: str) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class _PlainLine(_Line):
    """A ``\\r`` line, padded over its longest text."""

    def __init__(self, terminal: Terminal) -> None:
        self._terminal = terminal
        self._width = 0

    def draw(self, text: str) -> None:
        text = text[: max(self._terminal.width - 1, 20)]
        # A fresh line the first time: the test's own status line is mid-way on this one.
        self._terminal.write(("\r" if self._width else "\n") + text.ljust(self._width))
        self._width = max(self._width, len(text))

    def close(self) -> None:
        if self._width:
            self._terminal.write("\r" + " " * self._width + "\r")
            self._width = 0


class _Stream:
    """The file rich's console writes to: the terminal's ``write``."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self._write = write

    def write(self, text: str) -> int:
        self._write(text)
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return True


class _RichLine(_Line):
    """A rich progress display, refreshed only when drawn (``auto_refresh=False``: no
    thread), transient (gone when closed), not capturing ``sys.stdout``."""

    def __init__(self, terminal: Terminal) -> None:
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn

        terminal.write("\n")
        stream = cast("IO[str]", _Stream(terminal.write))
        console = Console(file=stream, force_terminal=True, width=terminal.width)
        self._progress: Any = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            console=console,
            auto_refresh=False,
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._task = self._progress.add_task("", total=None)
        self._progress.start()

    def draw(self, text: str) -> None:
        self._progress.update(self._task, description=text)
        self._progress.refresh()

    def close(self) -> None:
        self._progress.stop()


#: Environment variables whose presence means "a CI log, not a person at a terminal".
CI_VARIABLES = ("CI", "BUILD_NUMBER")


def progress_wanted(*, isatty: bool, verbosity: int, environ: Mapping[str, str]) -> bool:
    """Draw progress only for a person watching: a terminal, not ``-q``, not CI."""
    return isatty and verbosity >= 0 and not any(environ.get(v) for v in CI_VARIABLES)


def backend() -> Backend:
    """``rich`` when it is installed (the ``progress`` extra), else the plain line."""
    return "rich" if find_spec("rich") is not None else "plain"


def terminal_of(config: pytest.Config) -> Terminal | None:
    """The terminal progress is written to, past pytest's output capture, or ``None``
    when no person is watching (no terminal, ``-q``, CI, an xdist worker)."""
    reporter: Any = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or hasattr(config, "workerinput"):
        return None
    wanted = progress_wanted(
        isatty=bool(reporter.isatty()), verbosity=config.get_verbosity(), environ=os.environ
    )
    if not wanted:
        return None
    capture: Any = config.pluginmanager.get_plugin("capturemanager")
    writer = config.get_terminal_writer()

    def write(text: str) -> None:
        if capture is None:
            writer.write(text, flush=True)
            return
        with capture.global_and_fixture_disabled():
            writer.write(text, flush=True)

    return Terminal(write, max(int(writer.fullwidth), 40))


def sampling_progress(config: pytest.Config) -> ProgressFactory | None:
    """The progress factory of a session, or ``None`` when none is to be drawn."""
    terminal = terminal_of(config)
    if terminal is None:
        return None
    chosen = backend()

    def make(label: str, started: float) -> SamplingProgress:
        return SamplingProgress(label, terminal, started=started, backend=chosen)

    return make


@contextlib.contextmanager
def measuring(
    factory: ProgressFactory | None, label: str, started: float | None = None
) -> Iterator[Callable[[Sequence[int]], None] | None]:
    """The ``after_sample`` hook for one measurement (``None``: no progress), closed
    (its line erased) when the measurement ends, however it ends."""
    if factory is None:
        yield None
        return
    progress = factory(label, time.monotonic() if started is None else started)
    try:
        yield progress
    finally:
        progress.close()
