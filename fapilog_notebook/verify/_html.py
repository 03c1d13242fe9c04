"""The HTML of a verification report: the notebook's fragment and the self-contained page.

:func:`report_fragment` is what a notebook shows (``VerificationReport._repr_html_``);
:func:`report_page` is the page ``VerificationReport.to_html`` writes.

One file an auditor can hand over: inline CSS only (no script, font or image
from elsewhere, so it opens offline), a print style, the verdict first, then
the source as given, the verification time and the tool version, the counts,
every finding in file-and-line order with its full message, and the chain
segments. Every value from the trail is HTML-escaped.
"""

from __future__ import annotations

import html
import os
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

from ._findings import FINDING_COLUMNS

if TYPE_CHECKING:
    from ._findings import Finding
    from ._report import VerificationReport

__all__ = ["PAGE_CSS", "finding_order", "report_fragment", "report_page", "shown_file"]

PAGE_CSS = """
:root { color-scheme: light; }
body { font: 14px/1.45 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
       color: #1f2328; margin: 2rem auto; max-width: 70rem; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin: 0 0 .75rem; }
h2 { font-size: 1.15rem; margin: 1.75rem 0 .5rem; border-bottom: 1px solid #d0d7de; }
.verdict { display: flex; align-items: center; gap: 1rem; padding: .9rem 1.2rem;
           border-radius: 8px; border: 2px solid; margin-bottom: 1rem; }
.verdict.valid { background: #dafbe1; border-color: #1a7f37; }
.verdict.invalid { background: #ffebe9; border-color: #cf222e; }
.badge { font-weight: 700; font-size: 1.4rem; letter-spacing: .05em; color: white;
         padding: .15rem .9rem; border-radius: 999px; }
.valid .badge { background: #1a7f37; }
.invalid .badge { background: #cf222e; }
table { border-collapse: collapse; width: 100%; margin: .25rem 0 1rem; }
th, td { text-align: left; vertical-align: top; padding: .3rem .6rem;
         border-bottom: 1px solid #d0d7de; }
th { background: #f6f8fa; }
table.facts th { width: 14rem; }
td.message { white-space: pre-wrap; overflow-wrap: anywhere; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
       overflow-wrap: anywhere; }
tr.error td:first-child { border-left: 4px solid #cf222e; }
tr.warning td:first-child { border-left: 4px solid #bf8700; }
tr.info td:first-child { border-left: 4px solid #0969da; }
footer { color: #59636e; font-size: 12px; margin-top: 2rem; }
@media print {
  body { margin: 0; max-width: none; font-size: 11px; }
  .verdict { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  .badge, tr td:first-child { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  tr { break-inside: avoid; }
  thead { display: table-header-group; }
}
"""


def shown_file(file: str | None, source: str) -> str:
    """A finding's file as shown: relative to the source directory when inside it, else as is."""
    if not file:
        return "-"
    if os.path.isdir(source):
        try:
            return str(PurePath(os.path.abspath(file)).relative_to(os.path.abspath(source)))
        except ValueError:
            pass
    return file if not os.path.isabs(file) else PurePath(file).name


def finding_order(finding: Finding) -> tuple[int, str, int]:
    """Sort key: findings about the whole trail first, then by file name and line."""
    if not finding.file:
        return (0, "", -1)
    return (1, Path(finding.file).name, -1 if finding.line is None else finding.line)


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _segment_value(column: str, value: object, source: str) -> str:
    if column.endswith("file"):
        return shown_file(None if value is None else str(value), source)
    return "" if value is None else str(value)


def _row(cells: list[str], css: str = "") -> str:
    klass = f" class='{css}'" if css else ""
    return f"<tr{klass}>" + "".join(cells) + "</tr>"


def report_page(report: VerificationReport, *, title: str | None = None) -> str:
    """The report as one standalone, printable HTML page."""
    esc = html.escape
    heading = title or "Audit trail verification"
    counts = report.counts
    state = "valid" if report.valid else "invalid"
    sequences = (
        f"{report.first_sequence}..{report.last_sequence}"
        if report.first_sequence is not None
        else "-"
    )
    head = (
        f"sequence {report.head.sequence_number}, checksum "
        f"<code>{esc(report.head.checksum)}</code>"
        + (f", at {esc(str(report.head.time))}" if report.head.time else "")
        if report.head
        else "none"
    )
    facts: list[tuple[str, str]] = [
        ("source", f"<code>{esc(report.source)}</code>"),
        ("verified at", esc(report.verified_at)),
        ("tool", f"fapilog-notebook {esc(report.tool_version)}"),
        ("events checked", f"{report.events_checked:,}"),
        ("files checked", f"{report.files_checked:,}"),
        ("chain segments", f"{len(report.segment_rows):,}"),
        ("sequences", sequences),
        ("head", head),
        ("MACs", esc(report.mac_status)),
    ]
    parts = [
        "<!doctype html>",
        "<html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{esc(heading)}: {report.verdict} — {esc(report.source)}</title>",
        f"<style>{PAGE_CSS}</style></head><body>",
        f"<h1>{esc(heading)}</h1>",
        f"<div class='verdict {state}' id='verdict'><span class='badge'>{report.verdict}</span>"
        f"<span>{_plural(counts['error'], 'error')}, {_plural(counts['warning'], 'warning')}, "
        f"{counts['info']:,} info "
        f"in {report.events_checked:,} events of <code>{esc(report.source)}</code></span></div>",
        "<table class='facts'>",
        *(_row([f"<th>{name}</th>", f"<td>{value}</td>"]) for name, value in facts),
        "</table>",
        f"<h2>Findings ({len(report.finding_list):,})</h2>",
    ]
    if report.finding_list:
        columns = ("severity", "kind", "file", "line", "sequence", "event id", "message")
        parts.append("<table class='findings'><thead>")
        parts.append(_row([f"<th>{c}</th>" for c in columns]))
        parts.append("</thead><tbody>")
        for finding in sorted(report.finding_list, key=finding_order):
            values: list[Any] = [
                finding.severity.value.upper(),
                finding.kind.value,
                shown_file(finding.file, report.source),
                finding.line,
                finding.sequence_number,
                finding.event_id,
            ]
            cells = [f"<td>{esc('' if v is None else str(v))}</td>" for v in values]
            cells.append(f"<td class='message'>{esc(finding.message)}</td>")
            parts.append(_row(cells, finding.severity.value))
        parts.append("</tbody></table>")
    else:
        parts.append("<p>No findings: every check passed.</p>")
    if report.segment_rows:
        parts.append(f"<h2>Chain segments ({len(report.segment_rows):,})</h2>")
        names = [str(c) for c in report.segment_rows[0]]
        parts.append("<table class='segments'><thead>")
        parts.append(_row([f"<th>{esc(c.replace('_', ' '))}</th>" for c in names]))
        parts.append("</thead><tbody>")
        for segment in report.segment_rows:
            values = [segment[c] for c in names]
            parts.append(
                _row(
                    [
                        f"<td>{esc(_segment_value(c, v, report.source))}</td>"
                        for c, v in zip(names, values, strict=True)
                    ]
                )
            )
        parts.append("</tbody></table>")
    parts.append(
        f"<footer>Generated by fapilog-notebook {esc(report.tool_version)} at "
        f"{esc(report.verified_at)}.</footer></body></html>"
    )
    return "\n".join(parts)


#: Cells of the findings table wrap (JupyterLab's default is one line, cut at the edge);
#: short codes stay whole, long values (paths, ids, messages) break where they must.
_CELL_STYLE = "text-align:left;vertical-align:top;white-space:normal;overflow-wrap:anywhere"
_CODE_STYLE = "text-align:left;vertical-align:top;white-space:nowrap"
_CODE_COLUMNS = frozenset({"kind", "severity", "line", "sequence_number"})


def report_fragment(report: VerificationReport) -> str:
    """The report as a notebook shows it (``VerificationReport._repr_html_``): the verdict,
    the counts, and the first 200 findings in a table whose cells wrap."""
    esc = html.escape
    color = "#1a7f37" if report.valid else "#cf222e"
    counts = report.counts
    badge = (
        f'<span style="background:{color};color:white;padding:2px 10px;'
        f'border-radius:10px;font-weight:bold">{report.verdict}</span>'
    )
    head = (
        f"sequence {report.head.sequence_number}, checksum <code>{esc(report.head.checksum)}</code>"
        if report.head
        else "none"
    )
    parts = [
        '<div class="fapilog-verification-report">',
        f"<p>{badge} <code>{esc(report.source)}</code></p>",
        "<table>",
        f"<tr><th>events checked</th><td>{report.events_checked}</td></tr>",
        f"<tr><th>files checked</th><td>{report.files_checked}</td></tr>",
        f"<tr><th>segments</th><td>{len(report.segment_rows)}</td></tr>",
        f"<tr><th>sequences</th><td>{report.first_sequence}..{report.last_sequence}</td></tr>",
        f"<tr><th>head</th><td>{head}</td></tr>",
        f"<tr><th>MACs</th><td>{esc(report.mac_status)}</td></tr>",
        f"<tr><th>errors / warnings / info</th><td>{counts['error']} / "
        f"{counts['warning']} / {counts['info']}</td></tr>",
        *(f"<tr><th>not checked</th><td>{esc(note)}</td></tr>" for note in report.checks_skipped),
        "</table>",
    ]
    if report.finding_list:
        limit = 200
        parts.append("<table style='table-layout:auto;width:100%'><thead><tr>")
        parts.extend(
            f"<th style='text-align:left'>{esc(column)}</th>" for column in FINDING_COLUMNS
        )
        parts.append("</tr></thead><tbody>")
        for finding in report.finding_list[:limit]:
            cells = finding.to_dict()
            parts.append("<tr>")
            for column in FINDING_COLUMNS:
                value = cells[column]
                style = _CODE_STYLE if column in _CODE_COLUMNS else _CELL_STYLE
                parts.append(f"<td style='{style}'>{esc('' if value is None else str(value))}</td>")
            parts.append("</tr>")
        parts.append("</tbody></table>")
        if len(report.finding_list) > limit:
            parts.append(
                f"<p>... and {len(report.finding_list) - limit} more findings "
                "(see <code>report.findings</code>)</p>"
            )
    else:
        parts.append("<p>No findings.</p>")
    parts.append("</div>")
    return "".join(parts)
