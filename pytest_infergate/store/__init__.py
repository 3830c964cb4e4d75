"""Store: the baseline file, the results file, the offline commands over them, and the
pytest-xdist transport."""
