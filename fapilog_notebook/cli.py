"""The ``fapilog-notebook`` command: ``demo``, ``verify``, ``report``, ``anchor``, ``keygen``,
``notebooks``, ``checkpoint``, ``prove`` and ``check-proof``.

``verify`` exits 0 when the trail is valid, 1 when it is not, and 2 for a
usage error or a source that cannot be read, with a one-line message.
``report`` exits 0 when the trail is valid and no control has exceptions,
1 when a control has exceptions or the trail is invalid, 2 as ``verify``.
``check-proof`` exits 0 when the proof proves, 1 when it does not, 2 for a
usage error. Keys are read from a file (``--key-file``) or a named
environment variable (``--key-env``), never from an argument, and never
printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ._demo import clear_trail, write_demo_trail
from ._tamper import alter_field, copy_trail, delete_line
from .checkpoints import CONSISTENCY_HEADER, ConsistencyProof, InclusionProof
from .keys import keygen
from .options import load_anchors, load_key
from .signing import signing_keygen
from .storage import to_day
from .treelog import consistency_proof, inclusion_proof, latest_checkpoint
from .verify import VerificationReport, verify_audit_log, verify_consistency, verify_inclusion

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
        f"  burst: {result.burst_events} events from {result.producers} concurrent producers "
        f"in {result.burst_seconds:.2f} s ({result.events_per_second:,.0f} events/s, "
        "every event on disk before its await returned)"
    )
    print(f"  restart: the second writer resumed the chain after sequence {result.resumed_from}")
    print(
        f"  paced: {result.paced_events} requests at {result.paced_rate:,.0f}/s, each logging "
        f"one event; event-loop lag (1 ms ticker, {int(lag['count'])} samples): "
        f"p50 {lag['p50_ms']:.2f} ms, p99 {lag['p99_ms']:.2f} ms, max {lag['max_ms']:.2f} ms"
    )
    print(f"  last sequence {result.last_sequence_number}")
    print("Files:")
    for path in result.files:
        print(f"  {path}")

    print(f"\nVerifying {directory}/ ...")
    report = verify_audit_log(directory, progress=False)
    print(_indent(report.summary()))
    if result.anchor is not None:
        print(f"  anchor to keep outside the system: {result.anchor.to_json()}")

    tampered = directory.with_name(directory.name + "_tampered")
    copies = copy_trail(directory, tampered)
    changes = _tamper(copies)
    print(f"\nTampering with a copy in {tampered}/:")
    for change in changes:
        print(f"  {change}")
    print(f"Verifying {tampered}/ ...")
    anchors = [result.anchor] if result.anchor is not None else []
    damaged = verify_audit_log(tampered, anchors=anchors, progress=False)
    print(_indent(str(damaged)))

    from .compliance import compliance_report

    print(f"\nCompliance review of {directory}/ (PCI DSS controls) ...")
    review = compliance_report(directory, frameworks=("pci-dss",))
    print(_indent(_report_summary(review)))
    print(f"  the evidence as a web page: fapilog-notebook report {directory} --html report.html")

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
            args.source,
            since=args.since,
            until=args.until,
            key=load_key(key_file=args.key_file, key_env=args.key_env),
            anchors=load_anchors(args.anchor),
            progress=args.progress,
            workers=args.workers,
            storage_options=args.storage_options or None,
            public_key=args.public_key,
            checkpoints=[Path(name) for name in args.checkpoint],
            check_tree=args.check_tree,
        )
    except (OSError, ValueError, TypeError, RecursionError, ImportError) as exc:
        print(f"fapilog-notebook verify: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    if args.format == "json":
        print(report.to_json())
    elif args.format == "html":
        sys.stdout.write(report.to_html())
        sys.stdout.write("\n")
    else:
        print(_report_text(report))
    return EXIT_VALID if report.valid else EXIT_INVALID


def bundled_notebooks() -> Path:
    """The folder of the bundled notebooks and their ``data/``.

    Inside an installed package it is ``fapilog_notebook/notebooks``; in a
    source checkout (or an editable install) the repository's ``notebooks/``.
    """
    package = Path(__file__).resolve().parent
    for folder in (package / "notebooks", package.parent / "notebooks"):
        if any(folder.glob("*.ipynb")):
            return folder
    raise FileNotFoundError(f"no bundled notebooks next to {package}")


def _cmd_notebooks(args: argparse.Namespace) -> int:
    """Copy the notebooks and their sample data into DIR, never over an existing file."""
    import shutil

    try:
        origin = bundled_notebooks()
    except FileNotFoundError as exc:
        print(f"fapilog-notebook notebooks: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    target = Path(args.dir)
    files = sorted(origin.glob("*.ipynb")) + sorted((origin / "data").glob("*/*.jsonl"))
    copies = [(file, target / file.relative_to(origin)) for file in files]
    existing = [str(copy) for _, copy in copies if copy.exists()]
    if existing and not args.force:
        print(
            f"fapilog-notebook notebooks: error: {existing[0]} exists "
            f"({len(existing)} files would be replaced); use --force to replace them",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        for file, copy in copies:
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(file, copy)
    except OSError as exc:
        print(f"fapilog-notebook notebooks: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    notebooks = [copy.name for file, copy in copies if copy.suffix == ".ipynb"]
    print(f"copied {len(notebooks)} notebooks and their sample data to {target}:")
    for name in notebooks:
        print(f"  {name}")
    print(f"open them with: cd {target} && jupyter lab")
    return EXIT_VALID


def _cmd_report(args: argparse.Namespace) -> int:
    from .compliance import compliance_report

    try:
        hours = tuple(args.business_hours.split("-"))
        if len(hours) != 2:
            raise ValueError(
                f"--business-hours must be START-END such as 08:00-18:00, not "
                f"{args.business_hours!r}"
            )
        report = compliance_report(
            args.source,
            frameworks=args.framework or ("pci-dss", "hipaa", "soc2", "sox", "gdpr"),
            since=args.since,
            until=args.until,
            tz=args.tz,
            business_hours=(hours[0], hours[1]),
            holidays=args.holiday,
            roster=args.roster,
            resources=args.resource,
            key=load_key(key_file=args.key_file, key_env=args.key_env),
            anchors=load_anchors(args.anchor),
            progress=args.progress,
            storage_options=args.storage_options or None,
        )
        if args.html is not None:
            report.to_html(args.html)
        if args.json is not None:
            Path(args.json).write_text(report.to_json(), encoding="utf-8")
    except (OSError, ValueError, TypeError, ImportError) as exc:
        print(f"fapilog-notebook report: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    print(_report_summary(report))
    exceptions = bool((report.controls["status"] == "exceptions").any())
    return EXIT_INVALID if exceptions or not report.valid else EXIT_VALID


def _report_summary(report: Any) -> str:
    """The verdict, the integrity summary and one line per control."""
    lines = [report.headline(), _indent(report.integrity.summary()), "controls:"]
    for row in report.controls.to_dict("records"):
        count = f" ({row['exceptions']})" if row["status"] == "exceptions" else ""
        lines.append(f"  {row['status'].upper():13} {row['control']}{count}: {row['detail']}")
    return "\n".join(lines)


def _cmd_anchor(args: argparse.Namespace) -> int:
    try:
        report = verify_audit_log(
            args.source,
            key=load_key(key_file=args.key_file, key_env=args.key_env),
            progress=False,
            storage_options=args.storage_options or None,
        )
    except (OSError, ValueError, TypeError, RecursionError, ImportError) as exc:
        print(f"fapilog-notebook anchor: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    if report.head is None:
        print("fapilog-notebook anchor: error: the trail has no events", file=sys.stderr)
        return EXIT_USAGE
    print(json.dumps(report.head.to_dict()))
    if not report.valid:
        print(
            f"fapilog-notebook anchor: warning: the trail is {report.verdict}; "
            "run verify before you rely on this anchor",
            file=sys.stderr,
        )
        return EXIT_INVALID
    return EXIT_VALID


def _cmd_ship(args: argparse.Namespace) -> int:
    from .errors import ShipError
    from .ship import ship_trail

    try:
        report = ship_trail(
            args.source,
            args.dest,
            object_lock_days=args.object_lock,
            include_open=args.include_open,
            storage_options=args.storage_options or None,
        )
    except ShipError as exc:
        print(f"fapilog-notebook ship: failed: {_one_line(exc)}", file=sys.stderr)
        return EXIT_INVALID
    except (OSError, ValueError, TypeError, ImportError) as exc:
        print(f"fapilog-notebook ship: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    print(report.summary())
    return EXIT_VALID


#: Option names whose values stay strings (credentials may be all digits).
_TEXT_OPTIONS = ("key", "secret", "token", "password", "username", "account_key", "sas_token")


def _storage_option(text: str) -> tuple[list[str], Any]:
    """``KEY=VALUE``: ``a.b=VALUE`` nests; true/false/null and numbers are typed,
    except for credentials (:data:`_TEXT_OPTIONS`), which stay strings."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        # The value is never echoed: it may be a credential.
        raise argparse.ArgumentTypeError("expected KEY=VALUE, such as endpoint_url=http://...")
    path = key.strip().split(".")
    value: Any = raw
    lowered = raw.lower()
    if path[-1].lower().endswith(_TEXT_OPTIONS):
        value = raw
    elif lowered in ("true", "false"):
        value = lowered == "true"
    elif lowered in ("null", "none"):
        value = None
    elif raw.lstrip("-").isdigit():
        value = int(raw)
    return path, value


class _StorageOptions(argparse.Action):
    """Collect ``--storage-option KEY=VALUE`` into one (nested) dict."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        options = getattr(namespace, self.dest, None) or {}
        path, value = values
        target = options
        for part in path[:-1]:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                parser.error(f"--storage-option {'.'.join(path)}: {part} is not a group")
        target[path[-1]] = value
        setattr(namespace, self.dest, options)


def _add_storage_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--storage-option",
        dest="storage_options",
        action=_StorageOptions,
        type=_storage_option,
        default={},
        metavar="KEY=VALUE",
        help="an fsspec storage option for a URL source (repeatable; a.b=V nests), "
        "e.g. endpoint_url=http://127.0.0.1:9000 or anon=true",
    )


def _cmd_keygen(args: argparse.Namespace) -> int:
    if args.signing:
        return _cmd_keygen_signing(args)
    if args.writer_key is None or args.verification_key is None:
        print(
            "fapilog-notebook keygen: error: --writer-key and --verification-key are required "
            "(or --signing with --signing-key and --public-key)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        start = to_day(args.start, name="--start") or datetime.now(UTC).date()
        writer, verifier = keygen(args.writer_key, args.verification_key, start=start)
    except (OSError, ValueError) as exc:
        print(f"fapilog-notebook keygen: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    print(f"writer key state:  {writer}  (0600; give it to AuditTrail(key_file=...))")
    print(f"verification key:  {verifier}  (0600; the auditor keeps it away from the writer)")
    print(f"first day: {start.isoformat()}; the writer's key evolves one way each UTC day")
    return EXIT_VALID


def _cmd_keygen_signing(args: argparse.Namespace) -> int:
    if args.signing_key is None or args.public_key is None:
        print(
            "fapilog-notebook keygen: error: --signing needs --signing-key and --public-key",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        start = to_day(args.start, name="--start") or datetime.now(UTC).date()
        signing, public = signing_keygen(
            args.signing_key, args.public_key, day=start, origin=args.origin, root_key=args.root_key
        )
    except (OSError, ValueError) as exc:
        print(f"fapilog-notebook keygen: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    print(f"signing key:  {signing}  (0600; give it to AuditTrail(signing_key=...))")
    print(f"public key:   {public}  (safe to publish; auditors check proofs with it)")
    print(f"public key is: {public.read_text().strip()}")
    if args.root_key:
        print(f"root key:     {args.root_key}  (0600; store it offline)")
    else:
        print("root private key: kept nowhere (it certified the first day key only)")
    return EXIT_VALID


def _cmd_checkpoint(args: argparse.Namespace) -> int:
    try:
        text = latest_checkpoint(Path(args.source))
    except (OSError, ValueError) as exc:
        print(f"fapilog-notebook checkpoint: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    sys.stdout.write(text)
    return EXIT_VALID


def _cmd_prove(args: argparse.Namespace) -> int:
    if (args.sequence_number is None) == (args.extends is None):
        print(
            "fapilog-notebook prove: error: give an event's sequence number (an inclusion "
            "proof) or --extends CHECKPOINT (a consistency proof), not both or neither",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        if args.extends is not None:
            old = Path(args.extends)
            if not old.is_file():
                raise FileNotFoundError(f"no such checkpoint file: {old}")
            proof: InclusionProof | ConsistencyProof = consistency_proof(Path(args.source), old)
        else:
            proof = inclusion_proof(Path(args.source), args.sequence_number)
        proof.save(args.output)
    except (OSError, ValueError) as exc:
        print(f"fapilog-notebook prove: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    if isinstance(proof, ConsistencyProof):
        print(
            f"proof that the trail extends the checkpoint of {proof.old_size} events "
            f"written to {args.output}"
        )
    else:
        print(f"proof of event {args.sequence_number} written to {args.output}")
    return EXIT_VALID


def _cmd_check_proof(args: argparse.Namespace) -> int:
    proof_path, key_path = Path(args.proof), Path(args.public_key)
    old_path = None if args.old is None else Path(args.old)
    for path in (proof_path, key_path, old_path):
        if path is not None and not path.is_file():
            print(f"fapilog-notebook check-proof: error: no such file: {path}", file=sys.stderr)
            return EXIT_USAGE
    with open(proof_path, "rb") as handle:
        first = handle.readline(256).rstrip(b"\n").decode("utf-8", "replace")
    if first == CONSISTENCY_HEADER and old_path is None:
        print(
            "fapilog-notebook check-proof: error: a consistency proof is checked against the "
            "checkpoint you recorded earlier: add --old FILE",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if first != CONSISTENCY_HEADER and old_path is not None:
        print(
            f"fapilog-notebook check-proof: error: --old is for consistency proofs; {proof_path} "
            "is not one",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if old_path is not None:
        verdict = verify_consistency(old_path, proof_path, key_path)
    else:
        verdict = verify_inclusion(proof_path, key_path)
    print(verdict)
    return EXIT_VALID if verdict.proved else EXIT_INVALID


def _add_key_options(parser: argparse.ArgumentParser) -> None:
    keys = parser.add_mutually_exclusive_group()
    keys.add_argument(
        "--key-file",
        metavar="FILE",
        help="a file holding the key: a static key in hex, or a verification key from keygen",
    )
    keys.add_argument(
        "--key-env",
        metavar="NAME",
        help="the name of an environment variable holding the key (as --key-file)",
    )


def _report_text(report: VerificationReport) -> str:
    return report.format_text(limit=None)


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        return f"{exc.strerror}: {exc.filename}"
    return " ".join(str(exc).split()) or type(exc).__name__


def _at_least_one(what: str) -> Callable[[str], int]:
    """An argparse type: a whole number of at least 1, named ``what`` in its error."""

    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"expected {what} of at least 1, got {value}")
        return value

    return convert


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
    verify.add_argument(
        "--format",
        choices=("text", "json", "html"),
        default="text",
        help="output format (html: a standalone page to hand over, e.g. '> report.html')",
    )
    _add_key_options(verify)
    verify.add_argument(
        "--anchor",
        metavar="FILE",
        action="append",
        default=[],
        help="a JSON anchor (from 'fapilog-notebook anchor'); repeat for several",
    )
    verify.add_argument(
        "--checkpoint",
        metavar="FILE",
        action="append",
        default=[],
        help="a checkpoint recorded earlier (from 'fapilog-notebook checkpoint'); repeatable",
    )
    verify.add_argument(
        "--public-key",
        metavar="FILE",
        help="the trail's root public key (from 'keygen --signing'): check every signature",
    )
    verify.add_argument(
        "--check-tree",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="recompute the Merkle tree beside the trail and check its checkpoints "
        "(default: on for a signed trail or with --public-key/--checkpoint)",
    )
    verify.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show a progress bar (default: only on an interactive terminal)",
    )
    verify.add_argument(
        "--workers",
        metavar="N",
        type=_at_least_one("a number of processes"),
        default=None,
        help="check lines in N worker processes (default: in this process); same report",
    )
    _add_storage_option(verify)
    verify.set_defaults(func=_cmd_verify)

    report = sub.add_parser(
        "report",
        help="a compliance review: controls, exceptions and evidence; exit 0 all pass, "
        "1 exceptions or invalid trail, 2 usage error",
        description="Verify and load a trail, run the compliance analyses and map them to "
        "controls (PCI DSS, HIPAA, SOC 2, SOX, GDPR). Prints the verdict and one line per "
        "control; --html and --json write the full evidence. Exit status: 0 the trail is "
        "valid and no control has exceptions, 1 exceptions or an invalid trail, 2 usage "
        "error or unreadable source.",
    )
    report.add_argument("source", nargs="+", help="a directory of daily files, or files")
    report.add_argument(
        "--framework",
        action="append",
        choices=("pci-dss", "hipaa", "soc2", "sox", "gdpr"),
        help="a framework to report on; repeat for several (default: all)",
    )
    report.add_argument("--since", metavar="DAY", help="first day (YYYY-MM-DD)")
    report.add_argument("--until", metavar="DAY", help="last day (YYYY-MM-DD)")
    report.add_argument("--tz", default="UTC", help="time zone of business hours (default UTC)")
    report.add_argument(
        "--business-hours", default="08:00-18:00", metavar="START-END", help="default 08:00-18:00"
    )
    report.add_argument(
        "--holiday", action="append", default=[], metavar="DAY", help="a holiday; repeatable"
    )
    report.add_argument(
        "--roster", metavar="CSV", help="user_id,terminated_at: checks terminated-user access"
    )
    report.add_argument(
        "--resource",
        action="append",
        default=[],
        metavar="ID",
        help="a record to account disclosures for (HIPAA 164.528); repeatable",
    )
    _add_key_options(report)
    report.add_argument(
        "--anchor", metavar="FILE", action="append", default=[], help="a JSON anchor; repeatable"
    )
    report.add_argument("--html", metavar="FILE", help="write the self-contained HTML report")
    report.add_argument("--json", metavar="FILE", help="write the JSON report")
    report.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="show progress bars",
    )
    _add_storage_option(report)
    report.set_defaults(func=_cmd_report)

    anchor = sub.add_parser(
        "anchor",
        help="print the trail's head as a JSON anchor to record outside the system",
        description="Print the last event's sequence number, checksum and time as JSON. "
        "Record it in a ticket or an email; 'verify --anchor FILE' later proves that "
        "history up to it was not rewritten.",
    )
    anchor.add_argument("source", help="a directory of daily files")
    _add_key_options(anchor)
    _add_storage_option(anchor)
    anchor.set_defaults(func=_cmd_anchor)

    ship = sub.add_parser(
        "ship",
        help="copy closed days to object storage, verified, resumable",
        description=(
            "Copy the closed day files of the trail in SOURCE, with their manifests, "
            "empty-day records and (when it vouches for a shipped day) the seal, to the URL "
            "DEST (s3://bucket/prefix/, gs://, az://, file://...). Each file is read back "
            "and checked against the source and its manifest before the day counts as "
            "shipped; an unchanged day is never sent again; run it again after an "
            "interruption. Exit 0 shipped, 1 what arrived does not match, 2 usage or I/O error."
        ),
    )
    ship.add_argument("source", help="the trail's local directory")
    ship.add_argument("dest", help="where to ship it (a URL)")
    ship.add_argument(
        "--object-lock",
        type=_at_least_one("a number of days"),
        metavar="DAYS",
        help="S3 Object Lock (compliance mode) for DAYS days: no delete or overwrite until then",
    )
    ship.add_argument(
        "--include-open",
        action="store_true",
        help="ship the newest day too (it may still grow; it is shipped again when it does)",
    )
    _add_storage_option(ship)
    ship.set_defaults(func=_cmd_ship)

    gen = sub.add_parser(
        "keygen",
        help="create a forward-secure writer key and its verification key",
        description="Create the writer's key state (keep it beside the trail) and the "
        "auditor's verification key (keep it elsewhere). Neither file may exist yet.",
    )
    gen.add_argument("--writer-key", metavar="FILE", help="writer key state")
    gen.add_argument("--verification-key", metavar="FILE", help="the auditor's key")
    gen.add_argument("--start", metavar="DAY", help="first UTC day (default: today)")
    gen.add_argument(
        "--signing",
        action="store_true",
        help="make an Ed25519 root key pair and the first day signing key instead",
    )
    gen.add_argument("--signing-key", metavar="FILE", help="with --signing: the writer's key")
    gen.add_argument("--public-key", metavar="FILE", help="with --signing: the root public key")
    gen.add_argument(
        "--root-key", metavar="FILE", help="with --signing: keep the root private key here"
    )
    gen.add_argument(
        "--origin", metavar="NAME", help="with --signing: the trail's name (default: random)"
    )
    gen.set_defaults(func=_cmd_keygen)

    books = sub.add_parser(
        "notebooks",
        help="copy the bundled notebooks and their sample data into a folder",
        description="Copy the example notebooks and the data they read into DIR "
        "(created if needed), to run them there, e.g. with 'jupyter lab'.",
    )
    books.add_argument("dir", metavar="DIR", help="where to copy them")
    books.add_argument("--force", action="store_true", help="replace files that exist")
    books.set_defaults(func=_cmd_notebooks)

    checkpoint = sub.add_parser(
        "checkpoint",
        help="print the trail's latest checkpoint to record outside the system",
        description="Print the latest tree checkpoint (a signed note for a signed trail). "
        "Record it outside the system; 'verify --checkpoint FILE' later checks the trail "
        "still extends it.",
    )
    checkpoint.add_argument("source", help="a directory of daily files")
    checkpoint.set_defaults(func=_cmd_checkpoint)

    prove = sub.add_parser(
        "prove",
        help="write a self-contained inclusion or consistency proof",
        description="With SEQ, write a proof that event SEQ is in the trail's signed tree: "
        "the event line, its audit path, the signed checkpoint and the day-key certificates. "
        "With --extends FILE (a checkpoint recorded earlier, from 'fapilog-notebook "
        "checkpoint'), write a proof that the trail's newest signed tree extends it: nothing "
        "recorded was changed or removed since.",
    )
    prove.add_argument("source", help="a directory of daily files")
    prove.add_argument(
        "sequence_number", type=_at_least_one("a sequence number"), metavar="SEQ", nargs="?"
    )
    prove.add_argument(
        "--extends", metavar="CHECKPOINT", help="a recorded checkpoint file: prove consistency"
    )
    prove.add_argument("-o", "--output", required=True, metavar="FILE", help="the proof file")
    prove.set_defaults(func=_cmd_prove)

    check = sub.add_parser(
        "check-proof",
        help="check an inclusion or consistency proof offline; exit 0 proved, 1 not, 2 usage error",
    )
    check.add_argument("proof", help="a proof file from 'fapilog-notebook prove'")
    check.add_argument(
        "--public-key", required=True, metavar="FILE", help="the trail's root public key"
    )
    check.add_argument(
        "--old",
        metavar="CHECKPOINT",
        help="for a consistency proof: the checkpoint you recorded earlier (your own copy)",
    )
    check.set_defaults(func=_cmd_check_proof)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = _parser().parse_args(argv)
    if args.command in ("verify", "report"):
        args.source = args.source[0] if len(args.source) == 1 else args.source
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
