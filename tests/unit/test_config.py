from __future__ import annotations

import pytest

from pytest_infergate.config import (
    DEFAULTS,
    Mode,
    Settings,
    gate_config_from_options,
)
from pytest_infergate.options import parse_fraction, parse_tolerances


def _config(options: dict | None = None, ini: dict | None = None):
    options, ini = options or {}, ini or {}
    return gate_config_from_options(lambda k: options.get(k), lambda k: ini.get(k, ""))


def test_defaults():
    config = _config()
    resolved = config.resolve()
    assert resolved == DEFAULTS
    assert config.mode is Mode.GATE
    assert resolved.policy().tolerances["p50"] == pytest.approx(0.10)
    assert resolved.policy().tolerances["p95"] == pytest.approx(0.20)


def test_precedence_cli_over_measure_over_marker_over_ini():
    ini_only = _config(ini={"infer_max_time": "7", "infer_latency_tolerance": "0.3"})
    marker = Settings.from_kwargs({"max_time_s": 5, "latency_tolerance": 0.2})
    measure_args = Settings.from_kwargs({"max_time_s": 3})
    assert ini_only.resolve().max_time_s == 7
    assert ini_only.resolve(marker).max_time_s == 5
    assert ini_only.resolve(measure_args, marker).max_time_s == 3
    assert ini_only.resolve(measure_args, marker).latency_tolerance["p50"] == pytest.approx(0.2)

    with_cli = _config(
        options={"infer_max_time": 1.0, "infer_latency_tolerance": parse_tolerances("5%")},
        ini={"infer_max_time": "7"},
    )
    resolved = with_cli.resolve(measure_args, marker)
    assert resolved.max_time_s == 1.0
    assert resolved.latency_tolerance["p50"] == pytest.approx(0.05)


@pytest.mark.parametrize(("text", "value"), [("0.1", 0.1), ("10%", 0.1), (0.25, 0.25), ("0", 0.0)])
def test_fraction(text: object, value: float) -> None:
    assert parse_fraction(text) == pytest.approx(value)


@pytest.mark.parametrize("bad", ["-0.1", "nan", "inf", "fast", True, None])
def test_fraction_rejects(bad: object) -> None:
    with pytest.raises(ValueError, match=r"tolerance|expected a number"):
        parse_fraction(bad)


def test_tolerance_mapping_overrides_only_the_named_percentiles():
    tolerances = parse_tolerances({"p50": 0.05, "p99": 0.5})
    assert tolerances == {"p50": 0.05, "p90": pytest.approx(0.075), "p95": 0.1, "p99": 0.5}


def test_unknown_marker_key_lists_the_known_ones():
    with pytest.raises(
        ValueError,
        match=r"unknown setting\(s\) tolerance \(did you mean accuracy_tolerance or "
        r"latency_tolerance\?\); known: accuracy_tolerance",
    ):
        Settings.from_kwargs({"tolerance": 0.1})


@pytest.mark.parametrize(
    ("key", "suggested"),
    [
        ("latency_tolerence", "latency_tolerance"),
        ("expect_quantize", "expect_quantized"),
        ("expect_op", "expect_ops"),
        ("min_sample", "min_samples"),
    ],
)
def test_unknown_marker_key_suggests_the_closest(key: str, suggested: str) -> None:
    with pytest.raises(ValueError, match=rf"{key} \(did you mean {suggested}\?\)"):
        Settings.from_kwargs({key: 1})


def test_british_spelling_is_an_alias_and_not_a_second_key() -> None:
    assert Settings.from_kwargs({"expect_quantised": True}).expect_quantized is True
    with pytest.raises(ValueError, match="the same setting; give one"):
        Settings.from_kwargs({"expect_quantised": True, "expect_quantized": True})


def test_ini_error_names_the_key():
    with pytest.raises(ValueError, match="ini infer_mode: expected one of gate, report, off"):
        _config(ini={"infer_mode": "loud"})


def test_strict_and_mode_from_ini():
    config = _config(ini={"infer_strict": "true", "infer_mode": "report"})
    assert config.strict
    assert config.mode is Mode.REPORT


def test_ini_paths_are_relative_to_the_ini_file_and_cli_paths_to_the_cwd(tmp_path):
    from pathlib import Path

    ini = {
        "infer_baseline": "baseline.json",
        "infer_json": "out/results.json",
        "infer_markdown": "out/summary.md",
        "infer_html": "out/report.html",
    }
    config = gate_config_from_options(lambda k: None, lambda k: ini.get(k, ""), tmp_path)
    assert config.baseline_path == tmp_path / "baseline.json"
    assert config.json_path == tmp_path / "out" / "results.json"
    assert config.markdown_path == tmp_path / "out" / "summary.md"
    assert config.html_path == tmp_path / "out" / "report.html"
    given = {"infer_baseline": "b.json", "infer_html": "r.html"}
    cli = gate_config_from_options(given.get, lambda k: ini.get(k, ""), tmp_path)
    assert cli.baseline_path == Path("b.json")
    assert cli.html_path == Path("r.html")
    assert cli.markdown_path == tmp_path / "out" / "summary.md"
