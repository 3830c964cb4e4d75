"""The example's fixtures: built models (built on first use), data splits, demo switches.

Two switches turn the unchanged run into a regression, to show the gate catching it:

* ``INFERGATE_EXAMPLE_SLOWDOWN=2`` makes every int8 call do extra work proportional to
  its own time (2 = twice as slow);
* ``INFERGATE_EXAMPLE_DAMAGED=1`` swaps the int8 model for one whose classifier head was
  perturbed (it loses ~8 points of accuracy; see ``build_models.build_damaged``).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

OFFLINE = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "HF_EVALUATE_OFFLINE", "TRANSFORMERS_OFFLINE")
for variable in OFFLINE:
    os.environ.setdefault(variable, "1")

sys.path.insert(0, str(Path(__file__).resolve().parent))

import build_models
import intents
import pytest

VARIANTS = build_models.VARIANTS


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--example-dataset",
        default="bundled",
        choices=("bundled", "banking77"),
        help="bundled: the intents under data/ (offline); banking77: the hub data set (online)",
    )


@pytest.fixture(scope="session", autouse=True)
def one_thread() -> None:
    """Every variant runs on one thread (ORT's sessions too, see build_models).

    Like for like, so a speed-up is the runtime's and not its thread count's; and a
    2-thread PyTorch on 2 busy cores collapses (350 ms instead of 5 ms was seen here
    while other test suites ran), which no gate should have to absorb.
    """
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def models_dir() -> Path:
    """Every variant, built once (about a minute on 2 cores) and cached under .models/."""
    build_models.build_all()
    if os.environ.get("INFERGATE_EXAMPLE_DAMAGED") == "1":
        build_models.build_damaged()
    return build_models.DEFAULT_MODELS_DIR


def _slowed(pipeline: Any, factor: float) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        out = pipeline(*args, **kwargs)
        end = time.perf_counter() + (time.perf_counter() - start) * (factor - 1)
        while time.perf_counter() < end:
            pass
        return out

    return call


@pytest.fixture(scope="session")
def pipelines(models_dir: Path) -> dict[str, Any]:
    """A text-classification pipeline per variant, with the demo switches applied to int8."""
    built = {variant: build_models.load_pipeline(variant, models_dir) for variant in VARIANTS}
    if os.environ.get("INFERGATE_EXAMPLE_DAMAGED") == "1":
        built["onnx-int8"] = build_models.load_pipeline(build_models.DAMAGED, models_dir)
    factor = float(os.environ.get("INFERGATE_EXAMPLE_SLOWDOWN", "1"))
    if factor != 1:
        built["onnx-int8"] = _slowed(built["onnx-int8"], factor)
    return built


@pytest.fixture(scope="session")
def splits(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The evaluation splits: bundled test and hard, or banking77's test split when online."""
    if request.config.getoption("--example-dataset") == "banking77":
        try:
            return {"banking77": intents.load_banking77("test")}
        except RuntimeError as exc:
            raise pytest.UsageError(str(exc)) from None
    return {name: intents.load_split(name) for name in ("test", "hard")}


@pytest.fixture(scope="session")
def payload() -> str:
    return "I ordered a new card two weeks ago and it still hasn't arrived"
