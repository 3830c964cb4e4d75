"""Fuzzing the readers: mutated baselines and results files, through the decoders, the
``infergate`` command and pytest itself.

Whatever the mutation, the promise is the same: a successful decode, or one line that
names the file and the field (``BaselineError``; ``infergate: error: ...`` and exit 2 in
the CLI; ``ERROR: infergate: ...`` and exit 4 in pytest). Never a traceback, and the
file byte-identical afterwards. Bounded in time: a few hundred examples in all.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from pytest_infergate.cli import main  # noqa: E402
from pytest_infergate.store.baseline import BaselineError, decode_baseline  # noqa: E402
from pytest_infergate.store.results_file import decode_results  # noqa: E402

T = TypeVar("T")
ROOT = Path(__file__).parent.parent
BASELINES = {
    "v1": json.loads((ROOT / "tests" / "data" / "baseline_v1.json").read_text()),
    "example": json.loads((ROOT / "example_project" / "baseline.json").read_text()),
}

#: The values that broke readers before: zero and negative times, NaN, infinities,
#: integers too large for a float, absurd magnitudes, strings where numbers belong.
DANGEROUS = st.sampled_from(
    [0, -1, 10**400, 2**64, 0.0, 1e-300, 1e300, math.nan, math.inf, -math.inf, "1", True, None]
)

#: Values a mutation puts in place of a field: mostly the dangerous ones, and every
#: JSON type.
JSON_VALUES = st.one_of(
    DANGEROUS,
    DANGEROUS,
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers(min_value=-(10**30), max_value=10**30)
        | st.floats(allow_nan=True, allow_infinity=True)
        | st.text(max_size=20)
        | st.sampled_from(["2026-11-25T00:00:00+00:00", "not a time", "latency", "ratio"]),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.text(max_size=8), children, max_size=4)
        ),
        max_leaves=8,
    ),
)


def _paths(document: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside ``document`` (keys and list indices)."""
    found = [prefix] if prefix else []
    if isinstance(document, dict):
        for key, value in document.items():
            found.extend(_paths(value, (*prefix, key)))
    elif isinstance(document, list):
        for index, value in enumerate(document[:3]):  # the first few items stand for all
            found.extend(_paths(value, (*prefix, index)))
    return found


def _at(document: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        document = document[step]
    return document


def _mutate(document: Any, data: st.DataObject) -> Any:
    """One to three mutations of a deep copy: replace a value, delete a key, or empty
    a container."""
    mutated = json.loads(json.dumps(document))
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        paths = _paths(mutated)
        if not paths:
            break
        leaves = [p for p in paths if not isinstance(_at(mutated, p), (dict, list))]
        prefer_leaves = data.draw(st.integers(0, 3), label="leaf") > 0
        path = data.draw(st.sampled_from(leaves if leaves and prefer_leaves else paths))
        parent = mutated
        for step in path[:-1]:
            parent = parent[step]
        action = data.draw(
            st.sampled_from(["replace", "replace", "replace", "delete", "empty"]), label="action"
        )
        if action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif action == "empty" and isinstance(parent[path[-1]], (dict, list)):
            parent[path[-1]] = type(parent[path[-1]])()
        else:
            parent[path[-1]] = data.draw(JSON_VALUES, label="value")
    return mutated


def _text(document: Any, data: st.DataObject) -> str:
    """The mutated document as text; sometimes cut short or with a byte changed."""
    text = json.dumps(document, indent=2, allow_nan=True)
    damage = data.draw(
        st.sampled_from(["none", "none", "none", "truncate", "byte", "deep"]), label="damage"
    )
    if damage == "deep":  # nesting that exhausts a recursive parser
        return "[" * 100_000 + text + "]" * 100_000
    if damage == "truncate" and text:
        text = text[: data.draw(st.integers(0, len(text) - 1), label="cut")]
    elif damage == "byte" and text:
        at = data.draw(st.integers(0, len(text) - 1), label="at")
        text = (
            text[:at]
            + data.draw(st.sampled_from(["{", "]", '"', "\\", "\x00", "é"]))
            + text[at + 1 :]
        )
    return text


def _decoded_or_refused(decode: Callable[[object, str], T], document: object) -> T | None:
    """``decode(document)``, or ``None`` after checking its refusal names the file, in
    one line; any other exception fails the test."""
    try:
        return decode(document, "fuzzed.json")
    except BaselineError as exc:
        message = str(exc)
    assert message.startswith("fuzzed.json: ")
    assert "\n" not in message
    return None


FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@FUZZ
@given(data=st.data(), which=st.sampled_from(sorted(BASELINES)))
def test_baseline_decoder_succeeds_or_names_the_field(data: st.DataObject, which: str) -> None:
    _decoded_or_refused(decode_baseline, _mutate(BASELINES[which], data))


@FUZZ
@given(data=st.data())
def test_results_decoder_succeeds_or_names_the_field(
    data: st.DataObject, matched_files: tuple[str, str]
) -> None:
    results_text = matched_files[1]
    decoded = _decoded_or_refused(decode_results, _mutate(json.loads(results_text), data))
    for m in decoded.measurements if decoded is not None else ():
        for figure in ("p50_ms", "p95_ms"):  # what a decode hands on must be finite
            value = getattr(m.result, figure, None)
            assert value is None or math.isfinite(value)


def _run_cli(*args: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, err.getvalue()


def _assert_one_line_or_success(code: int, stderr: str) -> None:
    assert code in (0, 1, 2), (code, stderr)
    if code == 2:
        lines = stderr.strip().splitlines()
        assert len(lines) == 1, lines
        assert lines[0].startswith("infergate: error: ")
    assert "Traceback" not in stderr


@FUZZ
@given(
    data=st.data(),
    which=st.sampled_from([*sorted(BASELINES), "matched", "matched"]),
    command=st.sampled_from(["show", "compare", "compare", "prune", "merge"]),
)
def test_cli_on_a_mutated_baseline(
    data: st.DataObject, which: str, command: str, matched_files: tuple[str, str]
) -> None:
    """``matched`` is a baseline recorded with the results file beside it (same key,
    same machine), so ``compare`` really judges the mutated record."""
    baseline_text, results_text = matched_files
    source = json.loads(baseline_text) if which == "matched" else BASELINES[which]
    text = _text(_mutate(source, data), data)
    with tempfile.TemporaryDirectory() as folder:
        bad, results = Path(folder) / "baseline.json", Path(folder) / "results.json"
        bad.write_text(text)
        results.write_text(results_text)
        before = bad.read_bytes()
        args = {
            "show": ["show", str(bad)],
            "compare": ["compare", str(bad), str(results)],
            "prune": ["prune", str(bad), "--older-than", "1", "--dry-run"],
            "merge": ["merge", str(bad), str(bad), "-o", str(Path(folder) / "merged.json")],
        }[command]
        _assert_one_line_or_success(*_run_cli(*args))
        assert bad.read_bytes() == before


@FUZZ
@given(data=st.data(), command=st.sampled_from(["compare", "merge", "prune"]))
def test_cli_on_a_mutated_results_file(
    data: st.DataObject, command: str, matched_files: tuple[str, str]
) -> None:
    baseline_text, results_text = matched_files
    text = _text(_mutate(json.loads(results_text), data), data)
    with tempfile.TemporaryDirectory() as folder:
        bad, baseline = Path(folder) / "results.json", Path(folder) / "baseline.json"
        bad.write_text(text)
        baseline.write_text(baseline_text)
        before = bad.read_bytes()
        args = {
            "compare": ["compare", str(baseline), str(bad)],
            "merge": ["merge", str(bad), str(bad), "-o", str(Path(folder) / "merged.json")],
            "prune": ["prune", str(baseline), "--missing-from", str(bad), "--dry-run"],
        }[command]
        _assert_one_line_or_success(*_run_cli(*args))
        assert bad.read_bytes() == before


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_pytest_on_a_mutated_baseline(
    data: st.DataObject, project: pytest.Pytester, matched_files: tuple[str, str]
) -> None:
    """Through pytest itself: a mutated baseline of this very test, on its machine
    profile, gates, or stops the run with one line."""
    baseline = project.path / "baseline.json"
    baseline.write_text(_text(_mutate(json.loads(matched_files[0]), data), data))
    before = baseline.read_bytes()
    update = data.draw(st.booleans(), label="update")
    result = project.runpytest(
        f"--infer-baseline={baseline}",
        "--infer-machine=ci",
        *(["--infer-update-baseline"] if update else []),
    )
    output = result.stdout.str() + result.stderr.str()
    assert "Traceback" not in output
    assert "INTERNALERROR" not in output
    if result.ret == pytest.ExitCode.USAGE_ERROR:
        errors = [line for line in result.stderr.lines if line.strip()]
        assert len(errors) == 1, errors
        assert errors[0].startswith("ERROR: infergate: ")
        assert baseline.read_bytes() == before
    else:
        assert result.ret in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED)
