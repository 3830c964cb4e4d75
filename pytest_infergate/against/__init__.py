"""``--infer-against=REV``: every measurement timed in lock-step against another revision.

The stored gate compares today's run with runs recorded at other times, so the machine's
drift between them is part of every comparison, and on a shared runner it swamps a real
+20% (docs/design.md, "Against a revision"). Measuring both revisions now, in turns, on
this machine, leaves only what differs between them: :mod:`.revision` checks the other
revision out in a temporary worktree, :mod:`.link` runs it in a companion pytest process
and pairs each measurement by key, :mod:`pytest_infergate.measure.lockstep` times the
two in turns, and the A/B rule of ``infer_bench.compare()`` judges their ratio.
"""
