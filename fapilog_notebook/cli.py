"""The ``fapilog-notebook`` command: ``demo`` and ``verify``.

``verify`` exits 0 when the trail is valid, 1 when it is not, and 2 for a
usage error or a source that cannot be read, with a one-line message.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from ._demo import clear_trail, write_demo_trail
from ._tamper import alter_field, copy_trail, delete_line
from .verify import VerificationReport, verify_audit_log

__all__ = ["main"]

EXIT_VALID = 0
EXIT_INVALID = 1
EXIT_USAGE = 2


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
    print("Files:")
    for path in result.files:
        print(f"  {path}")

    print(f"\nVerifying {directory}/ ...")
    report = verify_audit_log(directory, progress=False)
    print(_indent(report.summary()))

    tampered = directory.with_name(directory.name + "_tampered")
    copies = copy_trail(directory, tampered)
    changes = _tamper(copies)
    print(f"\nTampering with a copy in {tampered}/:")
    for change in changes:
        print(f"  {change}")
    print(f"Verifying {tampered}/ ...")
    damaged = verify_audit_log(tampered, progress=False)
    print(_indent(str(damaged)))

    print("\nVerdicts:")
    print(f"  {directory}: {report.verdict}")
    print(f"  {tampered}: {damaged.verdict}")
    return EXIT_VALID if report.valid and not damaged.valid else EXIT_INVALID


def _tamper(copies: list[Path]) -> list[str]:
    """Alter one event's message and delete another line, in the largest file."""
    if not copies:
        return ["(no audit files to tamper with)"]
    target = max(copies, key=lambda p: p.stat().st_size)
    count = len(target.read_bytes().splitlines())
    if count < 3:
        return [f"(too few lines in {target.name} to tamper with)"]
    altered = max(1, count // 3)
    deleted = max(altered + 1, (2 * count) // 3)
    old, new = alter_field(target, altered, "message", "nothing to see here")
    delete_line(target, deleted)
    return [
        f"{target.name} line {altered}: message {old!r} changed to {new!r}",
        f"{target.name} line {deleted}: deleted (later lines move up by one)",
    ]


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" for line in text.splitlines())


def _cmd_verify(args: argparse.Namespace) -> int:
    try:
        report = verify_audit_log(
            args.source, since=args.since, until=args.until, progress=args.progress
        )
    except (OSError, ValueError, TypeError) as exc:
        print(f"fapilog-notebook verify: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    if args.format == "json":
        print(report.to_json())
    else:
        print(_report_text(report))
    return EXIT_VALID if report.valid else EXIT_INVALID


def _report_text(report: VerificationReport) -> str:
    return report.format_text(limit=None)


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        return f"{exc.strerror}: {exc.filename}"
    return " ".join(str(exc).split()) or type(exc).__name__


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fapilog-notebook",
        description="Write, load and verify tamper-evident audit trails.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo", help="write a sample trail while measuring loop lag, verify it and a tampered copy"
    )
    demo.add_argument("--dir", default="demo_audit_trail", help="where to write the trail")
    demo.add_argument("--producers", type=int, default=50, help="concurrent producer tasks")
    demo.add_argument("--events", type=int, default=100, help="events per producer")
    demo.set_defaults(func=_cmd_demo)

    verify = sub.add_parser(
        "verify",
        help="verify the hash chain of a trail; exit 0 valid, 1 invalid, 2 usage error",
        description="Verify an audit trail (a directory of audit_YYYY-MM-DD.jsonl files, "
        "or files) and list every finding. Exit status: 0 valid, 1 invalid, "
        "2 usage error or unreadable source.",
    )
    verify.add_argument("source", nargs="+", help="a directory of daily files, or files")
    verify.add_argument("--since", metavar="DAY", help="first day to verify (YYYY-MM-DD)")
    verify.add_argument("--until", metavar="DAY", help="last day to verify (YYYY-MM-DD)")
    verify.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    verify.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show a progress bar (default: only on an interactive terminal)",
    )
    verify.set_defaults(func=_cmd_verify)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = _parser().parse_args(argv)
    if args.command == "verify":
        args.source = args.source[0] if len(args.source) == 1 else args.source
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
