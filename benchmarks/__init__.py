"""Benchmarks of the audit writer; run them with ``python -m benchmarks`` (or ``make bench``).

``bench_write`` measures throughput and event-loop blocking of
:class:`fapilog_notebook.AuditTrail` beside two baselines kept here, in
``baselines``: the seed story's *before* (fapilog 0.3.5, writes on the loop)
and *after* (one ``asyncio.to_thread`` hop per event).
"""
