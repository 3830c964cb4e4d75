"""The accuracy gate's pure parts: statistics, metrics, slicing, labels, codec, gate, report."""

from __future__ import annotations

import base64
import json
import struct

import numpy as np
import pytest

from pytest_infergate.config import (
    GateConfig,
    Settings,
    gate_config_from_options,
)
from pytest_infergate.evaluation import ProgressLine
from pytest_infergate.judge.accuracy import AccuracyPolicy, compare_accuracy
from pytest_infergate.judge.stats import mcnemar_exact, two_proportion_test, wilson_interval
from pytest_infergate.measure.accuracy import (
    METRICS,
    AccuracyError,
    evaluate_accuracy,
    label_space,
    load_table,
    read_rows_stdlib,
    resolve_metric,
    take_slice,
)
from pytest_infergate.measure.accuracy.labels import _Resolver
from pytest_infergate.measure.progress import progress_wanted
from pytest_infergate.options import parse_share
from pytest_infergate.report.terminal import format_notes, format_table, rows
from pytest_infergate.results import AccuracyResult, Measurement
from pytest_infergate.store.baseline import (
    AccuracyEntry,
    Baseline,
    BaselineError,
    decode_baseline,
    encode_baseline,
)
from pytest_infergate.verdicts import Outcome

# -- statistics -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    [
        # Worked by hand from the closed form (z = 1.95996).
        (0, 10, 0.0, 0.2775),
        (5, 10, 0.2366, 0.7634),
        (10, 10, 0.7225, 1.0),
        (255, 300, 0.8052, 0.8860),
    ],
)
def test_wilson_interval_matches_reference_values(successes, n, low, high) -> None:
    interval = wilson_interval(successes, n)
    assert interval.low == pytest.approx(low, abs=5e-5)
    assert interval.high == pytest.approx(high, abs=5e-5)


def test_exact_mcnemar() -> None:
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(3, 3) == 1.0
    # 30 newly wrong, none newly right: 2 * 0.5**30.
    assert mcnemar_exact(30, 0) == pytest.approx(2 * 0.5**30)
    # 8 vs 2 discordant: 2 * P(X >= 8), X ~ Bin(10, 1/2) = 2 * 56/1024.
    assert mcnemar_exact(8, 2) == pytest.approx(112 / 1024)
    assert mcnemar_exact(2, 8) == mcnemar_exact(8, 2)
    with pytest.raises(ValueError, match="discordant"):
        mcnemar_exact(-1, 2)


def test_two_proportion_test() -> None:
    assert two_proportion_test(50, 100, 50, 100) == pytest.approx(1.0)
    # z = (0.6 - 0.5) / sqrt(0.55 * 0.45 * (2/100)) = 1.4213 -> p = 0.1552.
    assert two_proportion_test(60, 100, 50, 100) == pytest.approx(0.1552, abs=1e-4)
    assert two_proportion_test(100, 100, 300, 300) == 1.0
    with pytest.raises(ValueError, match="successes"):
        two_proportion_test(5, 4, 1, 2)


# -- metrics ----------------------------------------------------------------------------

# The scikit-learn documentation's example (sklearn.metrics.f1_score):
# f1 macro 0.2667, micro 0.3333; precision macro 0.2222; recall macro 0.3333.
Y_TRUE = [0, 1, 2, 0, 1, 2]
Y_PRED = [0, 2, 1, 0, 0, 1]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("accuracy", 2 / 6),
        ("exact_match", 2 / 6),
        ("f1_macro", 0.26666667),
        ("f1_micro", 2 / 6),
        ("precision_macro", 0.22222222),
        ("precision_micro", 2 / 6),
        ("recall_macro", 1 / 3),
        ("recall_micro", 2 / 6),
    ],
)
def test_multiclass_metrics_match_scikit_learn(name, expected) -> None:
    assert METRICS[name](Y_PRED, Y_TRUE) == pytest.approx(expected)


def test_binary_metrics_and_zero_division() -> None:
    labels = [1, 1, 0, 0, 1]
    predictions = [1, 0, 0, 1, 1]
    assert METRICS["precision"](predictions, labels) == pytest.approx(2 / 3)
    assert METRICS["recall"](predictions, labels) == pytest.approx(2 / 3)
    assert METRICS["f1"](predictions, labels) == pytest.approx(2 / 3)
    # No positive predicted and none present: 0/0 counts as 0, as scikit-learn does.
    assert METRICS["f1"]([0, 0], [0, 0]) == 0.0
    with pytest.raises(AccuracyError, match=r"binary.*f1_macro"):
        METRICS["f1"](Y_PRED, Y_TRUE)


def test_macro_average_runs_over_classes_in_labels_or_predictions() -> None:
    # Class 5 is never predicted nor present: it must not dilute the average.
    assert METRICS["recall_macro"]([0, 1], [0, 1]) == 1.0


def test_unknown_metric_lists_the_known_ones() -> None:
    with pytest.raises(AccuracyError) as info:
        resolve_metric("f2")
    message = str(info.value)
    assert "\n" not in message
    assert "unknown metric 'f2'" in message
    assert "accuracy, exact_match, f1" in message
    with pytest.raises(AccuracyError, match=r"evaluate\.EvaluationModule"):
        resolve_metric(42)


# -- data and slicing -------------------------------------------------------------------

ROWS = [{"id": f"r{i}", "text": f"text {i}", "label": i % 3} for i in range(100)]


def _slice(rows, *, limit=None, sample="head", seed=0, label_map=None):
    table = load_table(rows, "text", "label")
    resolver = _Resolver(label_space(table, label_map), {})
    return take_slice(table, resolver, limit, sample, seed)


def test_head_and_random_slices_are_reproducible_and_fingerprinted() -> None:
    head = _slice(ROWS, limit=10)
    assert head.inputs == tuple(f"text {i}" for i in range(10))
    assert head.sampling == "head 10 of 100"
    assert _slice(ROWS, limit=10).sha256 == head.sha256

    drawn = _slice(ROWS, limit=10, sample="random", seed=1)
    assert drawn.sampling == "random 10 of 100, seed 1"
    assert drawn == _slice(ROWS, limit=10, sample="random", seed=1)
    assert len(set(drawn.inputs)) == 10
    assert list(drawn.inputs) != list(head.inputs)
    # In data order, so batches (and the fingerprint) do not depend on the draw order.
    assert list(drawn.names) == sorted(drawn.names, key=lambda name: int(name[1:]))

    fingerprints = {
        head.sha256,
        drawn.sha256,
        _slice(ROWS, limit=11).sha256,
        _slice(ROWS, limit=10, sample="random", seed=2).sha256,
    }
    assert len(fingerprints) == 4
    assert _slice(ROWS).sampling == "all 100"


def test_random_slice_keeps_its_examples_when_data_is_added() -> None:
    """Ranked by a hash of (seed, id): appending examples only lets newcomers in."""
    before = set(_slice(ROWS, limit=20, sample="random").names)
    more = ROWS + [{"id": f"r{i}", "text": f"text {i}", "label": 0} for i in range(100, 120)]
    after = set(_slice(more, limit=20, sample="random").names)
    assert len(before & after) >= 15


def test_fingerprint_covers_labels_and_uses_inputs_without_ids() -> None:
    relabelled = [
        dict(row, label=(row["label"] + 1) % 3) if row["id"] == "r3" else row for row in ROWS
    ]
    assert _slice(relabelled, limit=10).sha256 != _slice(ROWS, limit=10).sha256
    no_ids = [{"text": row["text"], "label": row["label"]} for row in ROWS]
    edited = [dict(row, text=row["text"] + "!") if i == 0 else row for i, row in enumerate(no_ids)]
    assert _slice(no_ids, limit=5).sha256 != _slice(edited, limit=5).sha256
    assert _slice(no_ids, limit=5).names[0] == "#0"


@pytest.mark.parametrize("suffix", [".jsonl", ".json", ".csv", ".parquet"])
def test_local_files_load_through_datasets(tmp_path, suffix) -> None:
    import datasets

    path = tmp_path / f"data{suffix}"
    dataset = datasets.Dataset.from_list(ROWS)
    writers = {".jsonl": dataset.to_json, ".csv": dataset.to_csv, ".parquet": dataset.to_parquet}
    writers.get(suffix, lambda p: p.write_text(json.dumps(ROWS)))(path)
    table = load_table(path, "text", "label")
    assert table.inputs[:2] == ("text 0", "text 1")
    assert table.labels[:3] == (0, 1, 2)
    assert table.ids is not None
    assert table.ids[:2] == ("r0", "r1")


def test_standard_library_reader_for_csv_and_jsonl(tmp_path) -> None:
    """The fallback when datasets is not installed: same rows, numeric labels as ints."""
    csv_path = tmp_path / "d.csv"
    csv_path.write_text('id,text,label\na,hello there,1\nb,"comma, inside",0\n', encoding="utf-8")
    assert read_rows_stdlib(csv_path) == [
        {"id": "a", "text": "hello there", "label": 1},
        {"id": "b", "text": "comma, inside", "label": 0},
    ]
    jsonl = tmp_path / "d.jsonl"
    jsonl.write_text('{"text": "x", "label": "pos"}\n\n{"text": "y", "label": "neg"}\n')
    assert read_rows_stdlib(jsonl) == [{"text": "x", "label": "pos"}, {"text": "y", "label": "neg"}]
    broken = tmp_path / "bad.jsonl"
    broken.write_text('{"text": \n')
    with pytest.raises(AccuracyError, match="not valid JSON"):
        read_rows_stdlib(broken)


def test_datasets_and_dataset_dicts(intents_dataset) -> None:
    import datasets

    table = load_table(intents_dataset, "text", "label")
    assert table.label_names == ("card", "transfer", "balance")
    assert len(table.inputs) == 300
    one = datasets.DatasetDict({"test": intents_dataset})
    assert load_table(one, "text", "label").inputs == table.inputs
    two = datasets.DatasetDict({"train": intents_dataset, "test": intents_dataset})
    with pytest.raises(
        AccuracyError, match=r"splits train, test; pass one split, e.g. data\['test'\]"
    ):
        load_table(two, "text", "label")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("squad_offline_check:validation", "offline, pass a local .csv/.jsonl/.json/.parquet file"),
        ("no/such/file.jsonl", "does not exist"),
        ("just-a-name", "neither an existing .csv/.jsonl/.json/.parquet file nor 'name:split'"),
        ("a:b:c:d", "expected 'name:split' or 'name:config:split'"),
        (42, "data must be a datasets.Dataset"),
        ([{"text": "x"}], "row 0 has no column 'label' (columns: text); pass label_column="),
        ([], "is empty: nothing to evaluate"),
        ([["x", 1]], "row 0 is a list, not a dict"),
    ],
)
def test_bad_data_gives_one_line_errors(data, message) -> None:
    with pytest.raises(AccuracyError) as info:
        evaluate_accuracy(lambda xs: [0] * len(xs), data)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_unreadable_file_is_one_line(tmp_path) -> None:
    path = tmp_path / "broken.jsonl"
    path.write_text('{"text": "a", "label": 1}\n{"text": \n', encoding="utf-8")
    with pytest.raises(AccuracyError, match="cannot be read") as info:
        evaluate_accuracy(lambda xs: [0] * len(xs), path)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"limit": 0}, "limit must be None or an int >= 1"),
        ({"limit": True}, "limit must be None or an int >= 1"),
        ({"sample": "tail"}, "sample must be one of head, random"),
        ({"seed": "1"}, "seed must be an int"),
        ({"batch_size": 0}, "batch_size must be an int >= 1"),
        ({"input_column": ""}, "column names must be non-empty strings"),
        ({"label_map": "abc"}, "label_map must map label names to class ids"),
        ({"label_map": {"a": -1}}, "must be >= 0"),
    ],
)
def test_bad_arguments_give_one_line_errors(kwargs, message) -> None:
    with pytest.raises(AccuracyError, match=message):
        evaluate_accuracy(lambda xs: [0] * len(xs), ROWS, **kwargs)


# -- labels -----------------------------------------------------------------------------


def test_string_labels_map_through_sorted_names_or_label_map() -> None:
    rows = [{"text": f"t{i}", "label": ["neg", "pos"][i % 2]} for i in range(6)]
    result = evaluate_accuracy(lambda xs: ["pos"] * len(xs), rows)
    assert result.labels == (0, 1, 0, 1, 0, 1)
    assert result.predictions == (1,) * 6
    mapped = evaluate_accuracy(
        lambda xs: ["POSITIVE"] * len(xs),
        rows,
        label_map={"neg": 0, "pos": 1, "NEGATIVE": 0, "POSITIVE": 1},
    )
    assert mapped.value == 0.5


def test_labels_outside_the_label_map_name_the_example() -> None:
    with pytest.raises(AccuracyError) as info:
        evaluate_accuracy(lambda xs: ["LABEL_9"] * len(xs), ROWS, label_map=["a", "b", "c"])
    assert str(info.value).startswith("example r0: model predicted 'LABEL_9', which is outside")
    with pytest.raises(
        AccuracyError, match="example r0: model predicted class 3, which is outside"
    ):
        evaluate_accuracy(lambda xs: [3] * len(xs), ROWS, label_map=["a", "b", "c"])
    with pytest.raises(AccuracyError, match="example r2: label class 2, which is outside"):
        evaluate_accuracy(lambda xs: [0] * len(xs), ROWS, label_map=["a", "b"])
    with pytest.raises(AccuracyError, match=r"model predicted 0.7; expected a class id"):
        evaluate_accuracy(lambda xs: [0.7] * len(xs), ROWS)


def test_model_output_shapes() -> None:
    scores = lambda xs: np.tile([0.1, 0.7, 0.2], (len(xs), 1))  # noqa: E731
    assert set(evaluate_accuracy(scores, ROWS).predictions) == {1}
    ids = lambda xs: np.full(len(xs), 2)  # noqa: E731
    assert set(evaluate_accuracy(ids, ROWS).predictions) == {2}
    pipeline_like = lambda xs: [{"label": 1, "score": 0.9} for _ in xs]  # noqa: E731
    assert set(evaluate_accuracy(pipeline_like, ROWS).predictions) == {1}
    with pytest.raises(AccuracyError, match="returned 31 predictions for a batch of 32"):
        evaluate_accuracy(lambda xs: [0] * (len(xs) - 1), ROWS)
    with pytest.raises(AccuracyError, match=r"one label per input .* got str"):
        evaluate_accuracy(lambda xs: "0" * len(xs), ROWS)
    with pytest.raises(AccuracyError, match="model must be a transformers Pipeline"):
        evaluate_accuracy(object(), ROWS)


def test_a_result_refuses_a_nan_metric() -> None:
    # The built-in metrics cannot produce NaN; the evaluate-module case is in test_accuracy_models.
    with pytest.raises(ValueError, match="metric 'accuracy' is nan"):
        AccuracyResult("k", "accuracy", float("nan"), (0,), (0,), "0" * 64, "all 1", 0.1)


def test_batches_are_deterministic_and_cover_every_example() -> None:
    seen: list[list[str]] = []

    def model(batch):
        seen.append(list(batch))
        return [int(x.split()[1]) % 3 for x in batch]

    result = evaluate_accuracy(model, ROWS, batch_size=7)
    assert [len(b) for b in seen] == [7] * 14 + [2]
    assert result.value == 1.0
    assert result.n == result.correct == 100
    assert result.examples_per_s > 0


# -- baseline codec ---------------------------------------------------------------------


def _result(predictions, labels, *, key="t.py::test_acc", sha="a" * 64, sampling="all 300"):
    value = sum(p == y for p, y in zip(predictions, labels, strict=True)) / len(labels)
    return AccuracyResult(
        key, "accuracy", value, tuple(predictions), tuple(labels), sha, sampling, 0.5
    )


def test_accuracy_entries_round_trip_compactly() -> None:
    labels = [i % 3 for i in range(300)]
    result = _result(labels, labels)
    baseline = Baseline().with_accuracy(result, recorded_at="2026-11-25T00:00:00+00:00")
    document = encode_baseline(baseline)
    entry = document["entries"]["t.py::test_acc"]
    assert entry["kind"] == "accuracy"
    assert entry["predictions_dtype"] == "uint16"
    assert len(entry["predictions"]) == 800  # 600 bytes in base64
    assert struct.unpack("<3H", base64.b64decode(entry["predictions"])[:6]) == (0, 1, 2)
    decoded = decode_baseline(json.loads(json.dumps(document)), "b.json")
    assert decoded.entries["t.py::test_acc"] == baseline.entries["t.py::test_acc"]

    wide = _result([70000, 1], [70000, 2])
    encoded = encode_baseline(Baseline().with_accuracy(wide, recorded_at="now"))
    entry = encoded["entries"]["t.py::test_acc"]
    assert entry["predictions_dtype"] == "uint32"
    decoded_entry = decode_baseline(encoded, "b.json").entries["t.py::test_acc"]
    assert isinstance(decoded_entry, AccuracyEntry)
    assert decoded_entry.predictions == (70000, 1)


def _document_with(field: str, value: object) -> dict:
    labels = [0, 1, 2, 1]
    document = encode_baseline(Baseline().with_accuracy(_result(labels, labels), recorded_at="x"))
    document["entries"]["t.py::test_acc"][field] = value
    return document


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("predictions", "not base64!", "predictions: not valid base64"),
        ("predictions", base64.b64encode(b"\0" * 6).decode(), "expected 4 uint16 values (8 bytes)"),
        ("predictions_dtype", "int8", "predictions_dtype: unknown dtype 'int8'"),
        ("slice_sha256", "abc", "slice_sha256: expected 64 lowercase hex digits"),
        ("correct", 9, "correct: 9 correct out of n=4"),
        ("value", float("nan"), "value: expected a finite number"),
        ("metric", 3, "metric: expected a string"),
        ("n", 0, "n: expected an integer >= 1"),
    ],
)
def test_bad_accuracy_entries_name_the_field(field, value, message) -> None:
    with pytest.raises(BaselineError) as info:
        decode_baseline(_document_with(field, value), "baseline.json")
    assert str(info.value).startswith("baseline.json: entries['t.py::test_acc']")
    assert message in str(info.value)


def test_unknown_entry_kind_lists_the_known_ones() -> None:
    with pytest.raises(BaselineError, match="unknown entry kind 'speed'; known: accuracy, latency"):
        decode_baseline(_document_with("kind", "speed"), "b.json")


# -- the gate ---------------------------------------------------------------------------

LABELS = tuple(i % 3 for i in range(300))
# 85% right: every 20th example at offsets 3, 7 and 13 is wrong.
BASE = tuple((y + 1) % 3 if i % 20 in (3, 7, 13) else y for i, y in enumerate(LABELS))


def _entry(predictions=BASE, sha="a" * 64, sampling="all 300") -> AccuracyEntry:
    result = _result(predictions, LABELS, sha=sha, sampling=sampling)
    entry = Baseline().with_accuracy(result, recorded_at="x").entries[result.key]
    assert isinstance(entry, AccuracyEntry)
    return entry


def _flip(predictions, *, to_wrong=0, to_right=0):
    out = list(predictions)
    right = [i for i, p in enumerate(out) if p == LABELS[i]]
    wrong = [i for i, p in enumerate(out) if p != LABELS[i]]
    for i in right[:to_wrong]:
        out[i] = (LABELS[i] + 1) % 3
    for i in wrong[:to_right]:
        out[i] = LABELS[i]
    return tuple(out)


def test_same_predictions_pass_with_no_flips() -> None:
    verdict = compare_accuracy(_result(BASE, LABELS), _entry(), AccuracyPolicy())
    assert verdict.outcome is Outcome.PASS
    (check,) = verdict.checks
    assert (check.worse, check.better, check.flip_rate, check.p_value) == (0, 0, 0.0, 0.5)
    assert "flip rate 0.0% (0/300)" in verdict.reason


def test_ten_percent_flipped_to_wrong_regresses() -> None:
    verdict = compare_accuracy(
        _result(_flip(BASE, to_wrong=30), LABELS), _entry(), AccuracyPolicy()
    )
    assert verdict.outcome is Outcome.REGRESSED
    assert verdict.reason.startswith("accuracy 75.00% vs baseline 85.00% (-10.00 pts")
    assert (
        "mid-p McNemar p=4.66e-10 (worse, one-sided) on 30 newly wrong vs 0 newly right"
        in verdict.reason
    )
    assert "flip rate 10.0% (30/300)" in verdict.reason


def test_three_flips_each_way_pass() -> None:
    current = _flip(BASE, to_wrong=3, to_right=3)
    verdict = compare_accuracy(_result(current, LABELS), _entry(), AccuracyPolicy())
    assert verdict.outcome is Outcome.PASS
    (check,) = verdict.checks
    assert (check.worse, check.better, check.flip_rate) == (3, 3, 0.02)


def test_material_but_not_significant_drop_is_inconclusive() -> None:
    # 5 newly wrong, 2 newly right: -1 point exactly, p = 0.45.
    current = _flip(BASE, to_wrong=5, to_right=2)
    verdict = compare_accuracy(_result(current, LABELS), _entry(), AccuracyPolicy())
    assert verdict.outcome is Outcome.INCONCLUSIVE
    # Significant but below a 5-point tolerance: passes.
    big = _flip(BASE, to_wrong=12)
    assert compare_accuracy(_result(big, LABELS), _entry(), AccuracyPolicy()).outcome is (
        Outcome.REGRESSED
    )
    lenient = AccuracyPolicy(tolerance=0.05)
    assert compare_accuracy(_result(big, LABELS), _entry(), lenient).outcome is Outcome.PASS


def test_significant_gain_is_improved() -> None:
    current = _flip(BASE, to_right=20)
    verdict = compare_accuracy(_result(current, LABELS), _entry(), AccuracyPolicy())
    assert verdict.outcome is Outcome.IMPROVED
    assert verdict.reason.endswith("re-record with --infer-update-baseline to lock the gain in")


def test_flip_rate_is_gated_only_when_asked() -> None:
    # 9 flips each way: accuracy unchanged, 6% of the predictions changed.
    current = _flip(BASE, to_wrong=9, to_right=9)
    assert compare_accuracy(_result(current, LABELS), _entry(), AccuracyPolicy()).outcome is (
        Outcome.PASS
    )
    verdict = compare_accuracy(
        _result(current, LABELS), _entry(), AccuracyPolicy(max_flip_rate=0.05)
    )
    assert verdict.outcome is Outcome.REGRESSED
    assert [c.metric for c in verdict.checks] == ["accuracy", "flip_rate"]
    assert [c.outcome for c in verdict.checks] == [Outcome.PASS, Outcome.REGRESSED]
    assert "flip rate 6.0% (18/300), limit 5.0%" in verdict.reason


def test_changed_slice_falls_back_to_unpaired_test() -> None:
    entry = _entry(sha="b" * 64, sampling="head 200 of 300")
    verdict = compare_accuracy(
        _result(BASE, LABELS, sampling="head 300 of 400"), entry, AccuracyPolicy()
    )
    (check,) = verdict.checks
    assert not check.paired
    assert check.flip_rate is None
    assert verdict.reason.startswith(
        "slice changed (baseline: head 200 of 300, sha256 bbbbbbbbbbbb; now: head 300 of 400"
    )
    assert "unpaired two-proportion test" in verdict.reason
    assert "Re-record with --infer-update-baseline" in verdict.reason
    worse = _result(_flip(BASE, to_wrong=60), LABELS)
    assert compare_accuracy(worse, entry, AccuracyPolicy()).outcome is Outcome.REGRESSED


def test_new_metric_change_and_kind_change() -> None:
    result = _result(BASE, LABELS)
    assert compare_accuracy(result, None, AccuracyPolicy()).outcome is Outcome.NEW
    from pytest_infergate.store.baseline import LatencyEntry

    verdict = compare_accuracy(result, LatencyEntry(machines={}), AccuracyPolicy())
    assert verdict.outcome is Outcome.NEW
    assert "is a latency entry" in verdict.reason
    other = AccuracyResult(result.key, "f1_macro", 0.8, BASE, LABELS, "a" * 64, "all 300", 0.1)
    verdict = compare_accuracy(other, _entry(), AccuracyPolicy())
    assert verdict.outcome is Outcome.INCONCLUSIVE
    assert "metric 'f1_macro' differs from the baseline's 'accuracy'" in verdict.reason


# -- settings ---------------------------------------------------------------------------


def test_accuracy_settings_layers() -> None:
    assert parse_share("1%") == pytest.approx(0.01)
    assert parse_share(0.02) == 0.02
    with pytest.raises(ValueError, match="between 0 and 1"):
        parse_share(2)
    options = {"infer_accuracy_tolerance": None, "infer_max_flip_rate": 0.1}
    ini = {"infer_accuracy_tolerance": "0.03"}
    config = gate_config_from_options(options.get, lambda key: ini.get(key, ""))
    assert config.ini.accuracy_tolerance == 0.03
    assert config.cli.max_flip_rate == 0.1
    marker = Settings.from_kwargs({"accuracy_tolerance": 0.02})
    resolved = config.resolve(Settings(), marker)
    assert resolved.accuracy_policy() == AccuracyPolicy(tolerance=0.02, max_flip_rate=0.1)
    assert GateConfig().resolve().accuracy_policy() == AccuracyPolicy(tolerance=0.01)
    with pytest.raises(ValueError, match="unknown setting"):
        Settings.from_kwargs({"accuracy_tolerence": 0.02})


# -- progress and summary ---------------------------------------------------------------


def test_progress_line_appears_only_for_long_evaluations() -> None:
    now = [0.0]
    written: list[str] = []
    line = ProgressLine("accuracy_eval k", written.append, clock=lambda: now[0])
    line(32, 320)
    now[0] = 1.0
    line(64, 320)
    assert written == []  # under 2 s: silent
    now[0] = 2.5
    line(160, 320)
    assert written == ["\naccuracy_eval k: 160/320 examples, 64/s, 2 s left"]
    now[0] = 2.6
    line(192, 320)  # within the redraw interval
    assert len(written) == 1
    now[0] = 5.0
    line(320, 320)
    assert written[-1].startswith("\raccuracy_eval k: 320/320 examples")
    line.close()
    assert written[-1].startswith("\r ")
    assert written[-1].endswith("\r")

    quick: list[str] = []
    fast = ProgressLine("k", quick.append, clock=lambda: now[0])
    fast(10, 10)
    fast.close()
    assert quick == []


def test_progress_only_for_a_person_at_a_terminal() -> None:
    assert progress_wanted(isatty=True, verbosity=0, environ={})
    assert not progress_wanted(isatty=False, verbosity=0, environ={})
    assert not progress_wanted(isatty=True, verbosity=-1, environ={})
    assert not progress_wanted(isatty=True, verbosity=1, environ={"CI": "true"})


def test_latency_rows_keep_their_columns_and_share_the_table() -> None:
    from pytest_infergate.results import LatencyResult
    from pytest_infergate.verdicts import Verdict

    latency = LatencyResult("t.py::test_fast", (1_000_000,) * 10, 1, 1, 0, 0.01)
    timed = Measurement(
        "t.py::test_fast", latency, Verdict(latency.key, "latency", Outcome.NEW), {}
    )
    header, line = format_table(rows([timed]))
    assert header.split() == [
        "test", "metric", "baseline", "current", "change", "samples", "verdict",
    ]  # fmt: skip
    assert line.split() == [
        "t.py::test_fast",
        "p50",
        "-",
        "1",
        "ms",
        "-",
        "10",
        "(plan",
        "complete)",
        "NEW",
    ]
    evaluated = _result(BASE, LABELS)
    new = _measurement(evaluated, compare_accuracy(evaluated, None, AccuracyPolicy()))
    header, *lines = format_table(rows([timed, new]))
    assert "flips" not in header  # no row fills them
    assert any(line.split()[1:] == ["accuracy", "-", "85.00%", "-", "300", "NEW"] for line in lines)


def _measurement(result, verdict) -> Measurement:
    return Measurement("t.py::test_acc", result, verdict, {"accuracy": 0.01})


def test_summary_shows_points_flips_p_value_and_slice_notes() -> None:
    regressed = _result(_flip(BASE, to_wrong=30), LABELS)
    paired = compare_accuracy(regressed, _entry(), AccuracyPolicy())
    moved = _result(BASE, LABELS, sha="c" * 64, sampling="head 300 of 400")
    unpaired = compare_accuracy(moved, _entry(), AccuracyPolicy())
    table = rows([_measurement(regressed, paired), _measurement(moved, unpaired)])
    header, first, second = format_table(table)
    assert header.split() == [
        "test", "metric", "baseline", "current", "change", "flips", "p-value", "samples",
        "verdict",
    ]  # fmt: skip
    assert first.split() == [
        "t.py::test_acc", "accuracy", "85.00%", "75.00%", "-10.00", "pts", "10.0%", "4.7e-10",
        "300", "REGRESSED",
    ]  # fmt: skip
    assert second.split()[2:] == [
        "85.00%", "85.00%", "+0.00", "pts", "n/a", "0.5", "300", "PASS", "[1]",
    ]  # fmt: skip
    (note,) = format_notes(table)
    assert note.startswith("[1] t.py::test_acc: slice changed (baseline: all 300")


def test_infergate_show_lists_accuracy_entries(tmp_path, capsys) -> None:
    from pytest_infergate.cli import main
    from pytest_infergate.store.baseline import write_baseline

    path = tmp_path / "baseline.json"
    write_baseline(path, Baseline().with_accuracy(_result(BASE, LABELS), recorded_at="x"))
    assert main(["show", str(path)]) == 0
    assert capsys.readouterr().out == (
        "t.py::test_acc  [accuracy]  accuracy=0.85  n=300  slice: all 300, sha256 aaaaaaaaaaaa\n"
    )
