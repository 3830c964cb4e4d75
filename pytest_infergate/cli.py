"""The ``infergate`` command: work with baselines outside pytest."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pytest_infergate import __version__
from pytest_infergate.baseline import (
    AccuracyEntry,
    Baseline,
    BaselineError,
    RatioEntry,
    decode_baseline,
    read_json,
)


def _show(baseline: Baseline) -> list[str]:
    lines = []
    for key in sorted(baseline.entries):
        entry = baseline.entries[key]
        if isinstance(entry, AccuracyEntry):
            lines.append(
                f"{key}  [accuracy]  {entry.metric}={entry.value:.4g}  n={entry.n}  "
                f"slice: {entry.sampling}, sha256 {entry.slice_sha256[:12]}"
            )
            continue
        if isinstance(entry, RatioEntry):
            for profile, ratio in sorted(entry.machines.items()):
                history = ", ".join(f"{v:.4g}" for v in ratio.history_ratio)
                lines.append(
                    f"{key}  [{profile}]  n={ratio.n} per arm  candidate/reference "
                    f"{ratio.ratio:.4g} (speed-up {1 / ratio.ratio:.3g}x)  "
                    f"p50 {ratio.candidate_p50_ms:.4g} ms vs {ratio.reference_p50_ms:.4g} ms  "
                    f"history: {history}"
                )
            continue
        for profile, record in sorted(entry.machines.items()):
            history = ", ".join(f"{v:.4g}" for v in record.history_p50_ms)
            lines.append(
                f"{key}  [{profile}]  n={record.n}  p50={record.p50_ms:.4g} ms  "
                f"p95={record.p95_ms:.4g} ms  p99={record.p99_ms:.4g} ms  history p50: {history}"
            )
    for profile, fingerprint in sorted(baseline.machines.items()):
        lines.append(
            f"machine {profile}: {fingerprint.cpu}, {fingerprint.cores} cores, "
            f"{fingerprint.os}, Python {fingerprint.python}"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns 0 on success, 2 on bad input."""
    parser = argparse.ArgumentParser(prog="infergate", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    show = commands.add_parser("show", help="List a baseline's entries, machines and history")
    show.add_argument("baseline", type=Path, metavar="BASELINE")
    args = parser.parse_args(argv)
    try:
        baseline = decode_baseline(read_json(args.baseline), str(args.baseline))
    except BaselineError as exc:
        print(f"infergate: error: {exc}", file=sys.stderr)
        return 2
    for line in _show(baseline):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
