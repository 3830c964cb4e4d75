"""The docs site and the README say only what runs: their examples are run here.

A fenced block that claims to run is marked with an HTML comment on the line before it:

* ``<!-- run: NAME file=PATH -->`` before a code block: write it to PATH in the example's
  project (a fresh pytester folder per NAME and page);
* ``<!-- run: NAME -->`` before a shell block: run its ``pytest``/``infergate`` commands there,
  in order;
* ``<!-- output: NAME -->`` before a text block: each of its lines must appear, in order, in
  the output of the commands of the last ``run`` block of NAME. Numbers, commit ids, stop
  reasons and column alignment are not compared (timings differ from run to run); the
  words, the verdicts and the table's structure are;
* ``<!-- given: NAME mlp.onnx -->``: the project gets the test suite's float MLP graph
  (``x`` takes ``(batch, 64)``) under that name; ``<!-- given: NAME commit -->``: the project
  is a git repository and its files so far are committed (for ``--infer-against``);
* ``<!-- edit: NAME PATH OLD NEW -->``: replace OLD by NEW in PATH, the change the prose around
  it describes (OLD and NEW without spaces).

A line ``...`` in an output block stands for lines left out. ``<!-- output: NAME any-order -->``
checks each line on its own (rows that pytest-xdist's workers finish in either order).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import pytest_infergate

# The examples run in pytester's in-process sessions, which drop the modules a run imported;
# a C extension cannot be imported twice in one process, so load the examples' ones once here.
for _extension in ("onnxruntime", "onnxruntime.quantization", "onnx"):
    with contextlib.suppress(ImportError):
        importlib.import_module(_extension)

#: The checkout (docs, README, workflow); the package may be an installed wheel (tox).
ROOT = Path(__file__).resolve().parents[1]
PACKAGE_PARENT = Path(pytest_infergate.__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
WORKFLOW = ROOT / "examples" / "github-actions.yml"

_MARK = re.compile(r"^<!--\s*(run|output|given|edit):\s*([\w-]+)\s*(.*?)\s*-->\s*$")
_FENCE = re.compile(r"^(`{3,}|~{3,})")
_OPTION = re.compile(r"--infer-[a-z][a-z-]*[a-z]")
#: Options the docs name as removed (gate-quality.md measured them before they went).
_REMOVED_OPTIONS = {"--infer-calibrate"}
#: Speed over precision: every measurement of a docs example samples for at most this long.
_FAST = "--infer-max-time=0.4"


@dataclass
class Step:
    """One marked block: a file to write, commands to run, output to expect, or a model."""

    kind: str
    argument: str
    text: str
    line: int


@dataclass
class Example:
    """The marked blocks of one NAME on one page, in page order."""

    page: Path
    name: str
    steps: list[Step] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(ROOT)}::{self.name}"


def _fenced_block(lines: list[str], start: int) -> str:
    """The body of the fenced block opening at or after line ``start`` (blank lines skipped)."""
    index = start
    while index < len(lines) and not lines[index].strip():
        index += 1
    opening = _FENCE.match(lines[index]) if index < len(lines) else None
    if opening is None:
        raise ValueError(f"line {start + 1}: a run/output mark must precede a fenced block")
    fence = opening.group(1)
    body = []
    for line in lines[index + 1 :]:
        if line.startswith(fence):
            return "\n".join(body) + "\n"
        body.append(line)
    raise ValueError(f"line {index + 1}: the fenced block is not closed")


def _examples(page: Path) -> list[Example]:
    lines = page.read_text(encoding="utf-8").splitlines()
    by_name: dict[str, Example] = {}
    for number, line in enumerate(lines):
        mark = _MARK.match(line.strip())
        if mark is None:
            continue
        kind, name, argument = mark.groups()
        example = by_name.setdefault(name, Example(page, name))
        text = "" if kind in ("given", "edit") else _fenced_block(lines, number + 1)
        example.steps.append(Step(kind, argument, text, number + 1))
    return list(by_name.values())


def _pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


EXAMPLES = [example for page in [*_pages(), README] for example in _examples(page)]

_STOP = re.compile(r"\((?:decided|time cap|sample cap|plan complete)\)")
#: A git sha: hex with a letter and a digit, or a short sha that happens to be all digits.
_SHA = re.compile(r"\b(?:(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,40}|\d{7})\b")
_NUMBER = re.compile(r"[-+]?(?:\d+(?:[.,]\d+)*|\.\d+)(?:e[-+]?\d+)?")
_MACHINE = re.compile(r"=+ infergate: machine \S+ =+")


def normalised(line: str) -> str:
    """The words and structure of an output line, without what differs between runs."""
    line = _MACHINE.sub("== infergate: machine M ==", line)
    line = _STOP.sub("(STOP)", line)
    line = _SHA.sub("SHA", line)
    line = _NUMBER.sub("#", line)
    line = re.sub(r"([=-])\1{3,}", r"\1\1\1", line)
    return " ".join(line.split())


def assert_output_matches(expected: str, actual: str, where: str, *, in_order: bool = True) -> None:
    """Each expected line appears in ``actual``, in order (a wrapped line may continue on
    the same actual line) unless ``in_order`` is false."""
    lines = [normalised(line) for line in actual.splitlines()]
    row, column = 0, 0
    for wanted_line in expected.splitlines():
        wanted = normalised(wanted_line)
        if not wanted or wanted == "...":
            continue
        if not in_order:
            row, column = 0, 0
        while row < len(lines):
            found = lines[row].find(wanted, column)
            if found >= 0:
                column = found + len(wanted)
                break
            row, column = row + 1, 0
        else:
            pytest.fail(
                f"{where}: this line of the documented output was not printed "
                f"(in order):\n  {wanted_line}\nThe commands printed:\n{actual}",
                pytrace=False,
            )


def _run_commands(block: str, pytester: pytest.Pytester) -> str:
    """Run each ``pytest``/``infergate`` command of a shell block; return their output."""
    printed = []
    for command in block.replace("\\\n", " ").splitlines():
        words = shlex.split(command, comments=True)
        if not words:
            continue
        if words[:3] == ["python", "-m", "pytest"]:
            words = ["pytest", *words[3:]]
        if words[0] == "pytest":
            result = pytester.runpytest(_FAST, *words[1:])
            printed += [*result.outlines, *result.errlines]
        elif words[0] == "infergate":
            done = subprocess.run(
                [sys.executable, "-m", "pytest_infergate.cli", *words[1:]],
                capture_output=True,
                text=True,
                cwd=pytester.path,
                env={**os.environ, "PYTHONPATH": str(PACKAGE_PARENT)},
                timeout=120,
            )
            printed += [done.stdout, done.stderr]
        else:
            raise AssertionError(f"a run block may hold pytest and infergate commands: {command}")
    return "\n".join(printed)


def _commit_all(where: Path) -> None:
    for command in (
        ["init", "-q"],
        ["add", "."],
        ["-c", "user.name=docs", "-c", "user.email=docs@example.com", "commit", "-qm", "docs"],
    ):
        subprocess.run(["git", *command], cwd=where, check=True, capture_output=True, timeout=60)


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.id for e in EXAMPLES])
def test_documented_example_runs_as_documented(
    example: Example, pytester: pytest.Pytester, request: pytest.FixtureRequest
) -> None:
    output: str | None = None
    for step in example.steps:
        where = f"{example.page.relative_to(ROOT)}:{step.line}"
        if step.kind == "given" and step.argument == "commit":
            _commit_all(pytester.path)
        elif step.kind == "given":
            fp32, _ = request.getfixturevalue("graphs")
            (pytester.path / step.argument).write_bytes(fp32.read_bytes())
        elif step.kind == "edit":
            name, old, new = step.argument.split()
            path = pytester.path / name
            text = path.read_text(encoding="utf-8")
            assert old in text, f"{where}: {old!r} is not in {name}"
            path.write_text(text.replace(old, new), encoding="utf-8")
        elif step.kind == "run" and step.argument.startswith("file="):
            path = pytester.path / step.argument.removeprefix("file=")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(step.text, encoding="utf-8")
        elif step.kind == "run":
            output = _run_commands(step.text, pytester)
        else:
            assert output is not None, f"{where}: an output block before any run block"
            in_order = step.argument != "any-order"
            assert_output_matches(step.text, output, where, in_order=in_order)


def test_every_marked_example_is_checked() -> None:
    """A run block without an output block checks nothing but that it does not crash."""
    assert EXAMPLES
    for example in EXAMPLES:
        kinds = [step.kind for step in example.steps]
        assert "output" in kinds, f"{example.id}: no output block to check"


def _nav_pages(entries: object) -> list[str]:
    if isinstance(entries, str):
        return [entries]
    if isinstance(entries, dict):
        return [page for value in entries.values() for page in _nav_pages(value)]
    if isinstance(entries, list):
        return [page for entry in entries for page in _nav_pages(entry)]
    return []


def test_every_docs_page_is_in_the_nav() -> None:
    yaml = pytest.importorskip("yaml")
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    nav = _nav_pages(config["nav"])
    pages = [str(page.relative_to(DOCS)) for page in _pages()]
    assert sorted(pages) == sorted(nav)


def test_readme_is_short_and_its_links_resolve() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 260
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    assert links
    for link in links:
        if link.startswith(("http://", "https://", "#")):
            continue
        assert (ROOT / link.split("#")[0]).exists(), f"README links to a missing file: {link}"


@pytest.fixture(scope="module")
def plugin_options(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """The ``--infer-*`` options of the plugin, as ``pytest --help`` lists them."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--help", "-p", "no:cacheprovider"],
        capture_output=True,
        text=True,
        cwd=tmp_path_factory.mktemp("help"),
        env={**os.environ, "PYTHONPATH": str(PACKAGE_PARENT)},
        check=True,
        timeout=120,
    )
    return set(_OPTION.findall(done.stdout))


def test_every_option_the_docs_name_exists(plugin_options: set[str]) -> None:
    assert "--infer-baseline" in plugin_options
    for path in [*_pages(), README, WORKFLOW]:
        named = set(_OPTION.findall(path.read_text(encoding="utf-8")))
        unknown = named - plugin_options - _REMOVED_OPTIONS
        assert not unknown, f"{path.name} names options the plugin does not have: {unknown}"


def test_every_option_is_documented_on_the_options_page(plugin_options: set[str]) -> None:
    documented = set(_OPTION.findall((DOCS / "options.md").read_text(encoding="utf-8")))
    assert plugin_options <= documented, "options missing from docs/options.md"


def test_the_workflow_example_is_valid_and_uses_what_exists(plugin_options: set[str]) -> None:
    yaml = pytest.importorskip("yaml")
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    steps = [step for job in workflow["jobs"].values() for step in job["steps"]]
    commands = [step["run"] for step in steps if "run" in step]
    assert commands
    script = "\n".join(commands)
    assert set(_OPTION.findall(script)) <= plugin_options
    assert "--infer-against=" in script
    assert "--infer-markdown" in script or "GITHUB_STEP_SUMMARY" in script
    for subcommand in re.findall(r"\binfergate (\w+)", script):
        assert subcommand in {"show", "compare", "merge", "report", "prune"}
    for path in re.findall(r"\b((?:scripts|example_project)/[\w./-]+)", script):
        assert (ROOT / path).exists(), f"the workflow uses a missing file: {path}"
    uploads = [step for step in steps if str(step.get("uses", "")).startswith("actions/upload")]
    assert uploads, "the HTML report is uploaded as an artifact"


def test_the_readme_recipe_is_valid_and_agrees_with_the_workflow(plugin_options: set[str]) -> None:
    """The README's GitHub Actions steps parse, and keep what the workflow file relies on:
    the full clone, the gate against the base branch, the report uploaded on failure too."""
    yaml = pytest.importorskip("yaml")
    lines = README.read_text(encoding="utf-8").splitlines()
    start = lines.index("```yaml")
    steps = yaml.safe_load(_fenced_block(lines, start))
    assert isinstance(steps, list)
    checkout = next(step for step in steps if step.get("uses", "").startswith("actions/checkout"))
    assert checkout["with"]["fetch-depth"] == 0
    script = "\n".join(step["run"] for step in steps if "run" in step)
    assert "--infer-against=origin/${{ github.base_ref }}" in script
    assert set(_OPTION.findall(script)) <= plugin_options
    (upload,) = [step for step in steps if step.get("uses", "").startswith("actions/upload")]
    assert upload["if"] == "always()"
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    uses = {step.get("uses") for job in workflow["jobs"].values() for step in job["steps"]}
    assert {checkout["uses"], upload["uses"]} <= uses
