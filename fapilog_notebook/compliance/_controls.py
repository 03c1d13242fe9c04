"""The control catalogue: which analysis backs each control, and how its rows become exceptions.

Each :class:`Control` names its framework, its identifier and title, the
section (an analysis result) that holds its evidence, the analysis call
behind it and a rule: a function of the :class:`Evidence` that returns the
status (``pass``, ``exceptions`` or ``not_evaluated``), the number of
exceptions and a sentence saying why. A control whose input was not given
(no roster, no record to account for) is ``not_evaluated`` with that reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = ["CONTROLS", "FRAMEWORKS", "Control", "Evidence", "Outcome", "select"]

#: Framework keys accepted by ``compliance_report(frameworks=...)``, with their names.
FRAMEWORKS: dict[str, str] = {
    "pci-dss": "PCI DSS v4.0",
    "hipaa": "HIPAA Security Rule",
    "soc2": "SOC 2",
    "sox": "SOX ITGC",
    "gdpr": "GDPR",
}

PASS = "pass"
EXCEPTIONS = "exceptions"
NOT_EVALUATED = "not_evaluated"


@dataclass(frozen=True)
class Outcome:
    """A control's result: status, number of exceptions, and why."""

    status: str
    exceptions: int
    detail: str


@dataclass(frozen=True)
class Evidence:
    """What the rules look at: the sections, event counts, and which inputs were given."""

    sections: Mapping[str, pd.DataFrame]
    event_counts: Mapping[str, int]
    events: int
    integrity_errors: int
    roster_given: bool
    resources: tuple[str, ...]
    not_run: Mapping[str, str] = field(default_factory=dict)

    def rows(self, name: str) -> pd.DataFrame:
        """The section ``name`` (empty when it was not run)."""
        return self.sections.get(name, pd.DataFrame())

    def count(self, *types: str) -> int:
        """How many loaded events have one of ``types``."""
        return sum(self.event_counts.get(kind, 0) for kind in types)


Rule = Callable[[Evidence], Outcome]
#: A rule that judges the other controls' outcomes too (PCI DSS 10.4.3).
ReviewRule = Callable[[Evidence, "list[tuple[Control, Outcome]]"], Outcome]


@dataclass(frozen=True)
class Control:
    """One control of one framework, the analysis behind it and its exception rule.

    ``rule`` judges the evidence; a control with ``review`` instead is judged
    last, on the evidence and the other controls' outcomes.
    """

    framework: str
    control: str
    title: str
    section: str
    analysis: str
    rule: Rule | None = None
    review: ReviewRule | None = None


def _outcome(count: int, found: str, clean: str) -> Outcome:
    """``exceptions`` with ``found`` (formatted with the count) when count > 0, else ``pass``."""
    if count:
        return Outcome(EXCEPTIONS, count, found.format(n=count))
    return Outcome(PASS, 0, clean)


def _missing_user(rows: pd.DataFrame) -> int:
    if len(rows) == 0 or "user_id" not in rows.columns:
        return len(rows)
    users = rows["user_id"].astype("string").str.strip()
    return int((users.isna() | users.eq("")).sum())


def _of_types(rows: pd.DataFrame, types: tuple[str, ...]) -> pd.DataFrame:
    if len(rows) == 0 or "event_type" not in rows.columns:
        return rows.iloc[0:0]
    return rows[rows["event_type"].astype("string").isin(types).to_numpy(dtype=bool)]


def _completeness_gaps(
    ev: Evidence, *, types: tuple[str, ...] | None, fields: tuple[str, ...]
) -> int:
    rows = ev.rows("completeness")
    if len(rows) == 0:
        return 0
    mask = (rows["missing"] > 0) & rows["field"].isin(fields)
    if types is not None:
        mask &= rows["event_type"].astype("string").isin(types)
    return int(rows.loc[mask, "missing"].sum())


_DATA = ("data_access", "data_modification", "data_deletion", "data_export")
_CHANGES = ("config_changed", "plugin_loaded", "plugin_unloaded", "retention_policy_applied")
_ADMIN = ("config_changed", "data_deletion", "retention_policy_applied", "plugin_loaded",
          "plugin_unloaded", "audit_log_access")  # fmt: skip


def _pci_cardholder(ev: Evidence) -> Outcome:
    data = ev.count(*_DATA)
    gaps = _completeness_gaps(ev, types=_DATA, fields=("user_id", "resource"))
    return _outcome(
        gaps,
        "{n} missing user or resource fields on data events: access cannot be tied to a "
        "person and a record",
        f"{data} data events, each with a user and a resource",
    )


def _pci_admin(ev: Evidence) -> Outcome:
    rows = ev.rows("privileged_actions")
    return _outcome(
        _missing_user(rows),
        "{n} administrative actions have no user_id",
        f"{len(rows)} administrative actions listed, each with a user_id",
    )


def _pci_log_access(ev: Evidence) -> Outcome:
    rows = _of_types(ev.rows("privileged_actions"), ("audit_log_access",))
    return _outcome(
        _missing_user(rows),
        "{n} accesses to the audit logs have no user_id",
        f"{len(rows)} recorded accesses to the audit logs, each with a user_id",
    )


def _pci_failed_logins(ev: Evidence) -> Outcome:
    by_user = len(ev.rows("failed_logins_by_user"))
    by_ip = len(ev.rows("failed_logins_by_ip"))
    failures = ev.count("authentication_failed")
    return _outcome(
        by_user + by_ip,
        f"{{n}} clusters of failed log-ins ({by_user} against one user, {by_ip} from one IP) "
        "to investigate",
        f"{failures} failed log-ins, none in a cluster at the threshold",
    )


def _pci_start_stop(ev: Evidence) -> Outcome:
    gaps = len(ev.rows("silences"))
    starts, stops = ev.count("system_startup"), ev.count("system_shutdown")
    return _outcome(
        gaps,
        f"{{n}} silences where logging may have been down; {starts} startups and {stops} "
        "shutdowns recorded",
        f"no silence; {starts} startups and {stops} shutdowns recorded",
    )


def _pci_fields(ev: Evidence) -> Outcome:
    rows = ev.rows("completeness")
    gaps = rows[rows["missing"] > 0] if len(rows) else rows
    return _outcome(
        len(gaps),
        "{n} event type and field pairs have missing values "
        f"({int(gaps['missing'].sum()) if len(gaps) else 0} fields in all)",
        f"every required field present in {ev.events} events",
    )


def _integrity(ev: Evidence) -> Outcome:
    return _outcome(
        ev.integrity_errors,
        "{n} integrity errors: the trail cannot be relied on until they are explained",
        f"{ev.events} events recorded and verified intact; this report is the review",
    )


def _pci_addressed(ev: Evidence, controls: list[tuple[Control, Outcome]]) -> Outcome:
    open_ = [c.control for c, o in controls if o.status == EXCEPTIONS]
    signed = len(ev.rows("sign_offs"))
    if open_:
        return Outcome(
            EXCEPTIONS,
            len(open_),
            f"{len(open_)} controls have exceptions to address and sign off "
            f"(report.sign_off records it); {signed} earlier sign-offs in the period",
        )
    return Outcome(PASS, 0, f"no exceptions to address; {signed} sign-offs in the period")


def _pci_retention(ev: Evidence) -> Outcome:
    if "retention" in ev.not_run:
        return Outcome(NOT_EVALUATED, 0, ev.not_run["retention"])
    rows = ev.rows("retention")
    bad = rows[rows["status"] == EXCEPTIONS] if len(rows) else rows
    return _outcome(
        int(bad["count"].sum()) if len(bad) else 0,
        "{n} days break the policy (" + ", ".join(bad["rule"].astype(str)) + ")"
        if len(bad)
        else "",
        "no day missing between the oldest and newest file, none kept past the policy",
    )


def _hipaa_review(ev: Evidence) -> Outcome:
    rows = ev.rows("off_hours")
    sensitive = 0
    if len(rows):
        flags = [rows[c].fillna(False).astype(bool) for c in ("contains_phi", "contains_pii")
                 if c in rows.columns]  # fmt: skip
        if flags:
            sensitive = int((flags[0] | flags[-1]).sum())
    users = len(ev.rows("sensitive_access"))
    return _outcome(
        sensitive,
        f"{{n}} accesses to PHI or PII outside business hours; access report covers {users} users",
        f"access report covers {users} users; no PHI or PII access outside business hours",
    )


def _hipaa_disclosures(ev: Evidence) -> Outcome:
    if not ev.resources:
        return Outcome(
            NOT_EVALUATED,
            0,
            "no record given: accounting of disclosures is per record; pass resources=[...] "
            "or run disclosures(frame, resource) for each request",
        )
    rows = ev.rows("disclosures")
    return Outcome(
        PASS,
        0,
        f"accounting produced for {len(ev.resources)} records: {len(rows)} data events "
        "listed (a report, not a test)",
    )


def _soc2_new_access(ev: Evidence) -> Outcome:
    return _outcome(
        len(ev.rows("first_seen")),
        "{n} user and IP combinations first seen after the baseline: confirm each is expected",
        "no user and IP combination new after the baseline",
    )


def _soc2_logins(ev: Evidence) -> Outcome:
    return _pci_failed_logins(ev)


def _soc2_anomalies(ev: Evidence) -> Outcome:
    bulk, late = len(ev.rows("bulk_access")), len(ev.rows("off_hours"))
    return _outcome(
        bulk + late,
        f"{{n}} anomalies to evaluate: {bulk} bulk-access periods, {late} events outside "
        "business hours",
        "no bulk access and no activity outside business hours",
    )


def _sox_changes(ev: Evidence) -> Outcome:
    changes = _of_types(ev.rows("privileged_actions"), _CHANGES)
    return _outcome(
        _missing_user(changes),
        "{n} changes have no user_id and cannot be matched to an approved change",
        f"{len(changes)} changes listed, each with a user_id, to match against approved "
        "change tickets",
    )


def _sox_terminated(ev: Evidence) -> Outcome:
    if not ev.roster_given:
        return Outcome(NOT_EVALUATED, 0, "no roster given (roster= with user_id, terminated_at)")
    return _outcome(
        len(ev.rows("after_termination")),
        "{n} events by users at or after their termination",
        "no event by a terminated user",
    )


def _gdpr_scope(ev: Evidence) -> Outcome:
    rows = ev.rows("bulk_access")
    exports = int((rows["exports"] > 0).sum()) if len(rows) else 0
    users = len(ev.rows("sensitive_access"))
    return _outcome(
        exports,
        f"{{n}} bulk-access periods include exports: assess them as possible breaches; "
        f"sensitive_access lists the personal-data access of {users} users for the scope",
        f"no bulk export; sensitive_access lists the personal-data access of {users} users "
        "should a breach need scoping",
    )


_FAILED = "failed_logins(by='user_id') and failed_logins(by='client_ip')"

CONTROLS: tuple[Control, ...] = (
    Control("pci-dss", "PCI DSS 10.2.1.1", "Individual user access to cardholder data is logged",
            "completeness", "completeness (data events: user_id, resource)", _pci_cardholder),
    Control("pci-dss", "PCI DSS 10.2.1.2", "Actions by administrative accounts are logged",
            "privileged_actions", "privileged_actions (user_id present)", _pci_admin),
    Control("pci-dss", "PCI DSS 10.2.1.3", "Access to audit logs is logged",
            "privileged_actions", "privileged_actions (audit_log_access events)",
            _pci_log_access),
    Control("pci-dss", "PCI DSS 10.2.1.4", "Invalid logical access attempts are reviewed",
            "failed_logins_by_user", _FAILED, _pci_failed_logins),
    Control("pci-dss", "PCI DSS 10.2.1.6", "Start and stop of the audit logs is logged",
            "silences", "silences (min_gap 1h), system_startup/system_shutdown counts",
            _pci_start_stop),
    Control("pci-dss", "PCI DSS 10.2.2", "Audit records capture the required details",
            "completeness", "completeness (user, origin, resource)", _pci_fields),
    Control("pci-dss", "PCI DSS 10.4.1/10.4.1.1", "Audit logs are reviewed daily, by automated "
            "mechanisms", "integrity", "verify_audit_log (this report)", _integrity),
    Control("pci-dss", "PCI DSS 10.4.3", "Exceptions and anomalies found in the review are "
            "addressed", "sign_offs", "the other controls; compliance_check sign-offs",
            review=_pci_addressed),
    Control("pci-dss", "PCI DSS 10.5.1", "Audit log history is retained 12 months, 3 online",
            "retention", "retention (keep_days 365, online_days 90)", _pci_retention),
    Control("hipaa", "HIPAA 164.312(b)", "Audit controls record and examine activity",
            "integrity", "verify_audit_log", _integrity),
    Control("hipaa", "HIPAA 164.308(a)(1)(ii)(D)", "Information system activity review (access "
            "reports)", "sensitive_access", "sensitive_access; off_hours (PHI/PII events)",
            _hipaa_review),
    Control("hipaa", "HIPAA 164.528", "Accounting of disclosures of PHI", "disclosures",
            "disclosures(resource) for each record given", _hipaa_disclosures),
    Control("soc2", "SOC 2 CC6.1", "Logical access is restricted to known users and origins",
            "first_seen", "first_seen (user_id, client_ip; baseline 14D)", _soc2_new_access),
    Control("soc2", "SOC 2 CC6.6", "Access from outside the system boundary is protected "
            "against (failed log-ins)", "failed_logins_by_ip", _FAILED, _soc2_logins),
    Control("soc2", "SOC 2 CC7.2", "Anomalies that may be security events are monitored",
            "bulk_access", "bulk_access (100 per hour); off_hours", _soc2_anomalies),
    Control("sox", "SOX ITGC change control", "Changes to the system are attributable and "
            "reviewed", "privileged_actions", "privileged_actions (config, plugins, retention)",
            _sox_changes),
    Control("sox", "SOX ITGC terminated-user access", "Terminated users have no access",
            "after_termination", "after_termination(roster)", _sox_terminated),
    Control("gdpr", "GDPR Art. 33", "The scope of a personal-data breach can be established",
            "sensitive_access", "sensitive_access; bulk_access (exports)", _gdpr_scope),
)  # fmt: skip


def select(frameworks: Any) -> tuple[str, ...]:
    """Check ``frameworks`` (names from :data:`FRAMEWORKS`) and return them, deduplicated."""
    if isinstance(frameworks, str):
        frameworks = (frameworks,)
    try:
        chosen = tuple(dict.fromkeys(frameworks))
    except TypeError:
        raise TypeError(f"frameworks must be a list of names, not {frameworks!r}") from None
    unknown = [name for name in chosen if name not in FRAMEWORKS]
    if unknown or not chosen:
        raise ValueError(
            f"frameworks must be some of {', '.join(FRAMEWORKS)}; got "
            f"{', '.join(map(repr, unknown)) if unknown else 'none'}"
        )
    return chosen


def evaluate(evidence: Evidence, frameworks: tuple[str, ...]) -> list[tuple[Control, Outcome]]:
    """Every control of ``frameworks``, in catalogue order, with its outcome."""
    chosen = [c for c in CONTROLS if c.framework in frameworks]
    if evidence.events == 0:
        # Nothing was logged in the period: no control can pass on that (only
        # the retention of the files, which is judged from their names).
        empty = Outcome(NOT_EVALUATED, 0, "no events in the period: nothing to evaluate")
        return [
            (c, c.rule(evidence) if c.section == "retention" and c.rule else empty) for c in chosen
        ]
    judged = {c.control: c.rule(evidence) for c in chosen if c.rule is not None}
    done = [(c, judged[c.control]) for c in chosen if c.rule is not None]
    results: list[tuple[Control, Outcome]] = []
    for control in chosen:
        if control.review is not None:
            results.append((control, control.review(evidence, done)))
        else:
            results.append((control, judged[control.control]))
    return results
