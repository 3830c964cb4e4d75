"""Measure: the timing loop, CPU and GPU facts, traces, the machine and the runtime,
and the accuracy evaluation. Nothing here judges or stores."""
