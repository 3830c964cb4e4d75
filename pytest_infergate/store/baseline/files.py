"""The baseline on disk: reading any of our JSON files safely, atomic writes (temp file, fsync,
``os.replace``), the lock an update holds, and stale temporaries."""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import signal
import stat
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from pytest_infergate.store.baseline.document import decode_baseline, encode_baseline
from pytest_infergate.store.baseline.records import Baseline
from pytest_infergate.store.codec import dumps
from pytest_infergate.store.reader import BaselineError

#: The largest file :func:`read_json` parses. A results file keeps every raw sample
#: (about 8 bytes each), so a thousand 10 s measurements of 1 ms calls fit in ~80 MB.
MAX_FILE_BYTES = 256 * 1024 * 1024


def read_json(path: Path) -> object:
    """Parse one of our JSON files, turning every way it can be unusable into a
    :class:`BaselineError`: not a regular file (a FIFO would block forever, ``/dev/zero``
    never ends), larger than :data:`MAX_FILE_BYTES`, not UTF-8, not JSON, nested
    too deeply for the parser, or holding an integer too long to convert. ``NaN``
    parses: the decoders refuse it, naming the field."""
    try:
        status = path.stat()
    except OSError as exc:
        raise BaselineError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    if stat.S_ISDIR(status.st_mode):
        raise BaselineError(f"{path}: is a directory; pass the path of a JSON file")
    if not stat.S_ISREG(status.st_mode):
        raise BaselineError(f"{path}: not a regular file; pass the path of a JSON file")
    if status.st_size > MAX_FILE_BYTES:
        raise BaselineError(
            f"{path}: {status.st_size} bytes, larger than the {MAX_FILE_BYTES} a baseline or "
            "results file may have; pass the right file"
        )
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_FILE_BYTES + 1)
        text = data.decode("utf-8")
    except OSError as exc:
        raise BaselineError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise BaselineError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if len(data) > MAX_FILE_BYTES:
        raise BaselineError(f"{path}: grew past {MAX_FILE_BYTES} bytes while being read")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BaselineError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            "fix it, or restore it from version control"
        ) from None
    except RecursionError:
        raise BaselineError(f"{path}: nested too deeply; not a pytest-infergate file") from None
    except ValueError as exc:  # an integer of more than 4300 digits
        raise BaselineError(f"{path}: not valid JSON ({exc})") from None


def load_baseline(path: Path) -> Baseline:
    """The baseline at ``path``; an empty one when the file does not exist yet."""
    if not path.exists() and not path.is_symlink():
        return Baseline()
    return decode_baseline(read_json(path), str(path))


# -- writing ----------------------------------------------------------------------------


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one step: a temporary file beside it, fsync,
    then ``os.replace``. On any failure the old file is untouched and the temporary
    file is removed; SIGTERM while writing counts as a failure, not a silent death.
    A symbolic link is followed: the file it points to is replaced, the link stays."""
    target = Path(os.path.realpath(path))
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with _terminate_as_interrupt(), os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
            mode = target.stat().st_mode & 0o777 if target.exists() else 0o644
            os.chmod(temporary, mode)
            os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into ``KeyboardInterrupt`` while the block runs (main thread only),
    so that the temporary file is removed instead of left behind by a killed process."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def check_writable(path: Path) -> None:
    """Fail early, before any test runs, if ``path`` could not be written at the end.

    Probes by creating a temporary file beside it (beside the file a symbolic link
    points to): permission bits alone say nothing when running as root or on
    read-only mounts.
    """
    if path.is_dir():
        raise BaselineError(f"{path}: is a directory; pass the path of a JSON file")
    directory = Path(os.path.realpath(path)).parent
    if not directory.is_dir():
        raise BaselineError(f"{path}: directory {directory} does not exist; create it first")
    if path.exists() and not path.is_file():
        raise BaselineError(f"{path}: not a regular file; pass the path of a JSON file")
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=directory)
    except OSError as exc:
        raise BaselineError(
            f"{path}: cannot write in {directory} ({exc.strerror}); "
            "fix its permissions or choose another path"
        ) from None
    os.close(fd)
    os.unlink(probe)


def write_baseline(path: Path, baseline: Baseline) -> None:
    """Write ``baseline`` to ``path`` (atomically); callers that read it first use
    :func:`update_baseline`, so that no concurrent writer's entries are lost."""
    write_atomic(path, dumps(encode_baseline(baseline)))


#: How long a baseline update waits for another process's update of the same file.
LOCK_TIMEOUT_S = 300.0


def lock_path(path: Path) -> Path:
    """The lock file of the baseline at ``path``: in the system's temp directory, keyed
    by the real path, so every process of this machine that updates that file (through
    any symbolic link) takes the same lock, and the user's repository gets no litter."""
    real = os.path.realpath(path)
    digest = hashlib.sha256(real.encode("utf-8", "surrogateescape")).hexdigest()[:20]
    return Path(tempfile.gettempdir()) / f"infergate-baseline-{digest}.lock"


def update_baseline(
    path: Path, change: Callable[[Baseline], Baseline], *, read: bool = True
) -> Baseline:
    """Read the baseline at ``path``, apply ``change`` and write the result, under the
    file's lock: two runs that update one file at once (two CI jobs on one runner)
    each add their entries to what the other wrote, instead of the last writer
    winning. Temporary files that a killed writer left behind are removed while the
    lock is held (no live writer can own them then). With ``read=False`` the file is
    replaced whole (``change`` gets an empty baseline). Returns what was written."""
    from filelock import FileLock, Timeout

    lock = FileLock(str(lock_path(path)), timeout=LOCK_TIMEOUT_S)
    try:
        with lock:
            remove_stale_temporaries(path)
            updated = change(load_baseline(path) if read else Baseline())
            write_baseline(path, updated)
    except Timeout:
        raise BaselineError(
            f"{path}: another process has held its lock ({lock.lock_file}) for "
            f"{LOCK_TIMEOUT_S:g} s; wait for it to finish, or remove the lock file if "
            "no infergate run is alive"
        ) from None
    return updated


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Delete the temporary files of interrupted writes of ``path`` (``.NAME.*.tmp``
    beside the file it resolves to); call it only while holding :func:`lock_path`."""
    target = Path(os.path.realpath(path))
    removed = []
    for leftover in target.parent.glob(f".{glob.escape(target.name)}.*.tmp"):
        with contextlib.suppress(OSError):
            leftover.unlink()
            removed.append(leftover)
    return removed
