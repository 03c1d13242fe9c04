"""Object storage benchmark (issue 18): verifying a trail in place in S3 against locally.

A cached directory of ``events`` events over ``days`` daily files (see
:mod:`.datasets`) is uploaded to moto's S3 server, started as a separate
process on 127.0.0.1 (so the server's work does not share the verifier's
interpreter). Then, in rounds, each in a fresh interpreter started from a
small launcher (so its peak RSS is its own):

- ``local``: :func:`fapilog_notebook.verify_audit_log` on the directory;
- ``s3``: the same on ``s3://bucket/trail/`` through s3fs.

Reported: events/s of each (best round), their ratio (target: S3 at least
half the local rate), the bytes fetched from the store against the size of
the trail's objects, day files and the records beside them (target: each
byte once), and the S3 verifier's peak RSS (target: under 150 MB for
1,000,000 events). The server runs on the same 2 cores, so the S3
figures include serving the bytes as well as reading them. moto copies the
whole object to answer each range request, so its cost grows with the size
of the day files times their number of reads: the trail has 30 daily files
(as in the parallel benchmark), about 33 MB each at 1,000,000 events.

Standalone: ``python -m benchmarks.bench_objstore [--quick] [--events N]``.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from .datasets import DATA_ROOT, dataset
from .harness import MB, Measured, Runs, interleave, md_table, met, peak_rss, rss_now, run_isolated

__all__ = ["ObjstoreConfig", "main", "markdown", "run"]

TARGET_RATIO = 0.5
TARGET_PEAK_MB = 150.0
_KEY_ID = "bench-key-id"
_SECRET = "bench-secret-never-printed"


@dataclass
class ObjstoreConfig:
    """What to measure: the trail's size, the rounds."""

    events: int = 1_000_000
    days: int = 30
    repeats: int = 2
    data_root: str | None = None

    @classmethod
    def quick(cls, **kwargs: Any) -> ObjstoreConfig:
        """A short smoke run."""
        return cls(**{"events": 50_000, "repeats": 1, **kwargs})


@dataclass
class Round:
    """One verification in a fresh interpreter."""

    kind: str
    seconds: float
    events: int
    valid: bool
    peak_rss: int
    rss_before: int
    bytes_fetched: int
    extra: dict[str, Any] = field(default_factory=dict)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@contextmanager
def moto_server() -> Iterator[str]:
    """moto's S3 server in its own process on 127.0.0.1; yields its endpoint."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("moto's server did not start") from None
                time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _options(endpoint: str) -> dict[str, Any]:
    return {"key": _KEY_ID, "secret": _SECRET, "endpoint_url": endpoint}


def upload(directory: Path, endpoint: str, bucket: str = "bench") -> str:
    """Put the trail's files in ``bucket`` under ``trail/`` (boto3); return the URL."""
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=_KEY_ID,
        aws_secret_access_key=_SECRET,
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=bucket)
    for path in sorted(directory.iterdir()):
        if path.is_file():
            client.upload_file(str(path), bucket, f"trail/{path.name}")
    return f"s3://{bucket}/trail/"


def _probe(kind: str, source: str, endpoint: str) -> dict[str, Any]:
    """Run in a fresh interpreter: one verification, its time, peak RSS and bytes fetched."""
    import fapilog_notebook
    from fapilog_notebook.objstore import bytes_fetched

    options = _options(endpoint) if kind == "s3" else None
    if kind == "s3":
        import s3fs  # noqa: F401  (imported before the baseline, as a notebook would have)
    before = rss_now()
    started = time.perf_counter()
    report = fapilog_notebook.verify_audit_log(source, progress=False, storage_options=options)
    return {
        "kind": kind,
        "seconds": time.perf_counter() - started,
        "events": report.events_checked,
        "valid": report.valid,
        "peak_rss": peak_rss(),
        "rss_before": before,
        "bytes_fetched": bytes_fetched(),
    }


def probe_main(argv: Sequence[str] | None = None) -> None:
    """Entry point of a probe subprocess: ``KIND SOURCE ENDPOINT``; prints one JSON object."""
    kind, source, endpoint = argv if argv is not None else sys.argv[1:4]
    print(json.dumps(_probe(kind, source, endpoint)))


def measure(kind: str, source: str, endpoint: str) -> Round:
    """One probe in a fresh interpreter."""
    data = run_isolated(
        "from benchmarks.bench_objstore import probe_main; probe_main()",
        kind,
        source,
        endpoint,
        secret=_SECRET,
    )
    return Round(
        kind,
        data["seconds"],
        data["events"],
        data["valid"],
        data["peak_rss"],
        data["rss_before"],
        data["bytes_fetched"],
    )


def run(config: ObjstoreConfig, report: Callable[[str], None] = print) -> dict[str, Any]:
    """Upload the trail, verify it locally and in S3 in alternating rounds, compare."""
    root = Path(config.data_root) if config.data_root else DATA_ROOT
    data = dataset(config.events, days=config.days, root=root, report=report)
    rounds: list[Round] = []
    with moto_server() as endpoint:
        report(f"  uploading {data.size / MB:,.0f} MB to moto's S3 server at {endpoint}")
        started = time.perf_counter()
        url = upload(data.path, endpoint)
        upload_seconds = time.perf_counter() - started
        runs = {"local": Runs("local"), "s3": Runs("s3")}

        def probe_round(kind: str, source: str) -> Measured:
            done = measure(kind, source, endpoint)
            report(
                f"  round {len(runs[kind].seconds) + 1}: {kind} {done.seconds:.2f} s, "
                f"peak {done.peak_rss / MB:.0f} MB, fetched {done.bytes_fetched:,} bytes"
            )
            rounds.append(done)
            return done.seconds, done.valid, None, {"round": len(rounds) - 1}

        interleave(
            [
                (runs["local"], partial(probe_round, "local", str(data.path))),
                (runs["s3"], partial(probe_round, "s3", url)),
            ],
            config.repeats,
            events=data.events,
        )
    best = {kind: rounds[runs[kind].extra["round"]] for kind in ("local", "s3")}
    local, remote = best["local"], best["s3"]
    local_rate = local.events / local.seconds
    remote_rate = remote.events / remote.seconds
    ratio = remote_rate / local_rate
    peak_mb = max(r.peak_rss for r in rounds if r.kind == "s3") / MB
    # Every object of the trail: the day files and the records beside them.
    stored = sum(p.stat().st_size for p in data.path.iterdir() if p.is_file())
    once = all(r.bytes_fetched == stored for r in rounds if r.kind == "s3")
    return {
        "events": data.events,
        "days": data.days,
        "bytes": stored,
        "upload_seconds": upload_seconds,
        "rounds": [r.__dict__ for r in rounds],
        "local_events_per_s": local_rate,
        "s3_events_per_s": remote_rate,
        "ratio": ratio,
        "ratio_target": TARGET_RATIO,
        "ratio_met": ratio >= TARGET_RATIO,
        "s3_peak_mb": peak_mb,
        "s3_rss_before_mb": remote.rss_before / MB,
        "peak_target_mb": TARGET_PEAK_MB,
        "peak_met": peak_mb < TARGET_PEAK_MB,
        "bytes_fetched": remote.bytes_fetched,
        "each_byte_once": once,
        "valid": all(r.valid and r.events == data.events for r in rounds),
    }


def markdown(data: dict[str, Any]) -> str:
    """The comparison as a table."""
    rows = [
        [
            "local directory",
            f"{data['local_events_per_s']:,.0f}",
            "1.00",
            "",
            "",
        ],
        [
            "s3:// (moto on 127.0.0.1)",
            f"{data['s3_events_per_s']:,.0f}",
            f"{data['ratio']:.2f} (target >= {data['ratio_target']}: {met(data['ratio_met'])})",
            f"{data['bytes_fetched']:,} of {data['bytes']:,} "
            f"({'each byte once' if data['each_byte_once'] else 'NOT once'})",
            f"{data['s3_peak_mb']:.0f} MB (target < {data['peak_target_mb']:.0f}: "
            f"{met(data['peak_met'])})",
        ],
    ]
    head = (
        f"### Object storage: verifying {data['events']:,} events over {data['days']} days "
        f"in place\n\n"
    )
    table = md_table(["source", "events/s", "ratio to local", "bytes fetched", "peak RSS"], rows)
    return head + table + ("\n\nall reports valid" if data["valid"] else "\n\nINVALID REPORT")


def main(argv: Sequence[str] | None = None) -> None:
    """Standalone run."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_objstore")
    parser.add_argument("--quick", action="store_true", help="50,000 events, one round")
    parser.add_argument("--events", type=int, help="events in the trail (default 1,000,000)")
    parser.add_argument("--data-dir", help="where to cache the generated trail")
    args = parser.parse_args(argv)
    make = ObjstoreConfig.quick if args.quick else ObjstoreConfig
    extra: dict[str, Any] = {"data_root": args.data_dir}
    if args.events:
        extra["events"] = args.events
    print(markdown(run(make(**extra))))


if __name__ == "__main__":
    main()
