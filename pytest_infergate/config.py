"""Settings: parsed and validated once, then resolved per measurement.

Precedence, most specific wins: command line > ``measure()`` arguments >
``@pytest.mark.infergate(...)`` > ini file > defaults. Each layer is a
:class:`Settings` whose unset fields are ``None``; :meth:`Settings.over` stacks
them. What can be set, its validator and its default are the tables of
:mod:`pytest_infergate.options`.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_infergate.judge.accuracy import AccuracyPolicy
from pytest_infergate.judge.latency import LatencyPolicy
from pytest_infergate.measure.provenance import Expectations
from pytest_infergate.measure.timing import SamplingPlan
from pytest_infergate.options import (
    OPTIONS,
    SETTING,
    SETTING_ALIASES,
    SETTINGS,
    Mode,
    Option,
)

__all__ = [
    "DEFAULTS",
    "GateConfig",
    "Mode",
    "Settings",
    "gate_config_from_options",
]


@dataclass(frozen=True)
class Settings:
    """One layer of per-measurement settings; ``None`` means "not set here"."""

    # the latency gate: policy()
    latency_tolerance: Mapping[str, float] | None = None
    percentiles: tuple[str, ...] | None = None
    # how long to sample: plan()
    warmup: int | None = None
    warmup_s: float | None = None
    min_samples: int | None = None
    min_time_s: float | None = None
    max_time_s: float | None = None
    # the accuracy gate: accuracy_policy()
    accuracy_tolerance: float | None = None
    max_flip_rate: float | None = None
    # what the runtime must be: expectations()
    expect_providers: tuple[str, ...] | None = None
    expect_quantized: bool | None = None
    expect_ops: Mapping[str, str] | None = None
    # profile each measurement after timing it (--infer-trace)
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
                values[name] = SETTING[name].parse(raw)
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from None
        return cls(**values)

    @classmethod
    def given(cls, **values: object) -> Settings:
        """:meth:`from_kwargs` of a call's own keyword arguments (``None``: not given)."""
        return cls.from_kwargs(values)

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


#: Every setting's default: the table's, read as a marker's value would be.
DEFAULTS = Settings(
    **{
        setting.name: setting.parse(setting.default)
        for setting in SETTINGS
        if setting.default is not None
    }
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


def gate_config_from_options(
    get_option: Callable[[str], Any],
    get_ini: Callable[[str], Any],
    ini_dir: Path | None = None,
) -> GateConfig:
    """Build the session's :class:`GateConfig` from command-line and ini values.

    ``get_option``/``get_ini`` are ``pytest.Config.getoption``/``getini``; a
    command-line value of ``None`` means "not given". Raises ``ValueError`` naming
    the option or ini key at fault. Per-measurement settings keep their command-line
    and ini layers apart (a marker sits between them); any other value is the command
    line's, else the ini file's, else the :class:`GateConfig` default.
    """
    fields: dict[str, Any] = {}
    cli: dict[str, Any] = {}
    ini: dict[str, Any] = {}
    for option in OPTIONS:
        given = get_option(option.dest)
        if option.target == "setting":
            if given is not None and (given or not option.switch):
                cli[option.name] = True if option.switch else given
            written = _ini_value(get_ini, option)
            if written is not None:
                ini[option.name] = written
        elif option.target == "path":
            fields[option.name] = _path(option, given, get_ini, ini_dir)
        elif option.target == "field":
            fields[option.name] = given or _ini_value(get_ini, option)
    return GateConfig(
        **{name: value for name, value in fields.items() if value is not None},
        cli=Settings(**cli),
        ini=Settings(**ini),
    )


def _ini_value(get_ini: Callable[[str], Any], option: Option) -> Any:
    """The option's ini value, read by its validator; ``None`` when not written."""
    if option.ini_help is None:
        return None
    value = get_ini(option.dest)
    text = str(value).strip() if value is not None else ""
    read = option.reader()
    if not text or read is None:
        return text or None
    try:
        return read(text)
    except ValueError as exc:
        raise ValueError(f"ini {option.dest}: {exc}") from None


def _path(
    option: Option, given: Any, get_ini: Callable[[str], Any], ini_dir: Path | None
) -> Path | None:
    """A path option: from the command line as given (relative to the working
    directory), from the ini file relative to that file's folder."""
    if given is not None and not str(given).strip():
        raise ValueError(f"{option.flag}: an empty path; give a file name, or leave the option out")
    if given:
        return Path(given)
    written = _ini_value(get_ini, option)
    if not written:
        return None
    return Path(written) if ini_dir is None else ini_dir / written
