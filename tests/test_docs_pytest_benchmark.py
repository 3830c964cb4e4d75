"""docs/pytest-benchmark.md: every example marked *test file* runs, as written, and passes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[1] / "docs" / "pytest-benchmark.md"
EXAMPLE = re.compile(r"^\*test file\*\n\n```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _examples() -> list[str]:
    return EXAMPLE.findall(PAGE.read_text(encoding="utf-8"))


def test_the_page_has_runnable_examples() -> None:
    assert len(_examples()) >= 5


def test_every_example_runs(pytester: pytest.Pytester) -> None:
    files = {f"test_example_{i}": code for i, code in enumerate(_examples())}
    pytester.makepyfile(**files)
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=len(files))
