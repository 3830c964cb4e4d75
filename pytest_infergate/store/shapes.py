"""What each record's JSON holds beyond its fields' types: the one table the codec
(:mod:`pytest_infergate.store.codec`) walks for the baseline, the results file and the
measurements workers send."""

from __future__ import annotations

import base64
import binascii
import math
import re
import struct
from collections.abc import Mapping
from typing import Any

from pytest_infergate.measure.cpu import CpuUsage
from pytest_infergate.measure.environment import Fingerprint
from pytest_infergate.measure.provenance import RuntimeFacts
from pytest_infergate.measure.telemetry import SERIES_DECIMALS, GpuFacts, GpuSample, GpuTelemetry
from pytest_infergate.measure.trace import OpTime, OpTypeTime, Trace
from pytest_infergate.results import (
    LATENCY_FIGURES,
    AccuracyResult,
    ComparisonResult,
    FixedGates,
    LatencyResult,
    Measurement,
    ResultsFile,
)
from pytest_infergate.store.baseline.records import (
    CPU_CLOCKS,
    PREDICTION_DTYPES,
    AccuracyEntry,
    Baseline,
    LatencyEntry,
    LatencyRecord,
    RatioEntry,
    RatioRecord,
    RecordedCommit,
    encode_predictions,
)
from pytest_infergate.store.codec import (
    Codec,
    Field,
    Shape,
    finite_or_none,
    omit_empty,
    round4,
)
from pytest_infergate.store.reader import (
    MAX_TIME_MS,
    MIN_TIME_MS,
    Read,
    Reader,
    choice,
    digest,
    duration,
    each,
    integer,
    iso_times,
    numbers,
    positive,
    short,
    strings,
    time_ms,
    times_ms,
)
from pytest_infergate.verdicts import AccuracyCheck, Check, Verdict

# -- the results file and the transport -----------------------------------------------------

#: GPU reading fields summarised as min/mean/max in the results file.
GPU_FIELDS = ("utilization_pct", "memory_used_mib", "power_w", "sm_clock_mhz", "temperature_c")

_NO_CPU = Field(omit=omit_empty)
_DURATION = Field(read=duration)
_OMIT_NONE = Field(omit=lambda v: v is None)
#: A verdict's key and kind are its measurement's; an A/B arm's key is too in files of
#: version 2, which did not write it.
_FROM_MEASUREMENT = Field(inherit=True, omit=lambda _: True)


def _ints(minimum: int) -> Read:
    return each(lambda r, v, at: r.whole(v, at, minimum))


def _latency_figures(r: LatencyResult) -> dict[str, Any]:
    return {
        "n": r.n,
        **{name: getattr(r, name) for name in LATENCY_FIGURES},
        "throughput_per_s": r.throughput_per_s,
        **({"cpu_p50_ms": r.cpu_p50_ms} if r.cpu_samples_ns else {}),
        **({"yardstick_ms": r.yardstick_ms} if r.yardstick_ns else {}),
    }


def _samples(r: Reader, obj: Mapping[str, Any], key: str, where: str) -> tuple[int, ...]:
    samples: tuple[int, ...] = _ints(1)(r, obj, key, where)
    if not samples:
        raise r.fail(f"{where}.{key}", "a measurement needs at least one sample")
    return samples


def _gates(gates: FixedGates) -> dict[str, Any]:
    """The fixed gates a test set; ``stored_ratio`` only when it was turned off."""
    return {
        **{k: v for k in ("max_slowdown", "min_speedup") if (v := getattr(gates, k)) is not None},
        **({} if gates.stored_ratio else {"stored_ratio": False}),
    }


def _ratio_figures(r: ComparisonResult) -> dict[str, Any]:
    return {
        "batch_size": r.batch_size,
        "n": r.n,
        "ratio": r.ratio,
        "ratio_low": finite_or_none(r.ratio_low),
        "ratio_high": finite_or_none(r.ratio_high),
        "p95_ratio": r.p95_ratio,
        "speedup": r.speedup,
    }


def _accuracy_figures(r: AccuracyResult) -> dict[str, Any]:
    return {
        "n": r.n,
        "correct": r.correct,
        "low": r.low,
        "high": r.high,
        "examples_per_s": finite_or_none(r.examples_per_s),
    }


def _interval_end(infinity: float) -> Field:
    """A check's interval end: ``null`` in the file where it is open (JSON has no infinity)."""

    def read(r: Reader, obj: Mapping[str, Any], key: str, where: str) -> float:
        return infinity if obj[key] is None else r.number(obj, key, where)

    return Field(read=read, write=finite_or_none)


def _gpu_summary(gpu: GpuTelemetry) -> dict[str, Any]:
    figures = {}
    for name in GPU_FIELDS:
        low, mean, high = gpu.stats(name)
        figures[name] = {"min": low, "mean": mean, "max": high}
    return {"readings": len(gpu.samples), "slowdowns": list(gpu.slowdowns), **figures}


def _gpu_series(r: Reader, obj: Mapping[str, Any], key: str, where: str) -> tuple[GpuSample, ...]:
    at = f"{where}.{key}"
    series = r.mapping(obj[key], at)
    columns: dict[str, tuple[Any, ...]] = {
        name: each(lambda r, v, path: r.duration(v, path))(r, series, name, at)
        for name in SERIES_DECIMALS
    }
    columns["slowdown_mask"] = _ints(0)(r, series, "slowdown_mask", at)
    readings = len(columns["t_s"])
    if not readings:
        raise r.fail(f"{at}.t_s", "a series needs at least one reading")
    for name, values in columns.items():
        if len(values) != readings:
            raise r.fail(f"{at}.{name}", f"{len(values)} values for {readings} readings (t_s)")
    return tuple(
        GpuSample(**{name: values[i] for name, values in columns.items()}) for i in range(readings)
    )


def _gpu(r: Reader, obj: Mapping[str, Any], key: str, where: str) -> GpuTelemetry | None:
    """GPU telemetry from its ``series``; telemetry written before the series was stored
    reads as none."""
    telemetry = r.mapping(obj[key], f"{where}.{key}")
    if "series" not in telemetry:
        return None
    return CODEC.decode(GpuTelemetry, telemetry, f"{where}.{key}", r)


#: A check's fields, an accuracy check's too: open interval ends as ``null``; ``note`` and
#: ``deciding`` only when they say something.
_CHECK_FIELDS = {
    "low": _interval_end(-math.inf),
    "high": _interval_end(math.inf),
    "note": Field(omit=omit_empty),
    "deciding": Field(omit=bool),
}

_RESULT_SHAPES: dict[type[Any], Shape] = {
    LatencyResult: Shape(
        fields={
            "key": Field(inherit=True),
            "samples_ns": Field(read=_samples),
            "batch_size": Field(read=integer(1)),
            "calls_per_sample": Field(read=integer(1)),
            "measured_s": _DURATION,
            "cpu_samples_ns": _NO_CPU,
            "cpu_clock": Field(omit=_OMIT_NONE.omit, read=choice(CPU_CLOCKS, "clock")),
            "yardstick_ns": _NO_CPU,
            "yardstick_blocks": _NO_CPU,
        },
        derived=_latency_figures,
        tag=("kind", "latency"),
        noun="measurement kind",
    ),
    ComparisonResult: Shape(
        fields={"key": Field(inherit=True), "measured_s": _DURATION},
        derived=_ratio_figures,
        tag=("kind", "ratio"),
    ),
    FixedGates: Shape(
        fields={
            "max_slowdown": _OMIT_NONE,
            "min_speedup": _OMIT_NONE,
            "stored_ratio": Field(omit=bool),
        },
        closed=True,
        noun="gate",
    ),
    AccuracyResult: Shape(
        fields={"key": Field(inherit=True), "predict_s": _DURATION},
        derived=_accuracy_figures,
        tag=("kind", "accuracy"),
    ),
    Check: Shape(
        fields=_CHECK_FIELDS,
        subtype=lambda obj: AccuracyCheck if "paired" in obj else Check,
    ),
    AccuracyCheck: Shape(fields=_CHECK_FIELDS, derived=lambda c: {"change": c.change}),
    Verdict: Shape(fields={"key": _FROM_MEASUREMENT, "kind": _FROM_MEASUREMENT}),
    Measurement: Shape(
        fields={
            "result": Field(flatten=True),
            "facts": Field(key="runtime_facts"),
            "reference_facts": Field(key="reference_runtime_facts", omit=_OMIT_NONE.omit),
            "gpu": Field(key="gpu_telemetry", omit=_OMIT_NONE.omit, read=_gpu),
            "trace": _OMIT_NONE,
            "cpu": _OMIT_NONE,
        },
        derived=lambda m: {"load_average_1m": m.cpu.load_average if m.cpu else None},
    ),
    GpuTelemetry: Shape(
        # The series is thinned to SERIES_LIMIT readings, which needs the whole telemetry:
        # it is written with the summary, and read back into ``samples``.
        fields={
            "index": Field(key="gpu"),
            "samples": Field(key="series", read=_gpu_series, omit=lambda _: True),
        },
        derived=lambda gpu: {**_gpu_summary(gpu), "series": gpu.series()},
    ),
    Trace: Shape(
        fields={"calls": Field(read=integer(1)), "call_ms": _DURATION},
        derived=lambda t: {"covered_share": t.covered_share, "outside_share": t.outside_share},
    ),
    OpTime: Shape(fields={"total_ms": _DURATION, "share": _DURATION}),
    OpTypeTime: Shape(fields={"total_ms": _DURATION, "share": _DURATION}),
    CpuUsage: Shape(
        fields={
            "wall_s": _DURATION,
            "process_cpu_s": _DURATION,
            "cores": Field(read=integer(1)),
            "load_average": _DURATION,
            "torch_threads": Field(read=integer(1)),
            "run_queue_wait_s": _DURATION,
        },
        derived=lambda c: {"utilisation": c.utilisation, "waiting_share": c.waiting_share},
    ),
    ResultsFile: Shape(),
}

# -- the baseline -----------------------------------------------------------------------------

_DIGEST = Field(read=digest, omit=omit_empty)
_ROUNDED_TIME = Field(read=time_ms(), write=round4)
_ROUNDED_TIMES = Field(read=times_ms, write=lambda values: [round4(v) for v in values])


def _rounded_positive(*, zero: bool = False) -> Field:
    return Field(read=positive(zero=zero), write=round4)


def _predictions(r: Reader, obj: Mapping[str, Any], key: str, where: str) -> tuple[int, ...]:
    n = r.integer(obj, "n", where, minimum=1)
    dtype = choice(tuple(PREDICTION_DTYPES), "dtype")(r, obj, f"{key}_dtype", where)
    code = PREDICTION_DTYPES[dtype]
    text = r.string(obj, key, where)
    try:
        packed = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise r.fail(f"{where}.{key}", "not valid base64") from None
    size = struct.calcsize(f"<{code}")
    if len(packed) != n * size:
        raise r.fail(
            f"{where}.{key}",
            f"expected {n} {dtype} values ({n * size} bytes) for n={n}, got {len(packed)} bytes",
        )
    return tuple(struct.unpack(f"<{n}{code}", packed))


def _correct(r: Reader, obj: Mapping[str, Any], key: str, where: str) -> int:
    n, correct = r.integer(obj, "n", where, minimum=1), r.integer(obj, key, where)
    if correct > n:
        raise r.fail(f"{where}.{key}", f"{correct} correct out of n={n}")
    return correct


def _interval_low(value: float) -> float:
    """A ratio interval's lower end, written so that it reads back: 0 where it is open or
    rounds below the smallest stored value."""
    rounded = round4(max(value, 0.0))
    return rounded if rounded >= MIN_TIME_MS else 0.0


def _interval_high(value: float) -> float | None:
    """A ratio interval's upper end, written so that it reads back: ``null`` (open) where it
    is infinite or rounds above the largest stored value."""
    rounded = round4(value) if math.isfinite(value) else math.inf
    return rounded if rounded <= MAX_TIME_MS else None


def _ratio_high(r: Reader, obj: Mapping[str, Any], key: str, where: str) -> float:
    return math.inf if obj[key] is None else r.positive(obj[key], f"{where}.{key}")


def _commit(r: Reader, obj: Mapping[str, Any], key: str, where: str) -> str:
    sha = obj[key]
    if not isinstance(sha, str) or not re.fullmatch(r"[0-9a-f]{7,64}", sha):
        raise r.fail(f"{where}.{key}", f"expected a git commit sha, got {short(sha)}")
    return sha


_TOLERANCE = Field(read=numbers(lambda r, v, at: r.duration(v, at)))

_BASELINE_SHAPES: dict[type[Any], Shape] = {
    LatencyRecord: Shape(
        fields={
            "n": Field(read=integer(1)),
            "batch_size": Field(read=integer(1)),
            **{name: _ROUNDED_TIME for name in LATENCY_FIGURES},
            "stdev_ms": Field(read=time_ms(zero=True), write=round4),
            "history_p50_ms": _ROUNDED_TIMES,
            "history_p95_ms": _ROUNDED_TIMES,
            "sketch_ms": _ROUNDED_TIMES,
            "model_sha256": _DIGEST,
            "model_build_sha256": _DIGEST,
            "history_recorded_at": Field(read=iso_times, omit=omit_empty),
            "cpu_clock": Field(read=choice(CPU_CLOCKS, "clock"), omit=omit_empty),
            "cpu_p50_ms": Field(read=time_ms(), write=round4, omit=omit_empty),
            "history_cpu_p50_ms": Field(read=times_ms, write=_ROUNDED_TIMES.write, omit=omit_empty),
            "history_cpu_per_wall": Field(
                read=each(lambda r, v, at: r.positive(v, at)),
                write=_ROUNDED_TIMES.write,
                omit=omit_empty,
            ),
            "history_yardstick_ms": Field(
                read=times_ms, write=_ROUNDED_TIMES.write, omit=omit_empty
            ),
        }
    ),
    LatencyEntry: Shape(
        fields={"tolerance": _TOLERANCE}, tag=("kind", "latency"), noun="entry kind"
    ),
    RatioEntry: Shape(fields={"tolerance": _TOLERANCE}, tag=("kind", "ratio")),
    RatioRecord: Shape(
        fields={
            "n": Field(read=integer(1)),
            "batch_size": Field(read=integer(1)),
            "ratio": _rounded_positive(),
            "ratio_low": Field(read=positive(zero=True), write=_interval_low),
            "ratio_high": Field(read=_ratio_high, write=_interval_high),
            "candidate_p50_ms": _rounded_positive(),
            "reference_p50_ms": _rounded_positive(),
            "history_ratio": Field(
                read=each(lambda r, v, at: r.positive(v, at)), write=_ROUNDED_TIMES.write
            ),
            "model_sha256": _DIGEST,
            "reference_model_sha256": _DIGEST,
            "model_build_sha256": _DIGEST,
            "reference_model_build_sha256": _DIGEST,
        }
    ),
    AccuracyEntry: Shape(
        fields={
            "value": Field(write=lambda v: float(f"{v:.6g}")),
            "n": Field(read=integer(1)),
            "correct": Field(read=_correct),
            "slice_sha256": Field(read=digest),
            "predictions": Field(read=_predictions, write=lambda p: encode_predictions(p)[0]),
            "model_sha256": _DIGEST,
            "model_build_sha256": _DIGEST,
        },
        derived=lambda e: {"predictions_dtype": encode_predictions(e.predictions)[1]},
        tag=("kind", "accuracy"),
    ),
    Fingerprint: Shape(
        fields={
            "cores": Field(read=integer(1)),
            "ram_gib": _DURATION,
            "libraries": Field(read=strings),
            "thread_env": Field(read=strings),
            "gpus": Field(omit=omit_empty),
        }
    ),
    GpuFacts: Shape(fields={"memory_gib": _DURATION}),
    RecordedCommit: Shape(fields={"sha": Field(read=_commit)}),
    Baseline: Shape(fields={"revision": _OMIT_NONE}),
}

#: The codec every file and message of pytest-infergate goes through.
CODEC = Codec(
    {**_RESULT_SHAPES, **_BASELINE_SHAPES},
    names={
        "CpuUsage": CpuUsage,
        "RuntimeFacts": RuntimeFacts,
        "GpuTelemetry": GpuTelemetry,
        "Trace": Trace,
        "Fingerprint": Fingerprint,
        "GpuFacts": GpuFacts,
    },
)
