"""What can be set, how each value is read, and its default: one table for all of it.

:data:`SETTINGS` lists the per-measurement settings (marker keys, ``measure()``
arguments) with their validator and default; :data:`OPTIONS` lists the ``--infer-*``
command-line options with, where they have one, their ini key. The pytest shell
registers both forms from :data:`OPTIONS` and :mod:`pytest_infergate.config` resolves
them (command line > ini > default). Every validator raises ``ValueError`` with a
message that says what to fix; the caller adds where the value came from.
"""

from __future__ import annotations

import argparse
import enum
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pytest_infergate import defaults
from pytest_infergate.defaults import PERCENTILES

#: Environment variable naming the channel of the run this process is a companion of
#: (``host:port:token:list``, :mod:`pytest_infergate.against.link`).
COMPANION_ENV = "INFERGATE_COMPANION"


class Mode(enum.Enum):
    """``gate`` fails tests on regressions; ``report`` only prints; ``off`` does not time."""

    GATE = "gate"
    REPORT = "report"
    OFF = "off"


def _number_or_percent(value: object) -> tuple[float, bool]:
    """``0.1`` or ``"10%"`` as a fraction, and whether it was written with ``%``."""
    if isinstance(value, str):
        text = value.strip()
        try:
            if text.endswith("%"):
                return float(text[:-1]) / 100, True
            return float(text), False
        except ValueError:
            raise ValueError(f"expected a number such as 0.1 or 10%, got {value!r}") from None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value), False
    raise ValueError(f"expected a number such as 0.1 or 10%, got {value!r}")


def parse_fraction(value: object) -> float:
    """A relative tolerance: ``0.1`` or ``"10%"``; finite and >= 0.

    A bare number above 1 is refused: ``--infer-latency-tolerance=10`` reads as "10%"
    to a person and as +1000% to the parser, and a gate that lets an 11x slowdown pass
    is no gate. Tolerances that large are legitimate (a shared runner's absolute
    latencies), so they stay possible, written out with ``%``."""
    number, written_as_percent = _number_or_percent(value)
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"a tolerance must be a finite number >= 0, got {value!r}")
    if number > 1 and not written_as_percent:
        allowed = f"{number * 100:g}%"
        raise ValueError(
            f"{value!r} is a fraction above 1: did you mean {number:g}%? "
            f"Write {allowed} to allow +{allowed} ({number + 1:g}x the baseline's time)"
        )
    return number


def parse_tolerances(value: object) -> dict[str, float]:
    """A latency tolerance: one fraction (tails scaled from it) or ``{"p50": .., "p95": ..}``."""
    if isinstance(value, Mapping):
        unknown = set(value) - set(PERCENTILES)
        if unknown:
            raise ValueError(
                f"unknown percentile(s) {', '.join(sorted(map(str, unknown)))}; "
                f"known: {', '.join(PERCENTILES)}"
            )
        base = parse_fraction(value.get("p50", SETTING["latency_tolerance"].default))
        return defaults.latency_tolerances(base) | {
            name: parse_fraction(v) for name, v in value.items()
        }
    return defaults.latency_tolerances(parse_fraction(value))


def parse_share(value: object) -> float:
    """An absolute share of examples: ``0.01`` or ``"1%"`` (one point); in [0, 1]."""
    number, _ = _number_or_percent(value)
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"a tolerance must be a finite number >= 0, got {value!r}")
    if number > 1.0:
        raise ValueError(f"expected a share between 0 and 1 (e.g. 0.01 or 1%), got {value!r}")
    return number


#: The longest duration a time setting takes: a day. Longer is a typo, and far longer
#: (1e300) overflows the nanosecond clock arithmetic.
MAX_SECONDS = 86_400.0


_COUNT_RULE = re.compile(r"^\s*(>=|<=|==|>|<|!=)?\s*(\d+)\s*$")


def parse_count_rule(rule: object) -> tuple[str, int]:
    """``">=1"``, ``"==0"``, ``"3"`` or an int -> (operator, count)."""
    if isinstance(rule, int) and not isinstance(rule, bool):
        return "==", rule
    match = _COUNT_RULE.match(str(rule))
    if not match:
        raise ValueError(f"expected a count rule such as '>=1' or '==0', got {rule!r}")
    return match.group(1) or "==", int(match.group(2))


def parse_seconds(value: object, *, allow_zero: bool = True) -> float:
    """A duration in seconds: >= 0 (or > 0) and at most :data:`MAX_SECONDS`."""
    try:
        number = float(value) if not isinstance(value, bool) else math.nan  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"expected a number of seconds, got {value!r}") from None
    if not (0 <= number <= MAX_SECONDS) or (number == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(
            f"expected a finite number of seconds {bound} and <= {MAX_SECONDS:g}, got {value!r}"
        )
    return number


def parse_count(value: object, *, minimum: int) -> int:
    """A whole number >= ``minimum``."""
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
        number = int(value)
    if number is None or number < minimum:
        raise ValueError(f"expected a whole number >= {minimum}, got {value!r}")
    return number


def parse_percentiles(value: object) -> tuple[str, ...]:
    """Which percentiles to gate, e.g. ``("p50", "p95")``."""
    names = (value,) if isinstance(value, str) else value
    if not isinstance(names, (tuple, list)) or not names:
        raise ValueError(f"expected percentile names such as ('p50', 'p95'), got {value!r}")
    for name in names:
        if name not in PERCENTILES:
            raise ValueError(f"unknown percentile {name!r}; known: {', '.join(PERCENTILES)}")
    return tuple(names)


def parse_mode(value: object) -> Mode:
    try:
        return Mode(str(value).strip().lower())
    except ValueError:
        known = ", ".join(m.value for m in Mode)
        raise ValueError(f"expected one of {known}, got {value!r}") from None


def parse_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def parse_strict_bool(value: object) -> bool:
    """``True`` or ``False`` only (a marker key, where ``"no"`` would be a typo)."""
    if not isinstance(value, bool):
        raise ValueError(f"expected True or False, got {value!r}")
    return value


def parse_providers(value: object) -> tuple[str, ...]:
    """Execution provider names, e.g. ``["CUDAExecutionProvider"]``."""
    names = (value,) if isinstance(value, str) else value
    if (
        not isinstance(names, (tuple, list))
        or not names
        or not all(isinstance(n, str) and n for n in names)
    ):
        raise ValueError(
            f"expected provider names such as ['CUDAExecutionProvider'], got {value!r}"
        )
    return tuple(names)


def parse_op_rules(value: object) -> dict[str, str]:
    """Operator count rules, e.g. ``{"MatMulInteger": ">=1", "MatMul": "==0"}``."""
    if not isinstance(value, Mapping) or not value:
        raise ValueError(
            f"expected operator rules such as {{'MatMulInteger': '>=1'}}, got {value!r}"
        )
    rules = {}
    for op, rule in value.items():
        if not isinstance(op, str) or not op:
            raise ValueError(f"expected an operator type name, got {op!r}")
        symbol, count = parse_count_rule(rule)
        rules[op] = f"{symbol}{count}"
    return rules


def argparse_type(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """Adapt a validator so argparse shows its message, not "invalid value"."""

    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = parse.__name__
    return convert


def parse_time_cap(value: object) -> float:
    """The longest time a measurement may sample: seconds > 0."""
    return parse_seconds(value, allow_zero=False)


@dataclass(frozen=True)
class Setting:
    """A per-measurement setting (marker key, ``measure()`` argument, ini/command-line
    layer): its validator and its default as a person would write it (``None``: off)."""

    name: str
    parse: Callable[[Any], Any]
    default: object = None


SETTINGS = (
    Setting("latency_tolerance", parse_tolerances, defaults.LATENCY_TOLERANCE),
    Setting("percentiles", parse_percentiles, defaults.GATED_PERCENTILES),
    Setting("warmup", lambda v: parse_count(v, minimum=0), defaults.WARMUP_CALLS),
    Setting("warmup_s", parse_seconds, defaults.WARMUP_S),
    Setting("min_samples", lambda v: parse_count(v, minimum=1), defaults.MIN_SAMPLES),
    Setting("min_time_s", parse_seconds, defaults.MIN_TIME_S),
    Setting("max_time_s", parse_time_cap, defaults.MAX_TIME_S),
    Setting("accuracy_tolerance", parse_share, defaults.ACCURACY_TOLERANCE),
    Setting("max_flip_rate", parse_share),
    Setting("expect_providers", parse_providers),
    Setting("expect_quantized", parse_strict_bool),
    Setting("expect_ops", parse_op_rules),
    Setting("trace", parse_strict_bool),
)
SETTING = {setting.name: setting for setting in SETTINGS}

#: Other spellings of a setting's name, accepted as the name itself.
SETTING_ALIASES = {"expect_quantised": "expect_quantized"}

#: Where an option's value goes: a :class:`~pytest_infergate.config.GateConfig` field, a
#: path field (read relative to the ini file when it comes from there), a per-measurement
#: setting, or nowhere in the configuration (read by the hooks themselves).
Target = Literal["field", "path", "setting", "hook"]


@dataclass(frozen=True)
class Option:
    """One ``--infer-*`` option and, where ``ini_help`` is set, its ini key (``dest``).

    ``help`` and ``ini_help`` may name ``{default}``: the default of the setting it sets."""

    dest: str
    help: str
    target: Target = "field"
    #: The GateConfig field or the setting the value goes to (``dest`` without ``infer_``
    #: when not given).
    to: str = ""
    metavar: str | None = None
    #: Reads a written value (command line or ini); a setting's own validator when unset.
    parse: Callable[[Any], Any] | None = None
    #: A flag without a value (``store_true``); ``parse`` then reads the ini value only.
    switch: bool = False
    ini_help: str | None = None

    @property
    def flag(self) -> str:
        return "--" + self.dest.replace("_", "-")

    @property
    def name(self) -> str:
        """The GateConfig field or setting this option sets."""
        return self.to or self.dest.removeprefix("infer_")

    def reader(self) -> Callable[[Any], Any] | None:
        """What reads a written value; ``None``: the text as it is."""
        if self.parse is None and self.target == "setting":
            return SETTING[self.name].parse
        return self.parse

    def describe(self, text: str) -> str:
        """``text`` with ``{default}`` filled in from the setting's default."""
        if "{default}" not in text:
            return text
        return text.format(default=f"{SETTING[self.name].default:g}")


OPTIONS = (
    Option(
        "infer_baseline",
        "Baseline JSON to gate against (ini: infer_baseline)",
        target="path",
        to="baseline_path",
        metavar="PATH",
        ini_help="Baseline JSON to gate against",
    ),
    Option(
        "infer_update_baseline",
        "Re-record the baseline entries of the tests that ran; never fail on a change",
        to="update",
        switch=True,
    ),
    Option(
        "infer_strict",
        "Fail on NEW, INCONCLUSIVE and NO-BASELINE-FOR-MACHINE verdicts too, and on a "
        "missing baseline file (ini: infer_strict)",
        parse=parse_bool,
        switch=True,
        ini_help="Fail on NEW, INCONCLUSIVE and NO-BASELINE-FOR-MACHINE too (true/false)",
    ),
    Option(
        "infer_latency_tolerance",
        "Allowed p50 slowdown, e.g. 0.1 or 10%%; tails get more (p95: 2x). Default: {default}",
        target="setting",
        to="latency_tolerance",
        metavar="FRACTION",
        ini_help="Allowed p50 slowdown (fraction); default {default}",
    ),
    Option(
        "infer_max_time",
        "Longest time one measurement (or A/B comparison) may sample; sampling "
        "stops earlier once the verdict is clear. Default: {default}",
        target="setting",
        to="max_time_s",
        metavar="SECONDS",
        ini_help="Longest time one measurement may sample, in seconds; default {default}",
    ),
    Option(
        "infer_accuracy_tolerance",
        "Allowed absolute accuracy drop, e.g. 0.01 or 1%% (one point). Default: {default}",
        target="setting",
        metavar="SHARE",
        ini_help="Allowed absolute accuracy drop (share); default {default}",
    ),
    Option(
        "infer_max_flip_rate",
        "Fail when more than this share of predictions changed, e.g. 0.05. Default: off",
        target="setting",
        metavar="SHARE",
        ini_help="Largest share of changed predictions allowed; default off",
    ),
    Option(
        "infer_machine",
        "Machine profile the latencies are stored under. Default: derived from CPU and cores",
        metavar="NAME",
        ini_help="Machine profile the latencies are stored under",
    ),
    Option(
        "infer_json",
        "Write every measurement and verdict to this JSON file",
        target="path",
        to="json_path",
        metavar="PATH",
        ini_help="Write every measurement and verdict to this JSON file",
    ),
    Option(
        "infer_markdown",
        "Write a Markdown summary (verdict table, top regressions); also appended to "
        "$GITHUB_STEP_SUMMARY when that is set (ini: infer_markdown)",
        target="path",
        to="markdown_path",
        metavar="PATH",
        ini_help="Write a Markdown summary to this file",
    ),
    Option(
        "infer_html",
        "Write a self-contained HTML report with charts (needs matplotlib: extra [report]; "
        "ini: infer_html)",
        target="path",
        to="html_path",
        metavar="PATH",
        ini_help="Write a self-contained HTML report to this file",
    ),
    Option(
        "infer_csv",
        "Write one CSV row per gated figure (test, metric, baseline, current, change, "
        "verdict, percentiles, throughput; ini: infer_csv)",
        target="path",
        to="csv_path",
        metavar="PATH",
        ini_help="Write one CSV row per gated figure to this file",
    ),
    Option(
        "infer_mode",
        "gate: fail on regressions; report: compare and print only; off: call once, no timing",
        metavar="gate|report|off",
        parse=parse_mode,
        ini_help="gate, report or off; default gate",
    ),
    Option(
        "infer_trace",
        "After each measurement, profile a few calls of its ONNX Runtime session or torch "
        "model and list the top operators (marker: trace=True)",
        target="setting",
        switch=True,
    ),
    Option(
        "infer_against",
        "Time every measurement in lock-step against this git revision (origin/main, "
        "HEAD~1, a sha) or checkout, in a companion process, and gate the ratio "
        "(ini: infer_against)",
        metavar="REV|PATH",
        ini_help="Git revision or checkout to time every measurement against",
    ),
    Option(
        "infer_against_python",
        "Interpreter of the --infer-against companion (default: this one), to A/B an "
        "environment (ini: infer_against_python)",
        metavar="PATH",
        ini_help="Interpreter of the --infer-against companion",
    ),
    Option(
        "infer_only",
        "Run only the tests that use infer_bench or accuracy_eval; skip the others "
        "(as pytest-benchmark's --benchmark-only)",
        target="hook",
        switch=True,
    ),
    Option(
        "infer_skip",
        "Skip the tests that use infer_bench or accuracy_eval (as --benchmark-skip)",
        target="hook",
        switch=True,
    ),
)
