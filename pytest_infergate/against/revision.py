"""The revision to measure against: a git revision in a temporary worktree, or a checkout.

A worktree (``git worktree add --detach``) shares the repository's objects, so making
one costs a checkout of the tracked files and never touches the user's working tree or
index. It is removed when the run ends, and by :func:`prune_stale` at the next run's
start when a crash left one behind.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

#: Where this plugin's worktrees live: a prefix that :func:`prune_stale` recognises.
WORKTREE_PREFIX = "infergate-against-"


class RevisionError(Exception):
    """The revision cannot be checked out here; the message says why in one line."""


@dataclass(frozen=True)
class Revision:
    """A checkout of the other revision, and how to name it in reports."""

    #: What the user asked for (``origin/main``, ``HEAD~1``, a path).
    spec: str
    #: The commit's full sha, or ``None`` for a checkout that is not a git work tree.
    sha: str | None
    #: The checkout's top directory (a temporary worktree, or the given path).
    root: Path
    #: Whether :attr:`root` is a worktree this run made (and removes).
    temporary: bool

    @property
    def label(self) -> str:
        """``abc1234`` (a commit), or the path."""
        return self.sha[:7] if self.sha else str(self.root)


def _git(cwd: Path, *args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
        )
    except FileNotFoundError:
        raise RevisionError("git is not installed") from None
    except subprocess.TimeoutExpired:
        raise RevisionError(f"git {' '.join(args)} took over 300 s") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise RevisionError(f"git {' '.join(args)}: {last}")
    return done.stdout.strip()


def repository_top(start: Path) -> Path:
    """The top directory of the git work tree holding ``start``."""
    return Path(_git(start, "rev-parse", "--show-toplevel"))


def check_out(spec: str, start: Path) -> Revision:
    """The checkout of ``spec``: an existing directory as it is, or a temporary worktree
    of the git revision ``spec`` of the repository holding ``start``."""
    path = Path(spec).expanduser()
    if spec not in {".", ""} and path.is_dir():
        try:
            sha: str | None = _git(path, "rev-parse", "HEAD")
        except RevisionError:
            sha = None
        return Revision(spec, sha, path.resolve(), temporary=False)
    top = repository_top(start)
    prune_stale(top)
    try:
        sha = _git(top, "rev-parse", "--verify", "--quiet", f"{spec}^{{commit}}")
    except RevisionError:
        raise RevisionError(
            f"{spec!r} is neither a directory nor a commit of {top} "
            "(in CI, fetch the history: actions/checkout with fetch-depth: 0)"
        ) from None
    root = Path(tempfile.mkdtemp(prefix=WORKTREE_PREFIX))
    try:
        _git(top, "worktree", "add", "--detach", "--quiet", str(root), sha)
    except RevisionError:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return Revision(spec, sha, root, temporary=True)


def remove(revision: Revision, start: Path) -> None:
    """Remove a temporary worktree (a given checkout is left alone); never raises."""
    if not revision.temporary:
        return
    with contextlib.suppress(RevisionError):
        _git(repository_top(start), "worktree", "remove", "--force", str(revision.root))
    shutil.rmtree(revision.root, ignore_errors=True)
    with contextlib.suppress(RevisionError):
        _git(repository_top(start), "worktree", "prune")


def prune_stale(top: Path) -> None:
    """Forget this plugin's worktrees whose directory is gone (a run killed before it
    could remove its own): ``git worktree prune`` drops exactly those."""
    with contextlib.suppress(RevisionError):
        _git(top, "worktree", "prune")


def current_commit(where: Path) -> tuple[str, bool] | None:
    """The commit checked out in the git work tree holding ``where`` and whether the
    tree has uncommitted changes to tracked files; ``None`` outside a git work tree."""
    try:
        sha = _git(where, "rev-parse", "HEAD")
        changed = _git(where, "status", "--porcelain", "--untracked-files=no")
    except (RevisionError, OSError):
        return None
    return sha, bool(changed)
