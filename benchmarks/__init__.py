"""Benchmarks, run by ``make bench``: measurements, never pass/fail tests.

One module per topic (``clients`` now; the daemon against daemontools, runit, s6
and supervisord later), each runnable as ``python -m benchmarks.TOPIC``, each
writing its table to ``benchmarks/results/TOPIC.md``. `benchmarks.timing` holds
what they share: timing a command from fork+exec to exit, round-robin rounds,
summaries, and the Markdown table.
"""
