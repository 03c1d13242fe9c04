"""The ``fapilog-notebook`` command."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from ._demo import clear_trail, write_demo_trail
from .trail import AuditTrail

__all__ = ["main"]


def _cmd_demo(args: argparse.Namespace) -> int:
    directory = Path(args.dir)
    clear_trail(directory)
    print(f"Writing a demo audit trail to {directory}/ ...")
    result = asyncio.run(
        write_demo_trail(directory, producers=args.producers, per_producer=args.events)
    )
    lag = result.lag
    print(
        f"  {result.events} events from {result.producers} concurrent producers, "
        f"2 writer lifetimes, in {result.seconds:.2f} s ({result.events_per_second:,.0f} events/s)"
    )
    print(
        f"  event-loop lag while writing (1 ms ticker, {int(lag['count'])} samples): "
        f"p50 {lag['p50_ms']:.2f} ms, p99 {lag['p99_ms']:.2f} ms, max {lag['max_ms']:.2f} ms"
    )
    print(
        f"  the second writer resumed the chain after sequence {result.resumed_from}; "
        f"last sequence {result.last_sequence_number}"
    )
    check = asyncio.run(_check(directory))
    verdict = "VALID" if check.valid else f"INVALID ({check.error_message})"
    print(f"  chain check: {verdict}, {check.events_checked} events")
    print("Files:")
    for path in result.files:
        print(f"  {path}")
    return 0 if check.valid else 1


async def _check(directory: Path) -> object:
    return await AuditTrail(storage_path=directory).verify_chain_from_storage()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fapilog-notebook",
        description="Write, load and verify tamper-evident audit trails.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="write a sample trail while measuring loop lag, check it")
    demo.add_argument("--dir", default="demo_audit_trail", help="where to write the trail")
    demo.add_argument("--producers", type=int, default=50, help="concurrent producer tasks")
    demo.add_argument("--events", type=int, default=100, help="events per producer")
    demo.set_defaults(func=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = _parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
