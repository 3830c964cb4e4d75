"""``accuracy_eval`` under ``--infer-against``: the two revisions' predictions on the same
slice, paired (McNemar, flip rate), with no stored entry. A real tiny BERT pipeline on
300 local examples; the candidate revision turns 30 of its right answers wrong."""

from __future__ import annotations

import subprocess
import textwrap

import pytest

from tests.accuracy.test_accuracy_gate import INNER

COMMITTED = INNER.replace("MARKER", "").replace('env("INFERGATE_TEST_VARIANT", "same")', "VARIANT")


def _git(where, *args: str) -> None:
    subprocess.run(["git", *args], cwd=where, check=True, capture_output=True, timeout=60)


def test_a_revision_that_loses_ten_points_is_regressed_against_the_one_before(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, intents_file, tiny_model_dir
) -> None:
    monkeypatch.setenv("INFERGATE_TEST_DATA", str(intents_file))
    monkeypatch.setenv("INFERGATE_TEST_MODEL", str(tiny_model_dir))
    pytester.makepyfile(test_intents='VARIANT = "same"\n' + textwrap.dedent(COMMITTED))
    _git(pytester.path, "init", "-q")
    _git(pytester.path, "add", ".")
    _git(pytester.path, "-c", "user.name=a", "-c", "user.email=a@b.c", "commit", "-qm", "one")
    pytester.makepyfile(test_intents='VARIANT = "flip10"\n' + textwrap.dedent(COMMITTED))

    worse = pytester.runpytest("--infer-against=HEAD")
    worse.assert_outcomes(failed=1)
    out = worse.stdout.str()
    row = next(
        ln for ln in worse.stdout.lines if ln.startswith("test_intents.py::test_intent_accuracy ")
    )
    assert "accuracy" in row
    assert "REGRESSED" in row
    assert "-10.00 pts" in row
    assert "1 of 1 accuracy evaluations judged against its predictions" in out

    pytester.makepyfile(test_intents='VARIANT = "same"\n' + textwrap.dedent(COMMITTED))
    same = pytester.runpytest("--infer-against=HEAD")
    same.assert_outcomes(passed=1)
    assert "1 of 1 accuracy evaluations judged against its predictions" in same.stdout.str()
