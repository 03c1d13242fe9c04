"""The streaming verifier: every problem in an audit trail, located to file and line.

:func:`verify_audit_log` reads a source line by line (see :mod:`fapilog_notebook.scan`),
checks each line (:mod:`._lines`, with :meth:`fapilog_notebook.chain.LineChecker.values`,
the one definition of a valid event) and reports every finding of the
taxonomy, not only the first. It keeps a constant number of events in memory:
a batch of checked lines (:data:`._lines.VERIFY_BATCH_LINES`), the previous
event, at most one unparseable line waiting to be judged, and for the sequence
numbers a set of *runs* that stays one run long in a clean log and grows only
with the anomalies it reports (:mod:`._ledger`). A batch whose lines are
intact events, each linked to the one before, in their file's day and in time
order, can raise no finding: it is checked and taken at once
(:func:`._lines.routine_batch`), without a per-line Python object; any other
batch is checked line by line.

The parts, wired here by :class:`_Verifier`:

- :mod:`._lines`: the per-line checks (the batch and the per-line halves);
- :mod:`._ledger`: the sequence ledger (segments, runs, links, gaps, torn lines, times);
- :mod:`._tallies`: what the lines vouch for (MAC counts, per-file counts, watched checksums);
- :mod:`._evidence`: the seal and manifests read before the lines, and the
  evidence checks run after them;
- :mod:`._findings` and :mod:`._report`: the findings and the report (its HTML
  through :mod:`fapilog_notebook._html`);
- :mod:`._tree`: the Merkle tree, checkpoints and signatures (after the chain);
- :mod:`._parallel`: the same calls on the verifier, the per-line work in workers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..access import check_access_args, record_access
from ..chain import Anchor
from ..checkpoints import VerifierKey
from ..keys import VerificationKey
from ..progress import track
from ..scan import AuditFile, DayBound, Source, SourceLike, describe_os_error, exists
from ..scan import resolve_source as _resolve_source
from ..storage import to_day
from ..treeformat import TREE_NAME
from ..treelog import CERTIFICATES_NAME
from ._evidence import (
    AnchorCheck,
    DayRange,
    DaySeriesCheck,
    EvidenceCheck,
    ForeignFiles,
    ManifestCheck,
    Records,
    SealCheck,
    UncheckedMacs,
)
from ._findings import Finding, FindingKind, FindingLog, Severity
from ._keyring import Keyring
from ._ledger import Ledger
from ._lines import (
    LineInfo,
    Routine,
    RoutineBatch,
    _parse_time,
    check_batches,
    recheck,
    routine_of,
)
from ._proofs import load_public_key
from ._report import VerificationReport
from ._tallies import Tallies
from ._tree import TreeCheck
from ._treeproc import start_tree_check

if TYPE_CHECKING:
    from ..execution import Engine, Workers
    from ..writer import AuditTrail

__all__ = ["verify_audit_log"]


class _Verifier:
    """The state machine behind :func:`verify_audit_log`: it feeds each line to
    the parts (:class:`~._tallies.Tallies`, :class:`~._ledger.Ledger`) and, at
    the end, runs the evidence checks and builds the report.

    The serial loop (:meth:`run_file`) and the parallel feeder
    (:mod:`._parallel`) make the same calls: :meth:`open_file`, :meth:`lines`
    or :meth:`routine` per batch, :meth:`file_failed` or :meth:`file_done`.
    """

    def __init__(
        self,
        source: Source,
        keyring: Keyring | None = None,
        anchors: tuple[Anchor, ...] = (),
        days: DayRange | None = None,
    ) -> None:
        self.source = source
        self.files = source.files
        self.keyring = keyring
        self.anchors = anchors
        self.log = FindingLog(source)
        self.ledger = Ledger(source, self.log)
        self.tallies = Tallies({a.sequence_number for a in anchors})
        self.records = Records(source, keyring, days or DayRange(None, None))
        self.anchors_checked = 0
        self.files_checked = 0

    # ------------------------------------------------------------ before the lines

    def prepare(self) -> None:
        """Read the seal and the day manifests kept beside the audit files, and link
        the range's first event to the last event before the range."""
        records = self.records
        records.read()
        self.tallies.watch |= records.watched
        self.tallies.bounds = records.bounds
        self.ledger.seed()

    def work(self) -> tuple[tuple[AuditFile, ...], Keyring | None, frozenset[int]]:
        """What a worker needs to check the lines: the files, the key, and the
        sequence numbers whose checksums the evidence checks need."""
        return self.files, self.keyring, frozenset(self.tallies.watch)

    # ------------------------------------------------------------ lines

    def run_file(self, index: int) -> None:
        """Check file ``index`` here, batch by batch."""
        self.open_file(index)
        try:
            batches = check_batches(
                self.files[index].path,
                0,
                None,
                self.keyring,
                self.ledger.day_iso,
                self.tallies.watch,
            )
            for batch in batches:
                if isinstance(batch, RoutineBatch):
                    self.routine(index, batch.routine, batch.span)
                else:
                    self.lines(index, batch)
        except OSError as exc:
            self.file_failed(index, exc)
            return
        self.file_done(index)

    def routine(self, index: int, routine: Routine, span: tuple[int, int]) -> None:
        """A routine batch of file ``index``, taken at once (line by line only when
        its first line did not leave the chain where the others extend it).

        :raises OSError: its lines had to be read again, and could not be.
        """
        self.line(index, routine.first)
        if self.extend(index, routine):
            return
        infos = recheck(self.files[index].path, routine, span, self.keyring)
        for info in infos[1:]:
            self.line(index, info)

    def lines(self, index: int, infos: Sequence[LineInfo]) -> None:
        """Consecutive lines of file ``index``, a routine batch taken at once."""
        routine = routine_of(infos, self.ledger.day_iso, self.tallies.watch)
        if routine is not None:
            self.line(index, routine.first)
            if self.extend(index, routine):
                return
            infos = infos[1:]
        for info in infos:
            self.line(index, info)

    def open_file(self, index: int) -> None:
        """Start file ``index``: its lines follow through :meth:`line` (also from workers)."""
        self.ledger.open_day(self.files[index].day)
        self.tallies.open_file()

    def file_failed(self, index: int, exc: OSError) -> None:
        """File ``index`` could not be read (possibly part-way): one ``unreadable_file``."""
        self.log.add(
            FindingKind.UNREADABLE_FILE,
            (index, None, None),
            None,
            f"the file could not be read: {describe_os_error(exc)}; "
            "its events (or the rest of them) are not verified",
        )

    def file_done(self, index: int) -> None:
        """File ``index`` was read to its end."""
        self.files_checked += 1

    def line(self, index: int, info: LineInfo) -> None:
        """One line of file ``index``, on its own."""
        if info.problem is not None:
            self.ledger.bad_line(index, info)
            return
        seq = info.seq
        assert seq is not None
        self.tallies.event(index, seq, info)
        if info.rewritten and info.checksum_ok:
            self.log.add(
                FindingKind.NON_CANONICAL_LINE,
                (index, info.number, info.event_id),
                seq,
                "expected the canonical JSON every writer of this format writes, found the "
                "line laid out otherwise (its values re-serialised match its checksum, so "
                "its content is as hashed): reformatted after it was written?",
            )
        self.ledger.event((index, info.number, info.event_id), seq, info)

    def extend(self, index: int, routine: Routine) -> bool:
        """Take the lines after the first of a routine batch at once.

        The state ends exactly as :meth:`line` on each would leave it; returns
        False, having changed nothing, when the batch's first line (already
        taken) did not leave the chain where they can simply extend it.
        """
        last, count = routine.last, routine.rest
        seq = last.seq
        assert seq is not None
        ledger = self.ledger
        # The second line's previous_hash is the first line's checksum.
        run = ledger.extendable(seq - count + 1, routine.first.checksum)
        if run is None:
            return False
        self.tallies.routine(index, routine)
        at = (index, last.number, last.event_id)
        timestamp = _parse_time(last.timestamp)
        ledger.advance(run, count, at, seq, last.checksum, last.timestamp, timestamp)
        return True

    # ------------------------------------------------------------ the end

    def finish(self) -> None:
        """Judge a waiting last line, close the chain, run the evidence checks."""
        ledger, tallies, records = self.ledger, self.tallies, self.records
        ledger.finish()
        anchors = AnchorCheck(self.anchors, tallies, records.days, self.files)
        checks: list[EvidenceCheck] = [
            ForeignFiles(self.source),
            UncheckedMacs(tallies, self.log),
            SealCheck(records, tallies, ledger.events, ledger.top()),
            ManifestCheck(records, tallies),
            DaySeriesCheck(records, tallies),
            anchors,
        ]
        for check in checks:
            self.log.extend(check.check())
        self.anchors_checked = anchors.checked

    def report(self) -> VerificationReport:
        """The report of what was verified."""
        findings = self.log.in_order()
        ledger, tallies = self.ledger, self.tallies
        return VerificationReport(
            source=self.source.description,
            valid=not any(f.severity is Severity.ERROR for f in findings),
            events_checked=ledger.events,
            files_checked=self.files_checked,
            first_sequence=ledger.first_seq,
            last_sequence=ledger.last_seq,
            head=ledger.head(),
            segment_rows=ledger.segment_rows(),
            finding_list=tuple(findings),
            key_given=self.keyring is not None,
            macs_checked=tallies.macs_checked,
            macs_unchecked=tallies.macs_unchecked,
            mac_days=dict(sorted(tallies.mac_days.items())),
            sealed=self.records.seal is not None,
            manifests_checked=len(self.records.manifests),
            anchors_checked=self.anchors_checked,
            checks_skipped=tuple(self.records.notes),
        )


def verify_audit_log(
    source: SourceLike,
    *,
    since: DayBound = None,
    until: DayBound = None,
    key: bytes | VerificationKey | None = None,
    anchors: Iterable[Anchor | dict[str, Any] | str] = (),
    progress: bool | None = None,
    workers: Workers = None,
    engine: Engine = None,
    client: Any = None,
    access_log: AuditTrail | None = None,
    user_id: str | None = None,
    storage_options: Mapping[str, Any] | None = None,
    public_key: VerifierKey | str | Path | None = None,
    checkpoints: Iterable[str | Path] = (),
    check_tree: bool | None = None,
) -> VerificationReport:
    """Verify the hash chain of ``source`` and report every problem, located.

    ``source`` is a directory of ``audit_YYYY-MM-DD.jsonl`` files, one file or
    a list of files; ``since``/``until`` (dates, tz-aware datetimes or
    ``YYYY-MM-DD``) select days, and a range that starts mid-chain is linked to
    the last event of the file before it. Streams with constant memory.

    ``key`` (a static key, or the auditor's :class:`~fapilog_notebook.keys.VerificationKey`)
    checks every MAC; given a key, an unkeyed or wrongly keyed event is an error
    (no downgrade). Without it, a keyed trail still gets every link, sequence
    and structure check and the report says the MACs were not checked.
    The sealed head and day manifests beside the audit files (a directory's,
    or those in the directory of the files given) are checked too: a deleted
    tail is a ``truncated_tail``, a deleted or replaced day file a
    ``manifest_mismatch``, a missing seal of a sealing trail a
    ``seal_mismatch``; ``report.checks_skipped`` says which checks could not
    run. ``anchors`` (from ``report.head``, ``trail.head()`` or
    ``fapilog-notebook anchor``) must still be in the trail, unchanged.

    ``check_tree=True`` (the default for a signed trail, or with
    ``public_key``/``checkpoints``; it costs about as much again as the chain
    check) recomputes a local directory's Merkle tree (``.fapilog-notebook.tree``)
    from its event lines, and every retained checkpoint (seal, manifests, day-key
    certificates, and ``checkpoints`` the auditor recorded: signed notes,
    bare checkpoint bodies, or files holding one) is compared with it: a
    difference is a ``checkpoint_mismatch`` or ``tree_mismatch``.
    ``public_key`` (the trail's root verifier key, its text or its file)
    also checks the day-key certificates and every checkpoint's signature
    (``certificate_invalid``, ``signature_invalid``; events after the last
    signed checkpoint are ``unsigned_events``).

    ``workers=N`` checks the lines in N local processes (or pass an
    ``Executor``); ``engine="dask"`` on a ``dask.distributed`` cluster
    (``client=``, else the default client). The report is the same, finding
    for finding (see :mod:`._parallel`).

    ``access_log=`` (an :class:`~fapilog_notebook.AuditTrail`) records an
    ``audit_log_access`` event there first: who (``user_id``, default the OS
    user), what source and which days.

    ``source`` may be an fsspec URL (``s3://bucket/prefix/``, ``memory://``,
    ...) verified in place with ``storage_options``: the same checks, each
    finding located to the object's URL and line, streamed in bounded reads;
    workers and Dask workers read their byte ranges from the store.

    :raises FileNotFoundError: the source does not exist.
    :raises ValueError: no audit file to verify (see :mod:`.scan`), bad bounds,
        a public key that is not a verifier key, checkpoints or signatures asked
        of something that is not a local trail directory.
    :raises OSError: a URL cannot be listed (denied, unreachable), naming it.
    """
    check_access_args(access_log, user_id)
    keyring = None if key is None else Keyring(key)
    root_key = None if public_key is None else load_public_key(public_key)
    recorded = tuple(checkpoints)
    anchor_list = tuple(Anchor.from_value(a) for a in anchors)
    resolved = _resolve_source(source, since=since, until=until, storage_options=storage_options)
    tree_wanted = check_tree or root_key is not None or bool(recorded)
    if tree_wanted and not isinstance(resolved.directory, Path):
        raise ValueError(
            "the Merkle tree, checkpoints and signatures are checked on a local trail "
            "directory only"
        )
    record_access(
        access_log,
        action="verify_audit_log",
        source=source,
        since=since,
        until=until,
        user_id=user_id,
    )
    days = DayRange(to_day(since, name="since"), to_day(until, name="until"))
    verifier = _Verifier(resolved, keyring, anchor_list, days)
    verifier.prepare()
    directory = resolved.directory
    if check_tree is None and not tree_wanted and isinstance(directory, Path):
        # Recomputing the tree costs about as much CPU again as the chain
        # check, so it runs when asked for, or when the trail is signed.
        tree_wanted = (directory / CERTIFICATES_NAME).exists()
    # The tree is checked beside the chain, in a child interpreter when that pays.
    tree_job = (
        start_tree_check(directory, root_key, recorded)
        if tree_wanted and isinstance(directory, Path)
        else None
    )
    try:
        if workers is None and engine is None and client is None:
            indices: Iterator[int] = iter(range(len(resolved.files)))
            for index in track(
                indices, total=len(resolved.files), desc="verifying", progress=progress
            ):
                verifier.run_file(index)
        else:
            from ._parallel import verify_files

            verify_files(verifier, workers=workers, engine=engine, client=client, progress=progress)
        verifier.finish()
        report = verifier.report()
    except BaseException:
        if tree_job is not None:
            tree_job.cancel()
        raise
    if tree_job is not None:
        return _with_tree_check(report, tree_job.result())
    if directory is not None and exists(directory / TREE_NAME):
        return _with_skipped(
            report,
            "Merkle tree: not recomputed (check_tree=True, public_key= or checkpoints= "
            "check it and the checkpoints in the seal and manifests)",
        )
    return report


def _with_skipped(report: VerificationReport, note: str) -> VerificationReport:
    """The report with one more check it could not run, or chose not to."""
    import dataclasses

    return dataclasses.replace(report, checks_skipped=(*report.checks_skipped, note))


def _with_tree_check(report: VerificationReport, check: TreeCheck) -> VerificationReport:
    """The report with the tree check's findings and counts added.

    A stored-tree difference at a line the chain check already reports as an
    error says nothing more, so it is left out.
    """
    import dataclasses

    errors_at = {
        (f.file, f.line) for f in report.finding_list if f.severity is Severity.ERROR and f.line
    }
    added = [
        Finding(
            FindingKind(f.kind),
            FindingKind(f.kind).severity,
            f.file,
            f.line,
            f.sequence_number,
            None,
            f.message,
        )
        for f in check.findings
        if not (f.kind == FindingKind.TREE_MISMATCH and (f.file, f.line) in errors_at)
    ]
    findings = report.finding_list + tuple(added)
    return dataclasses.replace(
        report,
        finding_list=findings,
        valid=not any(f.severity is Severity.ERROR for f in findings),
        checkpoints_checked=check.checkpoints_checked,
        signatures_checked=check.signatures_checked,
    )
