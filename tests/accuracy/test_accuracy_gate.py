"""The accuracy gate as a user runs it (pytester): record, pass, regress, slice changes, bad input.

The inner test evaluates a real tiny BERT pipeline, loaded from a local model
directory, on a local .jsonl file of 300 examples it gets 85% right. Variants of
the model are callables that change chosen predictions of that pipeline:
``flip10`` turns 30 right answers (10%) wrong; ``swap3`` turns 3 right answers
wrong and 3 wrong answers right.
"""

from __future__ import annotations

import json
import textwrap

import pytest

INNER = textwrap.dedent(
    """
    import json
    import os
    import pathlib

    import pytest
    from transformers import pipeline

    DATA = os.environ["INFERGATE_TEST_DATA"]


    @pytest.fixture(scope="module")
    def pipe():
        return pipeline("text-classification", model=os.environ["INFERGATE_TEST_MODEL"])


    def variant(pipe, kind):
        '''The pipeline itself, or a callable that changes chosen predictions of it.'''
        if kind == "same":
            return pipe
        rows = [json.loads(line) for line in pathlib.Path(DATA).read_text().splitlines()]
        texts = [row["text"] for row in rows]
        base = [pipe.model.config.label2id[out["label"]] for out in pipe(texts)]
        to_wrong, to_right = {"flip10": (30, 0), "swap3": (3, 3)}[kind]
        right = [i for i, row in enumerate(rows) if base[i] == row["label"]]
        wrong = [i for i, row in enumerate(rows) if base[i] != row["label"]]
        answer = dict(zip(texts, base))
        for i in right[:to_wrong]:
            answer[texts[i]] = (rows[i]["label"] + 1) % 3
        for i in wrong[:to_right]:
            answer[texts[i]] = rows[i]["label"]
        return lambda batch: [answer[text] for text in batch]


    MARKER
    def test_intent_accuracy(accuracy_eval, pipe):
        env = os.environ.get
        limit = int(env("INFERGATE_TEST_LIMIT", "0")) or None
        result = accuracy_eval(
            variant(pipe, env("INFERGATE_TEST_VARIANT", "same")),
            DATA,
            limit=limit,
            sample=env("INFERGATE_TEST_SAMPLE", "head"),
            seed=int(env("INFERGATE_TEST_SEED", "0")),
        )
        assert result.n == (limit or 300)
    """
)

KEY = "test_intents.py::test_intent_accuracy"


@pytest.fixture
def project(pytester, monkeypatch, intents_file, tiny_model_dir):
    """A project whose test evaluates the tiny pipeline; returns a function that picks
    the model variant and slice, and runs pytest."""
    monkeypatch.setenv("INFERGATE_TEST_DATA", str(intents_file))
    monkeypatch.setenv("INFERGATE_TEST_MODEL", str(tiny_model_dir))
    for name in ("CI", "BUILD_NUMBER"):
        monkeypatch.delenv(name, raising=False)
    pytester.makepyfile(test_intents=INNER.replace("MARKER", ""))
    baseline = pytester.path / "baseline.json"

    def run(*args, variant="same", limit=0, sample="head", seed=0, update=False):
        monkeypatch.setenv("INFERGATE_TEST_VARIANT", variant)
        monkeypatch.setenv("INFERGATE_TEST_LIMIT", str(limit))
        monkeypatch.setenv("INFERGATE_TEST_SAMPLE", sample)
        monkeypatch.setenv("INFERGATE_TEST_SEED", str(seed))
        options = [f"--infer-baseline={baseline}", *(["--infer-update-baseline"] if update else [])]
        return pytester.runpytest(*options, *args)

    run.baseline = baseline
    return run


def _entry(project) -> dict:
    return json.loads(project.baseline.read_text())["entries"][KEY]


def test_record_same_model_ten_percent_flipped_then_three_each_way(project) -> None:
    project(update=True).assert_outcomes(passed=1)
    entry = _entry(project)
    assert entry["kind"] == "accuracy"
    assert (entry["metric"], entry["value"], entry["n"], entry["correct"]) == (
        "accuracy",
        0.85,
        300,
        255,
    )
    assert entry["sampling"] == "all 300"
    assert entry["predictions_dtype"] == "uint16"
    recorded = project.baseline.read_bytes()

    same = project()
    same.assert_outcomes(passed=1)
    same.stdout.fnmatch_lines([f"{KEY}*accuracy*85.00%*85.00%*+0.00 pts*0.0%*0.5*PASS"])

    flipped = project(variant="flip10")
    assert flipped.ret == pytest.ExitCode.TESTS_FAILED
    flipped.assert_outcomes(failed=1)
    flipped.stdout.fnmatch_lines(
        [
            f"*{KEY}: accuracy REGRESSED: accuracy 75.00% vs baseline 85.00% (-10.00 pts, "
            "tolerance 1.00 pts); mid-p McNemar p=4.66e-10 (worse, one-sided) on 30 newly "
            "wrong vs 0 newly right; "
            "flip rate 10.0% (30/300). If this change is expected, re-record with "
            "--infer-update-baseline.",
            f"{KEY}*accuracy*85.00%*75.00%*-10.00 pts*10.0%*4.7e-10*REGRESSED",
        ]
    )
    assert "Traceback" not in flipped.stdout.str()

    swapped = project(variant="swap3")
    swapped.assert_outcomes(passed=1)
    swapped.stdout.fnmatch_lines([f"{KEY}*accuracy*85.00%*85.00%*+0.00 pts*2.0%*0.5*PASS"])
    assert project.baseline.read_bytes() == recorded


def test_changing_limit_or_seed_changes_the_fingerprint_and_says_so(project) -> None:
    project(update=True, limit=200).assert_outcomes(passed=1)
    head_200 = _entry(project)
    assert head_200["sampling"] == "head 200 of 300"

    longer = project(limit=250)
    longer.assert_outcomes(passed=1)
    longer.stdout.fnmatch_lines(
        [
            f"{KEY}*accuracy*85.00%*84.80%*-0.20 pts*n/a*0.48*PASS*",
            f"?1? {KEY}: slice changed (baseline: head 200 of 300, sha256 "
            f"{head_200['slice_sha256'][:12]}; now: head 250 of 300, sha256 *), so the runs "
            "cannot be paired*unpaired two-proportion test*Re-record with "
            "--infer-update-baseline to pair the runs again",
        ]
    )

    project(update=True, limit=200, sample="random", seed=0).assert_outcomes(passed=1)
    random_0 = _entry(project)
    assert random_0["sampling"] == "random 200 of 300, seed 0"
    assert random_0["slice_sha256"] != head_200["slice_sha256"]
    project(limit=200, sample="random", seed=0).stdout.no_fnmatch_line("*slice changed*")

    reseeded = project(limit=200, sample="random", seed=1)
    reseeded.assert_outcomes(passed=1)
    reseeded.stdout.fnmatch_lines(
        ["*slice changed (baseline: random 200 of 300, seed 0*now: random 200 of 300, seed 1*"]
    )


def test_report_mode_shows_the_regression_without_failing(project) -> None:
    project(update=True).assert_outcomes(passed=1)
    result = project("--infer-mode=report", variant="flip10")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"{KEY}*REGRESSED"])


def test_strict_fails_a_new_entry_and_off_records_nothing(project) -> None:
    project.baseline.write_text('{"schema_version": 2, "entries": {}, "machines": {}}')
    strict = project("--infer-strict")
    strict.assert_outcomes(failed=1)
    strict.stdout.fnmatch_lines([f"*{KEY}: accuracy NEW: no baseline entry*"])

    project.baseline.unlink()
    off = project("--infer-mode=off", update=True)
    off.assert_outcomes(passed=1)
    assert not project.baseline.exists()
    assert "infergate: machine" not in off.stdout.str()


def test_tolerance_layers_and_the_flip_rate_limit(project, pytester) -> None:
    project(update=True).assert_outcomes(passed=1)
    pytester.makepyfile(
        test_intents=INNER.replace("MARKER", "@pytest.mark.infergate(accuracy_tolerance=0.2)")
    )
    project(variant="flip10").assert_outcomes(passed=1)  # a 10-point drop is within 20
    project("--infer-accuracy-tolerance=5%", variant="flip10").assert_outcomes(failed=1)

    limited = project("--infer-max-flip-rate=0.01", variant="swap3")
    limited.assert_outcomes(failed=1)
    limited.stdout.fnmatch_lines(
        [
            "*flip rate 2.0% (6/300), limit 1.0%*",
            f"{KEY}*flip_rate*max 1.0%*2.0%*REGRESSED",
        ]
    )


def test_results_json_holds_the_accuracy_measurement(project, pytester) -> None:
    results = pytester.path / "results.json"
    project(f"--infer-json={results}", limit=40).assert_outcomes(passed=1)
    (measurement,) = json.loads(results.read_text())["measurements"]
    assert measurement["kind"] == "accuracy"
    assert measurement["key"] == KEY
    assert (measurement["n"], measurement["sampling"]) == (40, "head 40 of 300")
    assert len(measurement["predictions"]) == len(measurement["labels"]) == 40
    assert measurement["low"] <= measurement["value"] <= measurement["high"]
    assert measurement["examples_per_s"] > 0
    assert measurement["verdict"]["outcome"] == "NEW"


BAD_INPUT = textwrap.dedent(
    """
    import os
    DATA = os.environ["INFERGATE_TEST_DATA"]

    def constant(batch):
        return [0] * len(batch)

    def test_unknown_metric(accuracy_eval):
        accuracy_eval(constant, DATA, metric="f2")

    def test_missing_column(accuracy_eval):
        accuracy_eval(constant, DATA, input_column="sentence")

    def test_wrong_number_of_predictions(accuracy_eval):
        accuracy_eval(lambda batch: [0] * (len(batch) - 1), DATA)

    def test_label_outside_the_map(accuracy_eval):
        accuracy_eval(lambda batch: ["refund"] * len(batch), DATA, label_map=["a", "b", "c"])

    def test_empty_slice(accuracy_eval):
        accuracy_eval(constant, [])

    def test_hub_name_offline(accuracy_eval):
        accuracy_eval(constant, "banking77:test")

    def test_bad_tolerance(accuracy_eval):
        accuracy_eval(constant, DATA, tolerance=3)

    def test_same_key_twice(accuracy_eval):
        accuracy_eval(constant, DATA, limit=5)
        accuracy_eval(constant, DATA, limit=5)
    """
)


def test_bad_input_fails_its_test_in_one_line_and_writes_nothing(
    pytester, monkeypatch, intents_file
) -> None:
    monkeypatch.setenv("INFERGATE_TEST_DATA", str(intents_file))
    pytester.makepyfile(test_bad=BAD_INPUT)
    baseline = pytester.path / "baseline.json"
    result = pytester.runpytest(
        f"--infer-baseline={baseline}", "--infer-update-baseline", "-k", "not same_key"
    )
    result.assert_outcomes(failed=7)
    output = result.stdout.str()
    assert "Traceback" not in output
    assert "During handling" not in output
    assert not baseline.exists()
    result.stdout.fnmatch_lines(
        [
            "*::test_unknown_metric: accuracy_eval(): unknown metric 'f2'; known: accuracy, *",
            "*::test_missing_column: accuracy_eval(): * has no column 'sentence' (columns: id, "
            "text, label); pass input_column=",
            "*::test_wrong_number_of_predictions: accuracy_eval(): the model returned 31 "
            "predictions for a batch of 32 inputs*",
            "*::test_label_outside_the_map: accuracy_eval(): example ex-000: model predicted "
            "'refund', which is outside the label map*",
            "*::test_empty_slice: accuracy_eval(): list of dicts is empty: nothing to evaluate",
            "*::test_hub_name_offline: accuracy_eval(): data 'banking77:test': "
            "datasets.load_dataset failed*offline, pass a local .csv/.jsonl/.json/.parquet file "
            "or a datasets.Dataset",
            "*::test_bad_tolerance: accuracy_eval(): accuracy_tolerance: expected a share between "
            "0 and 1*",
        ],
        consecutive=False,
    )
    twice = pytester.runpytest(f"--infer-baseline={baseline}", "-k", "same_key")
    twice.assert_outcomes(failed=1)
    twice.stdout.fnmatch_lines(["*test_same_key_twice was already evaluated in this test*"])


def test_latency_and_accuracy_of_one_test_need_names(pytester, monkeypatch, intents_file) -> None:
    monkeypatch.setenv("INFERGATE_TEST_DATA", str(intents_file))
    pytester.makeini("[pytest]\ninfer_max_time = 0.1\n")
    pytester.makepyfile(
        test_both="""
        import os

        def model(batch):
            return [row_label % 3 for row_label in range(len(batch))]

        def test_unnamed(infer_bench, accuracy_eval):
            infer_bench(model, ["a"])
            accuracy_eval(model, os.environ["INFERGATE_TEST_DATA"], limit=30)

        def test_named(infer_bench, accuracy_eval):
            infer_bench.measure(model, args=(["a"],), name="speed")
            accuracy_eval(model, os.environ["INFERGATE_TEST_DATA"], limit=30, name="quality")
        """
    )
    baseline = pytester.path / "baseline.json"
    result = pytester.runpytest(f"--infer-baseline={baseline}", "--infer-update-baseline")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["*test_both.py::test_unnamed already holds a latency measurement*pass a distinct name=*"]
    )
    entries = json.loads(baseline.read_text())["entries"]
    assert entries["test_both.py::test_named::speed"]["kind"] == "latency"
    assert entries["test_both.py::test_named::quality"]["kind"] == "accuracy"
    assert "test_both.py::test_unnamed" not in entries  # its test failed: not recorded

    # Report mode: this is about keys, and a 0.2 µs call's stored latency wanders with the load.
    gated = pytester.runpytest(
        f"--infer-baseline={baseline}", "-k", "named and not unnamed", "--infer-mode=report"
    )
    gated.assert_outcomes(passed=1)
    gated.stdout.fnmatch_lines(
        [
            "*test*metric*baseline*current*change*flips*p-value*verdict",
            "*test_both.py::test_named::speed*p50*ms*",
            "*test_both.py::test_named::quality*accuracy*PASS",
        ],
        consecutive=False,
    )


def test_options_and_fixture_are_documented(pytester) -> None:
    help_text = pytester.runpytest("--help")
    help_text.stdout.fnmatch_lines(
        ["*--infer-accuracy-tolerance=SHARE*", "*--infer-max-flip-rate=SHARE*"]
    )
    fixtures = pytester.runpytest("--fixtures")
    fixtures.stdout.fnmatch_lines(["accuracy_eval*", "*Evaluate a model on a data set slice*"])
