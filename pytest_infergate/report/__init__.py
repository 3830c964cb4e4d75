"""Human-facing renderings of a session's measurements and verdicts."""
