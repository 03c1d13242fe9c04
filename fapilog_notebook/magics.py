"""IPython magics: ``%load_ext fapilog_notebook`` registers them.

- ``%audit_verify SOURCE`` verifies a trail and returns the
  :class:`~fapilog_notebook.VerificationReport` (shown as HTML in a notebook,
  as text in a terminal; ``report = %audit_verify SOURCE`` keeps it);
- ``%audit_tail SOURCE [N]`` returns the last ``N`` events (default 10) as a
  DataFrame, reading only the newest files it needs;
- ``%audit_report SOURCE [--framework a,b] [--since DAY] [--until DAY] [--tz ZONE]
  [--html FILE] [--json FILE]`` runs the compliance review and returns the
  :class:`~fapilog_notebook.compliance.ComplianceReport`.

``SOURCE`` is a path, or the name of a variable that holds one.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any

from IPython.core.magic import Magics, line_magic, magics_class

from . import storage

if TYPE_CHECKING:
    import pandas as pd

    from .compliance import ComplianceReport
    from .verify import VerificationReport

__all__ = ["AuditMagics", "load_ipython_extension", "tail_events"]


def tail_events(source: str | os.PathLike[str], count: int = 10) -> pd.DataFrame:
    """The last ``count`` events of ``source`` (a directory or a file), oldest first.

    In a directory only the newest daily files are read, back to the one
    that completes ``count`` events.
    """
    import pandas as pd

    from .frame import read_audit_log

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


def _split(line: str, usage: str) -> tuple[list[str], dict[str, str]]:
    """Positional words and ``--name value`` options of a magic's line."""
    from IPython.core.error import UsageError

    try:
        words = shlex.split(line)
    except ValueError as exc:
        raise UsageError(f"{exc}; usage: {usage}") from None
    positional: list[str] = []
    options: dict[str, str] = {}
    while words:
        word = words.pop(0)
        if word.startswith("--"):
            if not words:
                raise UsageError(f"{word} needs a value; usage: {usage}")
            options[word[2:]] = words.pop(0)
        else:
            positional.append(word)
    return positional, options


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

        Usage: ``%audit_verify SOURCE [--since YYYY-MM-DD] [--until YYYY-MM-DD]``
        """
        from IPython.core.error import UsageError

        from .verify import verify_audit_log

        usage = "%audit_verify SOURCE [--since YYYY-MM-DD] [--until YYYY-MM-DD]"
        words, options = _split(line, usage)
        unknown = set(options) - {"since", "until"}
        if len(words) != 1 or unknown:
            raise UsageError(f"usage: {usage}")
        return verify_audit_log(
            self._source(words[0]), since=options.get("since"), until=options.get("until")
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

        from .compliance import compliance_report

        usage = (
            "%audit_report SOURCE [--framework NAME[,NAME...]] [--since YYYY-MM-DD] "
            "[--until YYYY-MM-DD] [--tz ZONE] [--html FILE] [--json FILE]"
        )
        words, options = _split(line, usage)
        unknown = set(options) - {"framework", "since", "until", "tz", "html", "json"}
        if len(words) != 1 or unknown:
            raise UsageError(f"usage: {usage}")
        frameworks = options.get("framework", "pci-dss,hipaa,soc2,sox,gdpr")
        try:
            report = compliance_report(
                self._source(words[0]),
                frameworks=[name.strip() for name in frameworks.split(",") if name.strip()],
                since=options.get("since"),
                until=options.get("until"),
                tz=options.get("tz", "UTC"),
            )
        except ValueError as exc:
            raise UsageError(f"{exc}; usage: {usage}") from None
        if "html" in options:
            report.to_html(os.path.expanduser(options["html"]))
        if "json" in options:
            Path(os.path.expanduser(options["json"])).write_text(report.to_json(), encoding="utf-8")
        return report


def load_ipython_extension(ipython: Any) -> None:
    """Register the magics, and show reports as full text in terminals."""
    from .verify import VerificationReport

    ipython.register_magics(AuditMagics)
    plain = ipython.display_formatter.formatters["text/plain"]
    plain.for_type(VerificationReport, _plain_report)
    plain.for_type_by_name("fapilog_notebook.compliance._report", "ComplianceReport", _plain_report)
