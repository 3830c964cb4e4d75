"""Settings: parsed and validated once, then resolved per measurement.

Precedence, most specific wins: command line > ``measure()`` arguments >
``@pytest.mark.infergate(...)`` > ini file > defaults. Each layer is a
:class:`Settings` whose unset fields are ``None``; :meth:`Settings.over` stacks
them. Every validator raises ``ValueError`` with a message that says what to
fix; the pytest shell adds where the value came from.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_infergate.judge.accuracy import AccuracyPolicy
from pytest_infergate.judge.latency import LatencyPolicy
from pytest_infergate.measure.provenance import Expectations, parse_count_rule
from pytest_infergate.measure.timing import SamplingPlan

PERCENTILES = ("p50", "p90", "p95", "p99")

#: How a single tolerance scales to the tail: a p95 is noisier than a median.
TAIL_TOLERANCE_FACTOR = {"p50": 1.0, "p90": 1.5, "p95": 2.0, "p99": 3.0}


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
        base = parse_fraction(value.get("p50", 0.10))
        scaled = {name: base * factor for name, factor in TAIL_TOLERANCE_FACTOR.items()}
        return scaled | {name: parse_fraction(v) for name, v in value.items()}
    base = parse_fraction(value)
    return {name: base * factor for name, factor in TAIL_TOLERANCE_FACTOR.items()}


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


@dataclass(frozen=True)
class Settings:
    """One layer of per-measurement settings; ``None`` means "not set here"."""

    latency_tolerance: Mapping[str, float] | None = None
    percentiles: tuple[str, ...] | None = None
    warmup: int | None = None
    warmup_s: float | None = None
    min_samples: int | None = None
    min_time_s: float | None = None
    max_time_s: float | None = None
    accuracy_tolerance: float | None = None
    max_flip_rate: float | None = None
    expect_providers: tuple[str, ...] | None = None
    expect_quantized: bool | None = None
    expect_ops: Mapping[str, str] | None = None
    trace: bool | None = None

    @classmethod
    def from_kwargs(cls, kwargs: Mapping[str, Any]) -> Settings:
        """Validate keyword settings (marker or ini); unknown keys are an error that
        suggests the closest known key. British spellings of a key (``expect_quantised``,
        the spelling of the README's prose) are accepted as the key itself."""
        known = {f.name for f in dataclasses.fields(cls)}
        kwargs = dict(kwargs)
        for alias, name in SETTING_ALIASES.items():
            if alias in kwargs:
                if name in kwargs:
                    raise ValueError(f"{alias} and {name} are the same setting; give one")
                kwargs[name] = kwargs.pop(alias)
        unknown = sorted(set(kwargs) - known)
        if unknown:
            guesses = []
            for key in unknown:
                close = [k for k in sorted(known) if key in k][:3]
                close = close or difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.75)
                guesses.append(f"{key} (did you mean {' or '.join(close)}?)" if close else key)
            raise ValueError(
                f"unknown setting(s) {', '.join(guesses)}; known: {', '.join(sorted(known))}"
            )
        values = {}
        for name, raw in kwargs.items():
            if raw is None:
                continue
            try:
                values[name] = _SETTING_PARSERS[name](raw)
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from None
        return cls(**values)

    def over(self, lower: Settings) -> Settings:
        """This layer on top of ``lower``: fields set here win."""
        return dataclasses.replace(
            lower,
            **{
                f.name: getattr(self, f.name)
                for f in dataclasses.fields(self)
                if getattr(self, f.name) is not None
            },
        )

    def plan(self) -> SamplingPlan:
        """The sampling plan of fully resolved settings."""
        return SamplingPlan(
            warmup_calls=_required(self.warmup),
            warmup_s=_required(self.warmup_s),
            min_samples=_required(self.min_samples),
            min_time_s=_required(self.min_time_s),
            max_time_s=_required(self.max_time_s),
        )

    def policy(self) -> LatencyPolicy:
        """The gate policy of fully resolved settings."""
        return LatencyPolicy(
            tolerances=_required(self.latency_tolerance), percentiles=_required(self.percentiles)
        )

    def accuracy_policy(self) -> AccuracyPolicy:
        """The accuracy gate's policy of fully resolved settings (no flip limit unless set)."""
        return AccuracyPolicy(
            tolerance=_required(self.accuracy_tolerance), max_flip_rate=self.max_flip_rate
        )

    def expectations(self) -> Expectations:
        """What the runtime must be: checked against the measured model's facts."""
        return Expectations(
            providers=self.expect_providers,
            quantized=self.expect_quantized,
            ops=dict(self.expect_ops or {}),
        )


def _required(value: Any) -> Any:
    if value is None:
        raise ValueError("setting not resolved; stack it over DEFAULTS first")
    return value


#: Other spellings of a setting's name, accepted as the name itself.
SETTING_ALIASES = {"expect_quantised": "expect_quantized"}

_SETTING_PARSERS: dict[str, Any] = {
    "latency_tolerance": parse_tolerances,
    "percentiles": parse_percentiles,
    "warmup": lambda v: parse_count(v, minimum=0),
    "warmup_s": parse_seconds,
    "min_samples": lambda v: parse_count(v, minimum=1),
    "min_time_s": parse_seconds,
    "max_time_s": lambda v: parse_seconds(v, allow_zero=False),
    "accuracy_tolerance": parse_share,
    "max_flip_rate": parse_share,
    "expect_providers": lambda v: parse_providers(v),
    "expect_quantized": lambda v: parse_strict_bool(v),
    "expect_ops": lambda v: parse_op_rules(v),
    "trace": lambda v: parse_strict_bool(v),
}

DEFAULTS = Settings(
    latency_tolerance=parse_tolerances(0.10),
    percentiles=("p50", "p95"),
    warmup=10,
    warmup_s=0.5,
    min_samples=100,
    min_time_s=1.0,
    max_time_s=10.0,
    accuracy_tolerance=0.01,
)


@dataclass(frozen=True)
class GateConfig:
    """Session-wide settings plus the command-line and ini layers of per-test settings."""

    baseline_path: Path | None = None
    update: bool = False
    strict: bool = False
    mode: Mode = Mode.GATE
    machine: str | None = None
    json_path: Path | None = None
    markdown_path: Path | None = None
    html_path: Path | None = None
    #: ``--infer-csv``: one row per gated figure (:mod:`pytest_infergate.report.csv`).
    csv_path: Path | None = None
    cli: Settings = Settings()
    ini: Settings = Settings()
    #: ``--infer-against``: the revision (or checkout) measured in lock-step with this one.
    against: str | None = None
    #: ``--infer-against-python``: the interpreter of the other revision's process.
    against_python: str | None = None

    def resolve(self, *layers: Settings) -> Settings:
        """Fully resolved settings: CLI over ``layers`` (most specific first) over ini, defaults."""
        resolved = self.ini.over(DEFAULTS)
        for layer in reversed(layers):
            resolved = layer.over(resolved)
        return self.cli.over(resolved)


#: Ini keys and the ``measure()``-level setting each one provides.
INI_SETTINGS = {
    "infer_latency_tolerance": "latency_tolerance",
    "infer_max_time": "max_time_s",
    "infer_accuracy_tolerance": "accuracy_tolerance",
    "infer_max_flip_rate": "max_flip_rate",
}


def gate_config_from_options(
    get_option: Callable[[str], Any],
    get_ini: Callable[[str], Any],
    ini_dir: Path | None = None,
) -> GateConfig:
    """Build the session's :class:`GateConfig` from command-line and ini values.

    ``get_option``/``get_ini`` are ``pytest.Config.getoption``/``getini``; a
    command-line value of ``None`` means "not given". Raises ``ValueError`` naming
    the option or ini key at fault.
    """

    def ini(key: str) -> str | None:
        value = get_ini(key)
        return str(value).strip() or None if value is not None else None

    def parsed(where: str, parse: Callable[[Any], Any], value: Any) -> Any:
        if value is None:
            return None
        try:
            return parse(value)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None

    def path(key: str) -> Path | None:
        """A path option: from the command line as given (relative to the working
        directory), from the ini file relative to that file's folder."""
        given = get_option(key)
        if given is not None and not str(given).strip():
            flag = "--" + key.replace("_", "-")
            raise ValueError(f"{flag}: an empty path; give a file name, or leave the option out")
        if given:
            return Path(given)
        written = ini(key)
        if not written:
            return None
        return Path(written) if ini_dir is None else ini_dir / written

    baseline = path("infer_baseline")
    json_path = path("infer_json")
    ini_layer = {
        setting: parsed(f"ini {key}", _SETTING_PARSERS[setting], ini(key))
        for key, setting in INI_SETTINGS.items()
    }
    cli_layer = {
        "trace": True if get_option("infer_trace") else None,
        "latency_tolerance": get_option("infer_latency_tolerance"),
        "max_time_s": get_option("infer_max_time"),
        "accuracy_tolerance": get_option("infer_accuracy_tolerance"),
        "max_flip_rate": get_option("infer_max_flip_rate"),
    }
    mode = get_option("infer_mode") or parsed("ini infer_mode", parse_mode, ini("infer_mode"))
    strict = get_option("infer_strict") or bool(
        parsed("ini infer_strict", parse_bool, ini("infer_strict"))
    )
    return GateConfig(
        baseline_path=baseline,
        update=bool(get_option("infer_update_baseline")),
        strict=strict,
        mode=mode or Mode.GATE,
        machine=get_option("infer_machine") or ini("infer_machine"),
        json_path=json_path,
        markdown_path=path("infer_markdown"),
        html_path=path("infer_html"),
        csv_path=path("infer_csv"),
        against=get_option("infer_against") or ini("infer_against"),
        against_python=get_option("infer_against_python") or ini("infer_against_python"),
        cli=Settings(**{k: v for k, v in cli_layer.items() if v is not None}),
        ini=Settings(**{k: v for k, v in ini_layer.items() if v is not None}),
    )
