"""IPython magics: ``%load_ext fapilog_notebook`` registers them.

- ``%audit_verify SOURCE`` verifies a trail and returns the
  :class:`~fapilog_notebook.VerificationReport` (shown as HTML in a notebook,
  as text in a terminal; ``report = %audit_verify SOURCE`` keeps it);
  ``--key-file``, ``--key-env``, ``--anchor`` (repeatable), ``--since`` and
  ``--until`` work as on the command line;
- ``%audit_tail SOURCE [N]`` returns the last ``N`` events (default 10) as a
  DataFrame, reading only the newest files it needs; it leads with when, what,
  who and the message (:data:`TAIL_LEADING`), so a narrow display shows them;
- ``%audit_report SOURCE [--framework a,b] [--since DAY] [--until DAY] [--tz ZONE]
  [--html FILE] [--json FILE]`` runs the compliance review and returns the
  :class:`~fapilog_notebook.compliance.ComplianceReport`.

``SOURCE`` is a path, or the name of a variable that holds one.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from IPython.core.magic import Magics, line_magic, magics_class

from .. import storage

if TYPE_CHECKING:
    import pandas as pd

    from ..compliance import ComplianceReport
    from ..verify import VerificationReport

__all__ = ["TAIL_LEADING", "AuditMagics", "load_ipython_extension", "tail_events"]

#: The columns ``tail_events`` puts first: when, what, who, and the message.
TAIL_LEADING = ("timestamp", "event_type", "log_level", "user_id", "message")
VERIFY_OPTIONS = ("since", "until", "key-file", "key-env", "anchor")
VERIFY_USAGE = (
    "%audit_verify SOURCE [--since YYYY-MM-DD] [--until YYYY-MM-DD] "
    "[--key-file FILE | --key-env NAME] [--anchor FILE ...]"
)


def tail_events(source: str | os.PathLike[str], count: int = 10) -> pd.DataFrame:
    """The last ``count`` events of ``source`` (a directory or a file), oldest first.

    In a directory only the newest daily files are read, back to the one
    that completes ``count`` events. The columns in :data:`TAIL_LEADING` come
    first, the rest in their usual order.
    """
    return _lead(_tail(source, count))


def _lead(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the :data:`TAIL_LEADING` columns first."""
    first = [c for c in TAIL_LEADING if c in frame.columns]
    return frame[first + [c for c in frame.columns if c not in first]]


def _tail(source: str | os.PathLike[str], count: int) -> pd.DataFrame:
    import pandas as pd

    from ..load import read_audit_log

    if count < 0:
        raise ValueError(f"count must be zero or more, not {count}")
    path = Path(source)
    if not path.is_dir():
        return read_audit_log(path, progress=False).tail(count).reset_index(drop=True)
    files = [file for _, file in storage.list_audit_files(path)]
    if not files:
        return read_audit_log(path, progress=False)  # raises the loader's clear error
    parts: list[pd.DataFrame] = []
    rows = 0
    for file in reversed(files):
        part = read_audit_log(file, progress=False)
        parts.append(part)
        rows += len(part)
        if rows >= count:
            break
    frame = pd.concat(list(reversed(parts)), ignore_index=True) if len(parts) > 1 else parts[0]
    return frame.tail(count).reset_index(drop=True)


def _plain_report(report: VerificationReport | ComplianceReport, printer: Any, cycle: bool) -> None:
    printer.text(str(report))


def _split(line: str, usage: str) -> tuple[list[str], dict[str, list[str]]]:
    """Positional words and ``--name value`` options (each with every value given)."""
    from IPython.core.error import UsageError

    try:
        words = shlex.split(line)
    except ValueError as exc:
        raise UsageError(f"{exc}; usage: {usage}") from None
    positional: list[str] = []
    options: dict[str, list[str]] = {}
    while words:
        word = words.pop(0)
        if word.startswith("--"):
            if not words:
                raise UsageError(f"{word} needs a value; usage: {usage}")
            options.setdefault(word[2:], []).append(words.pop(0))
        else:
            positional.append(word)
    return positional, options


def _single_options(
    options: dict[str, list[str]], names: tuple[str, ...], usage: str
) -> Callable[[str], str | None]:
    """Refuse a repeated option among ``names``; return a getter of each one's value."""
    from IPython.core.error import UsageError

    for name in names:
        if len(options.get(name, ())) > 1:
            raise UsageError(f"--{name} given twice; usage: {usage}")

    def one(name: str) -> str | None:
        values = options.get(name)
        return values[0] if values else None

    return one


@magics_class
class AuditMagics(Magics):
    """``%audit_verify``, ``%audit_tail`` and ``%audit_report``."""

    def _source(self, text: str) -> str | os.PathLike[str]:
        """A path as typed, or the value of the variable of that name when it holds one."""
        namespace = getattr(self.shell, "user_ns", {})
        value = namespace.get(text) if text.isidentifier() else None
        if isinstance(value, (str, os.PathLike)) and not os.path.exists(text):
            return value
        return os.path.expanduser(text)

    @line_magic
    def audit_verify(self, line: str) -> VerificationReport:
        """Verify an audit trail's hash chain and show the report.

        Usage: ``%audit_verify SOURCE [--since YYYY-MM-DD] [--until YYYY-MM-DD]
        [--key-file FILE | --key-env NAME] [--anchor FILE ...]``, as
        ``fapilog-notebook verify``: the key is read from a file or an
        environment variable, never typed into the notebook.
        """
        from IPython.core.error import UsageError

        from ..errors import AuditKeyError
        from ..options import load_anchors, load_key
        from ..verify import verify_audit_log

        words, options = _split(line, VERIFY_USAGE)
        unknown = sorted(set(options) - set(VERIFY_OPTIONS))
        if len(words) != 1 or unknown:
            extra = f"unknown option --{unknown[0]}; " if unknown else ""
            raise UsageError(f"{extra}usage: {VERIFY_USAGE}")
        one = _single_options(options, ("since", "until", "key-file", "key-env"), VERIFY_USAGE)
        if "key-file" in options and "key-env" in options:
            raise UsageError(f"give --key-file or --key-env, not both; usage: {VERIFY_USAGE}")

        try:
            key_file = one("key-file")
            # The command line's readers, so both accept the same files.
            key = load_key(
                key_file=os.path.expanduser(key_file) if key_file is not None else None,
                key_env=one("key-env"),
            )
            anchors = load_anchors([os.path.expanduser(a) for a in options.get("anchor", [])])
        except (OSError, ValueError, AuditKeyError) as exc:
            raise UsageError(str(exc)) from None
        return verify_audit_log(
            self._source(words[0]),
            since=one("since"),
            until=one("until"),
            key=key,
            anchors=anchors,
        )

    @line_magic
    def audit_tail(self, line: str) -> pd.DataFrame:
        """The last N events of an audit trail as a DataFrame.

        Usage: ``%audit_tail SOURCE [N]`` (N defaults to 10)
        """
        from IPython.core.error import UsageError

        usage = "%audit_tail SOURCE [N]"
        words, options = _split(line, usage)
        if not 1 <= len(words) <= 2 or options:
            raise UsageError(f"usage: {usage}")
        try:
            count = int(words[1]) if len(words) == 2 else 10
        except ValueError:
            raise UsageError(f"N must be a whole number, not {words[1]!r}") from None
        if count < 0:
            raise UsageError(f"N must be zero or more, not {count}")
        return tail_events(self._source(words[0]), count)

    @line_magic
    def audit_report(self, line: str) -> ComplianceReport:
        """Run the compliance review of a trail and show the report.

        Usage: ``%audit_report SOURCE [--framework pci-dss,hipaa] [--since YYYY-MM-DD]
        [--until YYYY-MM-DD] [--tz ZONE] [--html FILE] [--json FILE]``
        """
        from IPython.core.error import UsageError

        from ..compliance import compliance_report

        usage = (
            "%audit_report SOURCE [--framework NAME[,NAME...]] [--since YYYY-MM-DD] "
            "[--until YYYY-MM-DD] [--tz ZONE] [--html FILE] [--json FILE]"
        )
        words, options = _split(line, usage)
        unknown = set(options) - {"framework", "since", "until", "tz", "html", "json"}
        if len(words) != 1 or unknown:
            raise UsageError(f"usage: {usage}")
        one = _single_options(options, ("framework", "since", "until", "tz", "html", "json"), usage)
        frameworks = one("framework") or "pci-dss,hipaa,soc2,sox,gdpr"
        try:
            report = compliance_report(
                self._source(words[0]),
                frameworks=[name.strip() for name in frameworks.split(",") if name.strip()],
                since=one("since"),
                until=one("until"),
                tz=one("tz") or "UTC",
            )
        except ValueError as exc:
            raise UsageError(f"{exc}; usage: {usage}") from None
        html, json_path = one("html"), one("json")
        if html is not None:
            report.to_html(os.path.expanduser(html))
        if json_path is not None:
            Path(os.path.expanduser(json_path)).write_text(report.to_json(), encoding="utf-8")
        return report


def load_ipython_extension(ipython: Any) -> None:
    """Register the magics, and show reports as full text in terminals."""
    from ..verify import VerificationReport

    ipython.register_magics(AuditMagics)
    plain = ipython.display_formatter.formatters["text/plain"]
    plain.for_type(VerificationReport, _plain_report)
    plain.for_type_by_name("fapilog_notebook.compliance._report", "ComplianceReport", _plain_report)
