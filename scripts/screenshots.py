"""Remake the report screenshots in the docs: ``docs/img/report.png`` and ``docs/img/trials.png``.

Runs the example project three times, as ``docs/reports.md`` ("Trials: several runs side by
side") describes, each writing a results file:

1. ``fp32``: ``pytest -k "not int8"`` (PyTorch and ONNX fp32);
2. ``+int8``: the full run (+ ONNX int8);
3. ``bs-change``: the full run with the int8 sweep's batch sizes changed from
   ``(1, 2, 4, 8, 16, 32)`` to ``(1, 4, 16, 64)``.

The runs use a copy of ``example_project/`` in a temporary folder (the batch change is made
in the copy; no committed file is touched), and the models built under
``example_project/.models`` (built there on first use, about a minute on 2 cores;
``INFERGATE_EXAMPLE_MODELS`` or ``--models`` points elsewhere). Then it renders the trials page
(``--baseline example_project/baseline.json``, labels fp32, +int8, bs-change) and the one-run
report of the full run, and screenshots both with headless Chromium: the page is measured first
(its scroll width and height, read by a script added to a copy of the page and ``--dump-dom``),
then shot in a window as tall as the page and 1280 px wide, or as wide as the page needs where a
table overflows 1280 px, so nothing is cut off; a blank bottom is trimmed with Pillow. A PNG
over ``--max-bytes`` is quantised to 256 colours, then downscaled until it fits.

Run it with the venv that has pytest-infergate (extra ``report``) and the example's
dependencies, on a quiet machine (the runs are timed)::

    .venv/bin/python scripts/screenshots.py              # writes docs/img/{report,trials}.png
    .venv/bin/python scripts/screenshots.py --keep       # keep the work folder (results, HTML)
    .venv/bin/python scripts/screenshots.py --work DIR --reuse   # re-shoot DIR's results
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "example_project"
BASELINE = EXAMPLE / "baseline.json"
SWEEP_FILE = Path("tests") / "test_batch_sweep.py"
SWEEP_FROM = "batch_sizes=(1, 2, 4, 8, 16, 32)"
SWEEP_TO = "batch_sizes=(1, 4, 16, 64)"
#: (label, results file stem, pytest arguments, sweep changed)
RUNS: tuple[tuple[str, str, list[str], bool], ...] = (
    ("fp32", "fp32", ["-k", "not int8"], False),
    ("+int8", "int8", [], False),
    ("bs-change", "bs-change", [], True),
)
WIDTH = 1280
MARGIN = 32  # px: the page's margin (2em), kept at the right and under the last row
DEMO_SWITCHES = ("INFERGATE_EXAMPLE_SLOWDOWN", "INFERGATE_EXAMPLE_DAMAGED")


def _log(message: str) -> None:
    print(f"[screenshots] {message}", flush=True)


def _infergate() -> str:
    """The ``infergate`` command of this interpreter's environment."""
    here = Path(sys.executable).parent / "infergate"
    found = str(here) if here.exists() else shutil.which("infergate")
    if not found:
        sys.exit("screenshots: no infergate command next to this python or on PATH")
    return found


def _run(cmd: Sequence[str], cwd: Path, env: dict[str, str], ok: Sequence[int] = (0,)) -> float:
    """Run ``cmd`` in ``cwd``; return its seconds. Exit on a return code not in ``ok``."""
    _log(f"$ (cd {cwd}) {' '.join(cmd)}")
    start = time.perf_counter()
    rc = subprocess.run(list(cmd), cwd=cwd, env=env, check=False).returncode
    seconds = time.perf_counter() - start
    if rc not in ok:
        sys.exit(f"screenshots: {cmd[0]} exited {rc}")
    _log(f"  {seconds:.1f} s (exit {rc})")
    return seconds


def copy_example(work: Path) -> Path:
    """A copy of example_project under ``work``, without its models and caches."""
    target = work / "example_project"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(
        EXAMPLE,
        target,
        ignore=shutil.ignore_patterns(".models", "__pycache__", ".pytest_cache", ".infergate"),
    )
    return target


def change_sweep(project: Path) -> None:
    """Change the int8 sweep's batch sizes in the copy (as the docs' third run does)."""
    path = project / SWEEP_FILE
    text = path.read_text(encoding="utf-8")
    if SWEEP_FROM not in text:
        sys.exit(f"screenshots: {SWEEP_FROM!r} not in {path}; update SWEEP_FROM")
    path.write_text(text.replace(SWEEP_FROM, SWEEP_TO), encoding="utf-8")


def run_example(work: Path, models: Path) -> dict[str, float]:
    """The three runs of the docs, results in ``work/trials``. Returns seconds per step."""
    project = copy_example(work)
    results = work / "trials"
    results.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, INFERGATE_EXAMPLE_MODELS=str(models))
    for switch in DEMO_SWITCHES:
        env.pop(switch, None)
    build = [sys.executable, "-c", "import build_models; build_models.build_all()"]
    timings = {"build models": _run(build, project, env)}
    for label, stem, args, changed in RUNS:
        if changed:
            change_sweep(project)
        out = results / f"{stem}.json"
        out.unlink(missing_ok=True)
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args]
        # exit 1: a failed test or gate; the results file is still written and shown
        timings[f"run {label}"] = _run([*cmd, f"--infer-json={out}"], project, env, ok=(0, 1))
        if not out.exists():
            sys.exit(f"screenshots: the {label} run wrote no {out}")
    return timings


def render(work: Path) -> tuple[Path, Path]:
    """The trials page and the full run's one-run report, in ``work``."""
    infergate = _infergate()
    env = dict(os.environ)
    files = [f"trials/{stem}.json" for _, stem, _, _ in RUNS]
    labels = [arg for label, _, _, _ in RUNS for arg in ("--label", label)]
    trials, report = work / "trials.html", work / "report.html"
    base = ["--baseline", str(BASELINE)]
    _run([infergate, "report", *files, *labels, *base, "-o", trials.name], work, env)
    _run([infergate, "report", "trials/int8.json", *base, "-o", report.name], work, env)
    return trials, report


MEASURE = (
    '<script>window.addEventListener("load", () => {const e = document.documentElement;'
    ' e.setAttribute("data-shot", e.scrollWidth + "x" + e.scrollHeight);});</script>'
)


def _chromium(chromium: str, profile: Path, width: int, height: int, *args: str) -> str:
    cmd = [
        chromium,
        "--headless",
        "--disable-gpu",
        "--no-sandbox",
        "--hide-scrollbars",
        "--no-first-run",
        "--force-device-scale-factor=1",
        f"--user-data-dir={profile}",
        f"--window-size={width},{height}",
        *args,
    ]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return done.stdout


def measure(chromium: str, page: Path, profile: Path, width: int) -> tuple[int, int]:
    """The page's scroll width and height in a window ``width`` px wide."""
    probe = page.with_suffix(".measure.html")
    text = page.read_text(encoding="utf-8")
    probe.write_text(text.replace("</body>", MEASURE + "</body>", 1), encoding="utf-8")
    dom = _chromium(chromium, profile, width, 800, "--dump-dom", probe.resolve().as_uri())
    probe.unlink()
    found = re.search(r'data-shot="(\d+)x(\d+)"', dom)
    if not found:
        sys.exit(f"screenshots: could not measure {page}")
    return int(found[1]), int(found[2])


def _content_bottom(image: Any) -> int:
    """The row under the last one that differs from the bottom-right pixel's colour."""
    from PIL import Image, ImageChops

    background = Image.new("RGB", image.size, image.getpixel((image.width - 1, image.height - 1)))
    box = ImageChops.difference(image, background).getbbox()
    return box[3] if box else 0


def screenshot(chromium: str, page: Path, png: Path, profile: Path) -> tuple[int, int]:
    """A full-page shot of ``page`` into ``png``: WIDTH px wide, or as wide as the page needs
    (a table wider than the window would be cut off), and as tall. Returns its size."""
    from PIL import Image

    width = WIDTH
    for _ in range(5):
        needed, height = measure(chromium, page, profile, width)
        if needed <= width:
            break
        width = needed + MARGIN  # the overflow has the left margin only; add the right one
    else:
        sys.exit(f"screenshots: {page} keeps overflowing a {width} px window")
    raw = png.with_suffix(".raw.png")
    _log(f"$ chromium --window-size={width},{height} --screenshot={raw.name} {page.name}")
    _chromium(chromium, profile, width, height, f"--screenshot={raw}", page.resolve().as_uri())
    with Image.open(raw) as shot:
        image = shot.convert("RGB")
    raw.unlink()
    bottom = _content_bottom(image)
    if bottom >= image.height - 2:
        _log(f"warning: {page.name}'s content reaches the shot's bottom edge")
    image.crop((0, 0, image.width, min(image.height, bottom + MARGIN))).save(png)
    return image.width, min(image.height, bottom + MARGIN)


def shrink(png: Path, max_bytes: int) -> str:
    """Make ``png`` at most ``max_bytes``: optimise, then 256 colours, then downscale."""
    from PIL import Image

    with Image.open(png) as opened:
        image = opened.convert("RGB")
    image.save(png, optimize=True)
    if png.stat().st_size <= max_bytes:
        return "RGB"
    scale = 1.0
    while True:
        scaled = image
        if scale < 1:
            size = (round(image.width * scale), round(image.height * scale))
            scaled = image.resize(size, Image.Resampling.LANCZOS)
        quantised = scaled.quantize(
            colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
        )
        quantised.save(png, optimize=True)
        size_now = png.stat().st_size
        if size_now <= max_bytes or scale < 0.3:
            return f"256 colours, scale {scale:.2f}"
        scale *= max(0.5, min(0.95, (max_bytes / size_now) ** 0.5))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img", help="PNG folder")
    parser.add_argument("--work", type=Path, help="work folder (default: a new temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument(
        "--reuse", action="store_true", help="use the results already in WORK/trials; no runs"
    )
    parser.add_argument(
        "--models",
        type=Path,
        default=Path(os.environ.get("INFERGATE_EXAMPLE_MODELS") or EXAMPLE / ".models"),
        help="the example's built models (built there when missing or stale)",
    )
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    parser.add_argument("--max-bytes", type=int, default=1_500_000)
    args = parser.parse_args(argv)
    if args.reuse and not args.work:
        parser.error("--reuse needs --work")

    start = time.perf_counter()
    work = args.work or Path(tempfile.mkdtemp(prefix="infergate-screenshots-"))
    work = work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    _log(f"work folder {work}")
    timings: dict[str, float] = {}
    if not args.reuse:
        timings.update(run_example(work, args.models.resolve()))
    step = time.perf_counter()
    trials, report = render(work)
    timings["render"] = time.perf_counter() - step
    step = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="infergate-chromium-") as profile:
        for page, name in ((report, "report.png"), (trials, "trials.png")):
            png = args.out / name
            width, height = screenshot(args.chromium, page, png, Path(profile))
            how = shrink(png, args.max_bytes)
            _log(f"{png}: {width}x{height} px before shrinking, {how}, {png.stat().st_size:,} B")
    timings["screenshots"] = time.perf_counter() - step
    if not (args.keep or args.work):
        shutil.rmtree(work)
    for name, seconds in timings.items():
        _log(f"{name:<16} {seconds:6.1f} s")
    _log(f"total            {time.perf_counter() - start:6.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
