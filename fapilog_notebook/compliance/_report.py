"""The compliance report: verify, load, run every analysis once, map them to controls, export.

:func:`compliance_report` returns a :class:`ComplianceReport`. Its integrity
verdict comes first in every rendering; when the trail is not valid, every
control carries that caveat and the text and HTML start with ``INVALID``.
Renderings show every row of every section (the HTML pages its tables, it
never cuts them). Values from the log are escaped: they are data, never
markup.
"""

from __future__ import annotations

import hashlib
import html
import importlib.util
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..access import check_access_args, record_access
from ..load import read_audit_log
from ..objstore import is_url
from ..scan import resolve_source
from ..storage import day_of
from ..verify import VerificationReport, verify_audit_log
from . import _analyses as analyses
from ._controls import EXCEPTIONS, FRAMEWORKS, NOT_EVALUATED, PASS, Evidence, evaluate, select

if TYPE_CHECKING:
    from ..chain import Anchor
    from ..keys import VerificationKey
    from ..writer import AuditTrail

__all__ = ["CONTROL_COLUMNS", "ComplianceReport", "compliance_report"]

#: Columns of :attr:`ComplianceReport.controls`.
CONTROL_COLUMNS = (
    "framework",
    "control",
    "title",
    "status",
    "exceptions",
    "section",
    "analysis",
    "detail",
    "caveat",
)
#: Rows per page of the HTML tables (every row is in the file; the pager shows a page).
HTML_PAGE_SIZE = 50
_STATUS_ORDER = {EXCEPTIONS: 0, NOT_EVALUATED: 1, PASS: 2}


def _iso(value: datetime | date | None) -> str | None:
    if value is None:
        return None
    return value.isoformat()


def _json_value(value: Any) -> Any:
    """One cell as JSON-ready data (times in ISO 8601, missing as null)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, str):
        return value
    if isinstance(value, pd.Timestamp | datetime):
        return value.isoformat()
    if isinstance(value, pd.Timedelta | timedelta):
        return pd.Timedelta(value).isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_json_value(v) for v in value]
    return str(value)


def _text_value(value: Any) -> str:
    """One cell as display text (the JSON value; lists and dicts as compact JSON)."""
    data = _json_value(value)
    if data is None:
        return ""
    if isinstance(data, list) and all(isinstance(v, str | int | float) for v in data):
        return ", ".join(str(v) for v in data)
    if isinstance(data, dict | list):
        return json.dumps(data, sort_keys=True, ensure_ascii=False)
    return str(data)


def _shown(frame: pd.DataFrame) -> pd.DataFrame:
    """A section as rendered: columns with no value in any row are left out."""
    if len(frame) == 0:
        return frame
    keep = [c for c in frame.columns if frame[c].notna().any()]
    return frame[keep]


#: Event columns shown first in a section of events, after the analysis's own columns.
_LEADING = ("timestamp", "sequence_number", "event_type", "user_id", "client_ip", "message")


def _lead(section: pd.DataFrame, loaded: pd.Index) -> pd.DataFrame:
    """A section of events with the analysis's own columns, then the key event columns, first."""
    if "event_id" not in section.columns:
        return section
    own = [c for c in section.columns if c not in loaded]
    key = [c for c in _LEADING if c in section.columns and c not in own]
    rest = [c for c in section.columns if c not in own and c not in key]
    return section[[*own, *key, *rest]]


def _rows(frame: pd.DataFrame) -> list[list[Any]]:
    return [[_json_value(v) for v in row] for row in frame.itertuples(index=False, name=None)]


@dataclass(frozen=True, eq=False)
class ComplianceReport:
    """A compliance review of one trail and period: integrity, controls and their evidence.

    ``integrity`` is the verification (it comes first everywhere);
    ``controls`` one row per control (:data:`CONTROL_COLUMNS`); ``sections``
    each analysis's result by name.
    """

    integrity: VerificationReport
    controls: pd.DataFrame
    sections: dict[str, pd.DataFrame]
    sources: tuple[str, ...]
    period: tuple[str | None, str | None]
    created: datetime
    frameworks: tuple[str, ...]
    parameters: dict[str, Any] = field(default_factory=dict)

    # ---------------------------------------------------------------- summary

    @property
    def valid(self) -> bool:
        """True when the trail verified intact."""
        return self.integrity.valid

    @property
    def counts(self) -> dict[str, int]:
        """Controls per status, and the exceptions in all."""
        status = self.controls["status"]
        return {
            "controls": len(self.controls),
            PASS: int((status == PASS).sum()),
            EXCEPTIONS: int((status == EXCEPTIONS).sum()),
            NOT_EVALUATED: int((status == NOT_EVALUATED).sum()),
            "exception_rows": int(self.controls["exceptions"].sum()),
        }

    @property
    def passed(self) -> bool:
        """True when the trail is valid and every control passes."""
        return self.valid and bool((self.controls["status"] == PASS).all())

    @property
    def verdict(self) -> str:
        """``INVALID`` (trail not intact), ``EXCEPTIONS``, ``INCOMPLETE`` or ``PASS``."""
        counts = self.counts
        if not self.valid:
            return "INVALID"
        if counts[EXCEPTIONS]:
            return "EXCEPTIONS"
        if counts[NOT_EVALUATED]:
            return "INCOMPLETE"
        return "PASS"

    def headline(self) -> str:
        """The first line of every rendering: INVALID first when the trail is not intact."""
        counts = self.counts
        text = (
            f"{counts['controls']} controls: {counts[PASS]} pass, {counts[EXCEPTIONS]} with "
            f"exceptions, {counts[NOT_EVALUATED]} not evaluated"
        )
        if not self.valid:
            errors = self.integrity.counts["error"]
            return (
                f"INVALID trail ({errors} integrity errors): every result below may rest on "
                f"altered or missing events. {text}"
            )
        return f"{self.verdict}: {text}"

    def _meta(self) -> list[tuple[str, str]]:
        head = self.integrity.head
        counted = self.integrity.summary().splitlines()[1].strip()
        return [
            ("verdict", self.headline()),
            ("period", f"{self.period[0] or '(start)'} to {self.period[1] or '(end)'}"),
            ("sources", ", ".join(self.sources)),
            (
                "head anchor",
                json.dumps(head.to_dict(), sort_keys=True) if head is not None else "(no events)",
            ),
            ("integrity", f"{self.integrity.verdict}: {counted}"),
            ("frameworks", ", ".join(FRAMEWORKS[f] for f in self.frameworks)),
            ("created", self.created.isoformat()),
        ]

    # ---------------------------------------------------------------- renderings

    def __repr__(self) -> str:
        counts = self.counts
        return (
            f"<ComplianceReport {self.verdict} controls={counts['controls']} "
            f"exceptions={counts[EXCEPTIONS]} sections={len(self.sections)}>"
        )

    def __str__(self) -> str:
        lines = [self.headline(), "", "Compliance report"]
        lines += [f"  {name}: {value}" for name, value in self._meta()[1:]]
        lines += ["", self.integrity.format_text(limit=None), "", "Controls:"]
        with pd.option_context(
            "display.max_rows", None, "display.max_columns", None,
            "display.width", 10_000, "display.max_colwidth", None,
        ):  # fmt: skip
            lines.append(self._text_table(self.controls))
            for name, section in self.sections.items():
                lines += ["", f"Section {name} ({len(section)} rows):"]
                lines.append(self._text_table(_shown(section)) if len(section) else "  (none)")
        return "\n".join(lines)

    @staticmethod
    def _text_table(frame: pd.DataFrame) -> str:
        shown = frame.copy()
        for column in shown.columns:
            shown[column] = [_text_value(v) for v in shown[column]]
        return shown.to_string(index=False)

    def to_dict(self) -> dict[str, Any]:
        """The whole report as JSON-ready data."""
        head = self.integrity.head
        return {
            "report": "fapilog-notebook compliance report",
            "verdict": self.verdict,
            "created": self.created.isoformat(),
            "period": {"since": self.period[0], "until": self.period[1]},
            "sources": list(self.sources),
            "head": head.to_dict() if head is not None else None,
            "frameworks": list(self.frameworks),
            "parameters": _json_value(self.parameters),
            "counts": self.counts,
            "integrity": self.integrity.to_dict(),
            "controls": [
                dict(zip(self.controls.columns, row, strict=True)) for row in _rows(self.controls)
            ],
            "sections": {
                name: {"columns": [str(c) for c in _shown(s).columns], "rows": _rows(_shown(s))}
                for name, s in self.sections.items()
            },
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        """The report as JSON: the same text every time for one report (its ``created`` too)."""
        return json.dumps(self.to_dict(), indent=indent, sort_keys=True, ensure_ascii=False)

    def sha256(self) -> str:
        """The SHA-256 of :meth:`to_json`'s UTF-8 bytes: what :meth:`sign_off` records."""
        return hashlib.sha256(self.to_json().encode("utf-8")).hexdigest()

    def _html_body(self) -> str:
        parts: list[str] = []
        if not self.valid:
            parts.append(f'<div class="fnc-invalid">{html.escape(self.headline())}</div>')
        parts.append("<h1>Compliance report</h1>")
        parts.append('<table class="fnc-meta">')
        for name, value in self._meta():
            parts.append(f"<tr><th>{html.escape(name)}</th><td>{html.escape(value)}</td></tr>")
        parts.append("</table>")
        parts.append("<h2>Integrity</h2>")
        parts.append(f"<pre>{html.escape(self.integrity.summary())}</pre>")
        findings = self.integrity.findings
        if len(findings):
            parts.append(_html_table("findings", findings))
        parts.append("<h2>Controls</h2>")
        parts.append(_html_table("controls", self.controls, status_column="status"))
        parts.append("<h2>Sections</h2><ul>")
        for name, section in self.sections.items():
            parts.append(
                f'<li><a href="#fnc-{html.escape(name)}">{html.escape(name)}</a> '
                f"({len(section)} rows)</li>"
            )
        parts.append("</ul>")
        for name, section in self.sections.items():
            parts.append(f'<h3 id="fnc-{html.escape(name)}">{html.escape(name)} '
                         f"({len(section)} rows)</h3>")  # fmt: skip
            if len(section):
                parts.append(_html_table(name, _shown(section)))
            else:
                parts.append("<p>(none)</p>")
        return "\n".join(parts)

    def _repr_html_(self) -> str:
        return (
            f'<div class="fnc-report"><style>{_CSS}</style>'
            f'<div class="fnc-scroll">{self._html_body()}</div></div>'
        )

    def to_html(self, path: str | os.PathLike[str]) -> Path:
        """Write one self-contained HTML file (no external script or style); return its path.

        Every table is sortable (click a heading), searchable and paged
        (:data:`HTML_PAGE_SIZE` rows a page, every row in the file).
        """
        title = ("INVALID trail: " if not self.valid else "") + "Compliance report"
        document = (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>\n"
            f'<body class="fnc-report">\n{self._html_body()}\n<script>{_SCRIPT}</script>\n'
            "</body></html>\n"
        )
        target = Path(path)
        target.write_text(document, encoding="utf-8")
        return target

    def to_excel(self, path: str | os.PathLike[str]) -> Path:
        """Write an Excel workbook: summary, controls, findings, then one sheet per section.

        Needs openpyxl (``pip install 'fapilog-notebook[excel]'``). Times are
        written in UTC without a zone (Excel has none).
        """
        if importlib.util.find_spec("openpyxl") is None:
            raise ImportError("to_excel needs openpyxl: pip install 'fapilog-notebook[excel]'")
        target = Path(path)
        summary = pd.DataFrame(self._meta(), columns=["item", "value"])
        sheets: dict[str, pd.DataFrame] = {
            "summary": summary,
            "controls": self.controls,
            "findings": self.integrity.findings,
            **self.sections,
        }
        with pd.ExcelWriter(target, engine="openpyxl") as writer:
            used: set[str] = set()
            for name, frame in sheets.items():
                sheet = _sheet_name(name, used)
                _excel_ready(_shown(frame)).to_excel(writer, sheet_name=sheet, index=False)
                _as_text(writer.sheets[sheet])
        return target

    async def sign_off(self, trail: AuditTrail, *, reviewer: str, note: str | None = None) -> str:
        """Record the review in ``trail`` as a ``compliance_check`` event; return its id.

        The event's metadata holds ``report_sha256`` (the SHA-256 of
        :meth:`to_json`'s UTF-8 bytes: keep the JSON beside it), the period,
        the reviewer, the note and the counts (PCI DSS 10.4.3, HIPAA's
        certified review).
        """
        from ..writer import AuditTrail

        if not isinstance(trail, AuditTrail):
            raise TypeError(f"trail must be an AuditTrail, not {type(trail).__name__}")
        if not isinstance(reviewer, str) or not reviewer.strip():
            raise ValueError(f"reviewer must name who reviewed the report, not {reviewer!r}")
        if note is not None and not isinstance(note, str):
            raise TypeError(f"note must be a string, not {type(note).__name__}")
        counts = self.counts
        return await trail.log_event(
            "compliance_check",
            f"Compliance report signed off by {reviewer}: {self.verdict}, "
            f"{counts[EXCEPTIONS]} controls with exceptions",
            user_id=reviewer,
            component="fapilog_notebook.compliance",
            operation="sign_off",
            report_sha256=self.sha256(),
            reviewer=reviewer,
            note=note,
            verdict=self.verdict,
            integrity=self.integrity.verdict,
            period_since=self.period[0],
            period_until=self.period[1],
            frameworks=list(self.frameworks),
            counts=counts,
            report_created=self.created.isoformat(),
        )


def _sheet_name(name: str, used: set[str]) -> str:
    base = "".join("_" if ch in "[]:*?/\\" else ch for ch in name)[:31] or "sheet"
    sheet, number = base, 2
    while sheet.lower() in used:
        suffix = f"_{number}"
        sheet, number = base[: 31 - len(suffix)] + suffix, number + 1
    used.add(sheet.lower())
    return sheet


def _excel_ready(frame: pd.DataFrame) -> pd.DataFrame:
    """Times as naive UTC, durations and nested values as text: what a sheet can hold."""
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            out[column] = values.dt.tz_convert("UTC").dt.tz_localize(None)
        elif pd.api.types.is_timedelta64_dtype(values.dtype):
            out[column] = [_text_value(v) for v in values]
        elif values.dtype == object or isinstance(values.dtype, pd.CategoricalDtype):
            out[column] = [_excel_cell(v) for v in values]
    return out


def _as_text(sheet: Any) -> None:
    """Keep every string a string: openpyxl takes one starting with ``=`` for a
    formula, and the values come from the log (whoever logs an event would
    otherwise put a live formula in the auditor's workbook)."""
    for row in sheet.iter_rows():
        for cell in row:
            if cell.data_type == "f":
                cell.data_type = "s"


def _excel_cell(value: Any) -> Any:
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    if isinstance(value, pd.Timestamp | datetime):
        stamp = pd.Timestamp(value)
        return (
            stamp.tz_convert("UTC").tz_localize(None) if stamp.tzinfo else stamp
        ).to_pydatetime()
    return _text_value(value)


def _html_table(name: str, frame: pd.DataFrame, *, status_column: str | None = None) -> str:
    """A table with every row; the inline script makes it sortable, searchable and paged."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body: list[str] = []
    statuses = frame[status_column].tolist() if status_column else None
    for index, row in enumerate(frame.itertuples(index=False, name=None)):
        css = f' class="fnc-{html.escape(str(statuses[index]))}"' if statuses else ""
        cells = "".join(f"<td>{html.escape(_text_value(v))}</td>" for v in row)
        body.append(f"<tr{css}>{cells}</tr>")
    return (
        f'<table class="fnc-data" data-name="{html.escape(name)}" '
        f'data-page-size="{HTML_PAGE_SIZE}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


_CSS = """
.fnc-report{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;font-size:14px;color:#1f2328}
.fnc-report h1{font-size:22px;margin:8px 0}.fnc-report h2{font-size:18px;margin:18px 0 6px}
.fnc-report h3{font-size:15px;margin:14px 0 4px}
.fnc-invalid{background:#cf222e;color:#fff;font-weight:700;padding:10px 14px;font-size:16px}
.fnc-meta th{text-align:left;padding:2px 10px 2px 0;vertical-align:top}
.fnc-data{border-collapse:collapse;margin:4px 0}
.fnc-data th,.fnc-data td{border:1px solid #d0d7de;padding:3px 6px;text-align:left;
vertical-align:top;white-space:pre-wrap;overflow-wrap:break-word;max-width:480px}
.fnc-data th{background:#f6f8fa;cursor:pointer;user-select:none;white-space:nowrap}
.fnc-data th[data-dir="asc"]::after{content:" \\25B2"}
.fnc-data th[data-dir="desc"]::after{content:" \\25BC"}
.fnc-data tr.fnc-exceptions td:nth-child(4){color:#cf222e;font-weight:700}
.fnc-data tr.fnc-pass td:nth-child(4){color:#1a7f37;font-weight:700}
.fnc-data tr.fnc-not_evaluated td:nth-child(4){color:#9a6700;font-weight:700}
.fnc-tools{margin:6px 0 2px;display:flex;gap:8px;align-items:center}
.fnc-tools input{padding:2px 6px}
.fnc-scroll{max-height:640px;overflow:auto}
"""

# Sort (click a heading), search (the box) and page (the buttons) each table.
# Without script every row simply shows.
_SCRIPT = """
(function(){
function num(t){var v=parseFloat(t);return (t.trim()!==""&&isFinite(t))?v:null;}
document.querySelectorAll("table.fnc-data").forEach(function(table){
  var size=parseInt(table.getAttribute("data-page-size"),10)||50;
  var body=table.tBodies[0];var rows=Array.prototype.slice.call(body.rows);
  var shown=rows.slice();var page=0;
  var tools=document.createElement("div");tools.className="fnc-tools";
  var box=document.createElement("input");box.type="search";box.placeholder="search";
  var prev=document.createElement("button");prev.textContent="previous";
  var next=document.createElement("button");next.textContent="next";
  var info=document.createElement("span");
  var all=document.createElement("label");var check=document.createElement("input");
  check.type="checkbox";all.appendChild(check);
  all.appendChild(document.createTextNode(" all rows"));
  [box,prev,next,info,all].forEach(function(e){tools.appendChild(e);});
  table.parentNode.insertBefore(tools,table);
  function draw(){
    var n=shown.length,per=check.checked?Math.max(n,1):size;
    var pages=Math.max(1,Math.ceil(n/per));if(page>=pages)page=pages-1;if(page<0)page=0;
    var lo=page*per,hi=Math.min(n,lo+per);
    rows.forEach(function(r){r.style.display="none";});
    for(var i=0;i<n;i++){body.appendChild(shown[i]);if(i>=lo&&i<hi)shown[i].style.display="";}
    var of=n<rows.length?" (of "+rows.length+")":"";
    info.textContent=n?("rows "+(lo+1)+"-"+hi+" of "+n+of):"no rows";
    prev.disabled=page===0;next.disabled=page>=pages-1;
  }
  box.addEventListener("input",function(){
    var q=box.value.toLowerCase();
    shown=rows.filter(function(r){return r.textContent.toLowerCase().indexOf(q)>=0;});
    page=0;draw();
  });
  prev.addEventListener("click",function(){page--;draw();});
  next.addEventListener("click",function(){page++;draw();});
  check.addEventListener("change",function(){page=0;draw();});
  Array.prototype.forEach.call(table.tHead.rows[0].cells,function(th,col){
    th.addEventListener("click",function(){
      var dir=th.getAttribute("data-dir")==="asc"?"desc":"asc";
      Array.prototype.forEach.call(table.tHead.rows[0].cells,function(o){o.removeAttribute("data-dir");});
      th.setAttribute("data-dir",dir);var sign=dir==="asc"?1:-1;
      shown.sort(function(a,b){
        var x=a.cells[col].textContent,y=b.cells[col].textContent,nx=num(x),ny=num(y);
        if(nx!==null&&ny!==null)return sign*(nx-ny);
        return sign*x.localeCompare(y);
      });
      page=0;draw();
    });
  });
  draw();
});
})();
"""


def _source_names(source: Any) -> tuple[str, ...]:
    if isinstance(source, str | os.PathLike):
        return (os.fspath(source),)
    return tuple(os.fspath(item) for item in source)


def _retention_dir(source: Any) -> Path | None:
    """The trail's directory, when the source is one directory (or one of its day files)."""
    if not isinstance(source, str | os.PathLike):
        return None
    path = Path(source)
    if path.is_dir():
        return path
    if path.is_file() and day_of(path) is not None:
        return path.parent
    return None


def _bound(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def compliance_report(
    source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    frameworks: Iterable[str] = ("pci-dss", "hipaa", "soc2", "sox", "gdpr"),
    since: date | datetime | str | None = None,
    until: date | datetime | str | None = None,
    tz: str = "UTC",
    business_hours: tuple[str, str] = ("08:00", "18:00"),
    holidays: Iterable[date | str] = (),
    roster: pd.DataFrame | str | os.PathLike[str] | None = None,
    key: bytes | VerificationKey | None = None,
    anchors: Iterable[Anchor | dict[str, Any] | str] | None = None,
    resources: Iterable[str] = (),
    keep_days: int = 365,
    online_days: int = 90,
    as_of: date | datetime | str | None = None,
    progress: bool | None = False,
    access_log: AuditTrail | None = None,
    user_id: str | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> ComplianceReport:
    """Verify ``source``, load it, run every analysis once and map them to controls.

    ``frameworks`` picks the controls (``pci-dss``, ``hipaa``, ``soc2``,
    ``sox``, ``gdpr``); ``since``/``until`` the days; ``tz``,
    ``business_hours`` and ``holidays`` define off hours; ``roster`` (user_id,
    terminated_at) enables the terminated-user control; ``resources`` lists
    records to account for (HIPAA 164.528); ``keep_days`` and ``online_days``
    are the retention policy, judged as of ``as_of`` (default: today, UTC);
    ``key`` and ``anchors`` go to the verifier; ``access_log`` records an
    ``audit_log_access`` event (who: ``user_id``, default the OS user).
    ``source`` may be an fsspec URL read in place with ``storage_options``
    (see :func:`~fapilog_notebook.read_audit_log`); the retention section
    then also reads back each day file's S3 Object Lock.

    :raises FileNotFoundError: the source does not exist.
    :raises ValueError, TypeError: bad arguments, named.
    """
    chosen = select(frameworks)
    check_access_args(access_log, user_id)
    if (
        not isinstance(business_hours, tuple | list)
        or len(business_hours) != 2
        or not all(isinstance(t, str | time) for t in business_hours)
    ):
        raise ValueError(
            "business_hours must be (start, end) such as ('08:00', '18:00'), "
            f"not {business_hours!r}"
        )
    if isinstance(resources, str):
        resources = (resources,)
    records = tuple(resources)
    holiday_list = tuple(holidays)
    created = datetime.now(UTC).replace(microsecond=0)
    # A clear error before anything is recorded:
    resolved = resolve_source(source, since=since, until=until, storage_options=storage_options)
    record_access(
        access_log,
        action="compliance_report",
        source=source,
        since=since,
        until=until,
        user_id=user_id,
    )
    integrity = verify_audit_log(
        source,
        since=since,
        until=until,
        key=key,
        anchors=anchors or (),
        progress=progress,
        storage_options=storage_options,
    )
    frame = read_audit_log(
        source, since=since, until=until, progress=progress, storage_options=storage_options
    )
    start, end = business_hours
    sections: dict[str, pd.DataFrame] = {
        "failed_logins_by_user": analyses.failed_logins(frame, by="user_id"),
        "failed_logins_by_ip": analyses.failed_logins(frame, by="client_ip"),
        "off_hours": analyses.off_hours(frame, start=start, end=end, tz=tz, holidays=holiday_list),
        "sensitive_access": analyses.sensitive_access(frame),
        "bulk_access": analyses.bulk_access(frame),
        "first_seen": analyses.first_seen(frame),
        "privileged_actions": analyses.privileged_actions(frame),
        "silences": analyses.silences(frame),
        "completeness": analyses.completeness(frame),
    }
    not_run: dict[str, str] = {}
    if roster is not None:
        sections["after_termination"] = analyses.after_termination(frame, roster)
    if records:
        parts = [analyses.disclosures(frame, record).assign(record=record) for record in records]
        disclosed = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
        sections["disclosures"] = disclosed[
            ["record", *[c for c in disclosed.columns if c != "record"]]
        ]
    remote = resolved.directory is not None and is_url(resolved.directory)
    directory = resolved.directory if remote else _retention_dir(source)
    if directory is not None:
        sections["retention"] = analyses.retention(
            directory,
            keep_days=keep_days,
            online_days=online_days,
            now=created.date() if as_of is None else as_of,
            storage_options=storage_options if is_url(directory) else None,
        )
    else:
        not_run["retention"] = "the source is not one directory of daily files"
    sections = {name: _lead(section, frame.columns) for name, section in sections.items()}
    kinds = frame["event_type"].astype("string") if len(frame) else pd.Series([], dtype="string")
    signed = (kinds == "compliance_check") & (
        frame["operation"].astype("string") == "sign_off" if "operation" in frame.columns else False
    )
    sections["sign_offs"] = frame[signed.fillna(False).to_numpy(dtype=bool)].reset_index(drop=True)
    counts = {str(k): int(v) for k, v in kinds.value_counts().items()}
    evidence = Evidence(
        sections=sections,
        event_counts=counts,
        events=len(frame),
        integrity_errors=integrity.counts["error"],
        roster_given=roster is not None,
        resources=records,
        not_run=not_run,
    )
    caveat = (
        ""
        if integrity.valid
        else f"trail INVALID ({integrity.counts['error']} integrity errors): this result may "
        "rest on altered or missing events"
    )
    rows = [
        {
            "framework": FRAMEWORKS[control.framework],
            "control": control.control,
            "title": control.title,
            "status": outcome.status,
            "exceptions": outcome.exceptions,
            "section": control.section,
            "analysis": control.analysis,
            "detail": outcome.detail,
            "caveat": caveat,
        }
        for control, outcome in evaluate(evidence, chosen)
    ]
    controls = pd.DataFrame(rows, columns=list(CONTROL_COLUMNS)).astype({"exceptions": "int64"})
    first = frame["timestamp"].min() if len(frame) else None
    last = frame["timestamp"].max() if len(frame) else None
    period = (
        _bound(since) or (_iso(first) if first is not None and first is not pd.NaT else None),
        _bound(until) or (_iso(last) if last is not None and last is not pd.NaT else None),
    )
    parameters: dict[str, Any] = {
        "tz": tz,
        "business_hours": list(business_hours),
        "holidays": [_bound(h) for h in holiday_list],
        "roster_given": roster is not None,
        "resources": list(records),
        "keep_days": keep_days,
        "online_days": online_days,
        "as_of": _bound(as_of) or created.date().isoformat(),
        "key_given": key is not None,
        "anchors": len(tuple(anchors or ())),
    }
    return ComplianceReport(
        integrity=integrity,
        controls=controls,
        sections=sections,
        sources=_source_names(source),
        period=period,
        created=created,
        frameworks=chosen,
        parameters=parameters,
    )
