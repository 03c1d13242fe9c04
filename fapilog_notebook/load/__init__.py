"""Load an audit source into a typed pandas DataFrame, fast, one row per event.

What other packages use: :func:`read_audit_log` (its ``AuditLogWarning`` is
in :mod:`fapilog_notebook.errors`), :func:`locate_findings` and
:func:`findings_table` (findings placed on a frame's rows), and
:func:`string_dtype` (the dtype the loader gives string columns).

Inside (private modules, in import order from the bottom):

- ``_columns``: the column model (typed columns, the table, the frame's dtypes);
- ``_parse``: the two readers side by side (pure batch parser, pyarrow reader);
- ``_parallel``: one frame per file in worker processes or on Dask, joined;
- ``_frame``: ``read_audit_log``, its ``integrity`` column, findings to rows.
"""

from ._columns import string_dtype
from ._frame import findings_table, locate_findings, read_audit_log

__all__ = [
    "findings_table",
    "locate_findings",
    "read_audit_log",
    "string_dtype",
]
