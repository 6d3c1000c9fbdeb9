"""Benchmarks, run by ``make bench``: measurements, never pass/fail tests.

One module per topic (``clients``, ``runtools``, ``svscan``), each runnable as
``python -m benchmarks.TOPIC``, each writing its table to ``benchmarks/results/TOPIC.md``;
``svscan`` (our daemon against daemontools, runit, s6 and supervisord) also writes its
samples, which ``benchmarks.report`` turns into docs/benchmarks.md and its plots. What they
share: `benchmarks.timing` (a command timed from fork+exec to exit, round-robin rounds,
summaries, the Markdown table), `benchmarks.procs` (processes as /proc shows them, cleaned
up by pid), `benchmarks.peers` (the supervisors compared and their clients) and
`benchmarks.probes` (what is measured on a running tree).
"""
