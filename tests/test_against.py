"""``--infer-against=REV``: real pytest sessions in a temporary git repository of two
commits, the companion a real pytest process in a real worktree.

The models burn CPU time on the calling thread (not a wall-clock wait), so a 2x slower
revision reads 2x whatever else loads the machine, and an unchanged one reads 1x.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from pytest_infergate.against.revision import WORKTREE_PREFIX
from pytest_infergate.measure.lockstep import ArmTimer, Turn, lead
from pytest_infergate.measure.timing import SamplingPlan

MODEL = textwrap.dedent(
    """
    import time

    FACTOR = {factor}

    def model(x):
        end = time.thread_time() + 0.001 * FACTOR
        while time.thread_time() < end:
            pass
        return x * 2

    def test_model_latency(infer_bench):
        assert infer_bench(model, 21) == 42
    """
)

INI = "[pytest]\ninfer_max_time = 1.5\n"


def _git(where: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=where, capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout.strip()


@pytest.fixture
def repo(pytester: pytest.Pytester) -> pytest.Pytester:
    """A git repository whose one commit holds a 1 ms model test."""
    _git(pytester.path, "init", "-q")
    _git(pytester.path, "config", "user.email", "ci@example.com")
    _git(pytester.path, "config", "user.name", "ci")
    pytester.makeini(INI)
    pytester.makepyfile(test_model=MODEL.format(factor=1.0))
    _git(pytester.path, "add", ".")
    _git(pytester.path, "commit", "-q", "-m", "one")
    return pytester


def _commit(repo: pytest.Pytester, message: str, **files: str) -> None:
    if files:
        repo.makepyfile(**files)
    _git(repo.path, "add", ".")
    _git(repo.path, "commit", "-q", "-m", message)


def _leftovers(repo: pytest.Pytester) -> list[str]:
    """Worktrees git still lists besides the main one, and companion processes whose
    working directory is one of ours."""
    listed = _git(repo.path, "worktree", "list", "--porcelain").splitlines()
    trees = [ln for ln in listed if ln.startswith("worktree ") and WORKTREE_PREFIX in ln]
    processes = []
    for proc in Path("/proc").iterdir():
        try:
            if WORKTREE_PREFIX in os.readlink(proc / "cwd"):
                processes.append(proc.name)
        except OSError:
            continue
    return trees + processes


def test_a_2x_slower_revision_regresses_and_an_unchanged_one_passes(
    repo: pytest.Pytester,
) -> None:
    _commit(repo, "two", test_model=MODEL.format(factor=2.0))
    slower = repo.runpytest("--infer-against=HEAD~1")
    slower.assert_outcomes(failed=1)
    out = slower.stdout.str()
    assert "REGRESSED" in out
    head_1 = _git(repo.path, "rev-parse", "--short=7", "HEAD~1")
    assert f"vs {head_1} (HEAD~1)" in out
    assert "1 of 1 latency measurements timed in lock-step" in out
    # No stored entry exists anywhere: the verdict is the revisions' ratio alone.
    unchanged = repo.runpytest("--infer-against=HEAD")
    unchanged.assert_outcomes(passed=1)
    assert "PASS" in unchanged.stdout.str()
    assert _leftovers(repo) == []


def test_the_working_tree_is_measured_against_a_committed_revision(
    repo: pytest.Pytester,
) -> None:
    """Uncommitted edits are the candidate; the commit is checked out elsewhere."""
    repo.makepyfile(test_model=MODEL.format(factor=2.0))
    result = repo.runpytest("--infer-against=HEAD")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*latency REGRESSED: candidate/reference *vs * (HEAD)*"])
    assert "FACTOR = 2.0" in (repo.path / "test_model.py").read_text()
    assert _git(repo.path, "status", "--porcelain", "--untracked-files=no") == "M test_model.py"


def test_a_test_missing_at_the_revision_is_new(repo: pytest.Pytester) -> None:
    extra = MODEL.format(factor=1.0).replace("test_model_latency", "test_added")
    repo.makepyfile(test_added=extra)
    result = repo.runpytest("--infer-against=HEAD", "-v")
    result.assert_outcomes(passed=2)
    lines = result.stdout.lines
    added = [ln for ln in lines if ln.startswith("test_added.py::test_added  ")]
    assert added
    assert all(ln.rstrip().endswith("NEW") for ln in added)
    assert "1 of 2 latency measurements timed in lock-step" in result.stdout.str()
    strict = repo.runpytest("--infer-against=HEAD", "--infer-strict")
    strict.assert_outcomes(passed=1, failed=1)


def test_a_revision_that_cannot_be_checked_out_falls_back_in_one_line(
    repo: pytest.Pytester,
) -> None:
    result = repo.runpytest("--infer-against=no-such-branch")
    result.assert_outcomes(passed=1)
    lines = [ln for ln in result.stdout.lines if "--infer-against=no-such-branch" in ln]
    assert len(lines) == 1
    assert "neither a directory nor a commit" in lines[0]
    assert "judged by the stored gate instead" in lines[0]
    strict = repo.runpytest("--infer-against=no-such-branch", "--infer-strict")
    assert strict.ret == pytest.ExitCode.TESTS_FAILED
    assert "--infer-strict fails the run" in strict.stdout.str()


def test_a_revision_whose_tests_fail_to_collect_falls_back(repo: pytest.Pytester) -> None:
    _commit(repo, "broken", test_model="import no_such_module_anywhere\n")
    repo.makepyfile(test_model=MODEL.format(factor=1.0))
    result = repo.runpytest("--infer-against=HEAD")
    result.assert_outcomes(passed=1)
    out = result.stdout.str()
    # The companion collected nothing of the leader's: every key is NEW, said once.
    assert "NEW" in out
    assert "0 of 1 latency measurements timed in lock-step" in out
    assert _leftovers(repo) == []


def test_nothing_is_left_behind_after_an_interrupt(repo: pytest.Pytester) -> None:
    interrupted = MODEL.format(factor=1.0) + textwrap.dedent(
        """
        def test_zz_interrupt():
            raise KeyboardInterrupt
        """
    )
    _commit(repo, "interrupt", test_model=interrupted)
    result = repo.runpytest_subprocess("--infer-against=HEAD")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert _leftovers(repo) == []


def test_xdist_and_a_baseline_update_are_refused(repo: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    result = repo.runpytest("--infer-against=HEAD", "-n", "2")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--infer-against*cannot run under pytest-xdist*"])
    result = repo.runpytest("--infer-against=HEAD", "--infer-update-baseline")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--infer-against and --infer-update-baseline do not mix*"])


def test_compare_runs_in_process_while_the_companion_waits(repo: pytest.Pytester) -> None:
    ab = MODEL.format(factor=1.0) + textwrap.dedent(
        """
        def test_ab(infer_bench):
            infer_bench.compare(model, model, args=(1,), max_slowdown=0.5)
        """
    )
    _commit(repo, "ab", test_model=ab)
    result = repo.runpytest("--infer-against=HEAD")
    result.assert_outcomes(passed=2)
    assert "1 of 2 latency measurements timed in lock-step" in result.stdout.str()


def test_a_checkout_path_is_measured_as_it_is(repo: pytest.Pytester, tmp_path: Path) -> None:
    other = tmp_path / "other"
    _git(repo.path, "worktree", "add", "--detach", "-q", str(other), "HEAD")
    repo.makepyfile(test_model=MODEL.format(factor=2.0))
    result = repo.runpytest(f"--infer-against={other}")
    result.assert_outcomes(failed=1)
    assert other.is_dir()  # a given checkout is not removed
    _git(repo.path, "worktree", "remove", "--force", str(other))


class _Recorder:
    """A peer whose calls are logged with the leader's, to check the turn order."""

    def __init__(self, log: list[str]) -> None:
        self.log = log

    def warm(self, seconds: float, calls: int, core: int | None) -> str:
        self.log.append("peer-warm")
        self.core = core
        return "thread"

    def samples(self, count: int, clock: str) -> Turn:
        self.log.extend(["B"] * count)
        self.clock = clock
        return Turn((1_000_000,) * count, (900_000,) * count, 1_000_000 * count, None)

    def stop(self) -> None:
        self.log.append("stop")


def test_lead_takes_turns_in_abba_order_with_equal_counts() -> None:
    log: list[str] = []

    def call() -> int:
        log.append("A")
        return 1

    timer = ArmTimer(call, None)
    plan = SamplingPlan(warmup_calls=2, warmup_s=0.0, min_samples=1, max_time_s=30.0)
    peer = _Recorder(log)
    allowed = os.sched_getaffinity(0)
    timing = lead(timer, peer, plan=plan, looks=[20, 60], decide=lambda *a: False)
    assert log[0] == "peer-warm"
    # Both processes' calling threads on one core for the measurement, restored after.
    assert peer.core in allowed
    assert os.sched_getaffinity(0) == allowed
    sampled = [x for x in log[1:] if x in "AB"]
    # Warm-up calls of this arm come first; then runs of A and B alternate, each run of
    # B as long as the A run after it.
    runs: list[tuple[str, int]] = []
    for x in sampled[timer.warmup_calls :]:
        if runs and runs[-1][0] == x:
            runs[-1] = (x, runs[-1][1] + 1)
        else:
            runs.append((x, 1))
    assert [r[0] for r in runs[:4]] == ["A", "B", "A", "B"]
    a_samples = [n // timer.group for x, n in runs if x == "A"]
    b_samples = [n for x, n in runs if x == "B"]
    # Each turn of the other process is as long as this process's turn after it.
    assert b_samples[: len(a_samples) - 1] == a_samples[1 : len(b_samples) + 1]
    assert len(timing.candidate.samples_ns) == len(timing.reference.samples_ns) >= 60
    # Both arms' CPU time per call travels with the samples, read on one clock.
    assert peer.clock == timing.candidate.cpu_clock == "thread"
    assert timing.reference.cpu_samples_ns[0] == 900_000
    assert len(timing.candidate.cpu_samples_ns) == len(timing.candidate.samples_ns)


def test_against_baseline_measures_the_revision_the_baseline_was_recorded_at(
    repo: pytest.Pytester,
) -> None:
    recorded = repo.runpytest("--infer-baseline=baseline.json", "--infer-update-baseline")
    recorded.assert_outcomes(passed=1)
    document = json.loads((repo.path / "baseline.json").read_text())
    head = _git(repo.path, "rev-parse", "HEAD")
    assert document["revision"] == {"sha": head, "dirty": False}
    _commit(repo, "baseline")  # commits baseline.json; the model is unchanged
    _commit(repo, "slower", test_model=MODEL.format(factor=2.0))
    result = repo.runpytest("--infer-baseline=baseline.json", "--infer-against=baseline")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*vs {head[:7]} (baseline)*"])
    # A baseline without a revision: one line, and the stored gate.
    del document["revision"]
    (repo.path / "baseline.json").write_text(json.dumps(document))
    fallback = repo.runpytest("--infer-baseline=baseline.json", "--infer-against=baseline")
    fallback.stdout.fnmatch_lines(["*the baseline records no revision*stored gate instead*"])


def test_a_baseline_recorded_from_a_dirty_tree_says_so(repo: pytest.Pytester) -> None:
    (repo.path / "notes.txt").write_text("untracked files do not count\n")
    repo.makepyfile(test_model=MODEL.format(factor=1.0) + "\n# an uncommitted edit\n")
    repo.runpytest("--infer-baseline=baseline.json", "--infer-update-baseline")
    document = json.loads((repo.path / "baseline.json").read_text())
    assert document["revision"]["dirty"] is True
    result = repo.runpytest("--infer-baseline=baseline.json", "--infer-against=baseline")
    result.stdout.fnmatch_lines(["*recorded at * with uncommitted changes*"])
