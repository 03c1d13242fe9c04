"""The tree check in a child interpreter: the same outcome as in the caller, whatever happens."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

import fapilog_notebook
from fapilog_notebook import signing_keygen, verify_audit_log
from fapilog_notebook.checkpoints import VerifierKey
from fapilog_notebook.storage import manifest_path
from fapilog_notebook.treeformat import TREE_NAME
from fapilog_notebook.verify import _driver
from fapilog_notebook.verify import _treeproc as treeproc
from fapilog_notebook.verify._tree import check_trail

from .trail_helpers import signed_two_days

DAY1 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


async def _signed_trail(tmp_path: Path) -> tuple[Path, Path]:
    signing, public = tmp_path / "writer.signing", tmp_path / "root.pub"
    signing_keygen(signing, public, day=DAY1.date(), origin="example.org/audit")
    store = tmp_path / "logs"
    await signed_two_days(store, signing, DAY1, 40, 40)
    return store, public


@pytest.fixture
def always_child(monkeypatch: pytest.MonkeyPatch) -> None:
    """Check every trail in a child, however small (and whatever the CPU count)."""
    monkeypatch.setattr(treeproc, "CONCURRENT_BYTES", 0)
    monkeypatch.setattr(treeproc, "_usable_cpus", lambda: 2)


def _without_time(report: object) -> dict[str, object]:
    data: dict[str, object] = json.loads(report.to_json())  # type: ignore[attr-defined]
    data.pop("verified_at", None)
    return data


def _damage(store: Path) -> None:
    """A changed stored node, and a manifest whose checkpoint is garbage."""
    tree = bytearray((store / TREE_NAME).read_bytes())
    tree[32 * 4] ^= 1
    (store / TREE_NAME).write_bytes(bytes(tree))
    manifest = manifest_path(store, DAY1.date())
    record = json.loads(manifest.read_text())
    record["checkpoint"] = "garbage\n"
    manifest.write_text(json.dumps(record))


@pytest.mark.parametrize("damaged", [False, True])
async def test_the_child_reports_exactly_what_the_caller_computes(
    tmp_path: Path, always_child: None, damaged: bool
) -> None:
    store, public = await _signed_trail(tmp_path)
    if damaged:
        _damage(store)
    key = VerifierKey.parse(public.read_text())
    job = treeproc.start_tree_check(store, key, ())
    assert job.concurrent
    in_caller = check_trail(store, key, ())
    assert job.result() == in_caller
    assert bool(in_caller.findings) is damaged


@pytest.mark.parametrize("damaged", [False, True])
async def test_a_report_is_the_same_whether_the_tree_was_checked_here_or_in_a_child(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damaged: bool
) -> None:
    store, public = await _signed_trail(tmp_path)
    if damaged:
        _damage(store)
    monkeypatch.setattr(treeproc, "CONCURRENT_BYTES", 1 << 62)
    here = verify_audit_log(store, public_key=public)
    monkeypatch.setattr(treeproc, "CONCURRENT_BYTES", 0)
    monkeypatch.setattr(treeproc, "_usable_cpus", lambda: 2)
    started: list[treeproc.TreeJob] = []
    in_child: list[bool] = []
    real = treeproc.start_tree_check

    def spy(*args: object) -> treeproc.TreeJob:
        job = real(*args)  # type: ignore[arg-type]
        started.append(job)
        in_child.append(job.concurrent)
        return job

    monkeypatch.setattr(_driver, "start_tree_check", spy)
    there = verify_audit_log(store, public_key=public)
    assert in_child == [True]
    assert [job.child for job in started] == [None]  # collected
    assert _without_time(there) == _without_time(here)
    assert there.valid is not damaged


@pytest.mark.parametrize("executable", ["/bin/false", "/nonexistent/python"])
async def test_a_child_that_fails_or_cannot_start_is_replaced_by_the_caller(
    tmp_path: Path, always_child: None, monkeypatch: pytest.MonkeyPatch, executable: str
) -> None:
    store, public = await _signed_trail(tmp_path)
    _damage(store)
    expected = verify_audit_log(store, public_key=public)
    monkeypatch.setattr(sys, "executable", executable)
    report = verify_audit_log(store, public_key=public)
    assert _without_time(report) == _without_time(expected)
    assert not report.valid


async def test_a_missing_recorded_checkpoint_file_is_the_same_error_with_a_child(
    tmp_path: Path, always_child: None
) -> None:
    store, _public = await _signed_trail(tmp_path)
    with pytest.raises(FileNotFoundError, match="no such checkpoint file"):
        verify_audit_log(store, checkpoints=[tmp_path / "missing.checkpoint"])


async def test_a_cancelled_job_leaves_no_child_running(tmp_path: Path, always_child: None) -> None:
    store, _public = await _signed_trail(tmp_path)
    job = treeproc.start_tree_check(store, None, ())
    child = job.child
    assert child is not None
    job.cancel()
    assert child.returncode is not None
    assert job.child is None


def test_an_unguarded_script_is_not_run_again_by_the_child(tmp_path: Path) -> None:
    """A script with no ``__main__`` guard runs once (multiprocessing would run it again)."""
    store, public = asyncio.run(_signed_trail(tmp_path))
    runs = tmp_path / "runs.txt"
    script = tmp_path / "unguarded.py"
    script.write_text(
        textwrap.dedent(
            f"""
            from pathlib import Path
            from fapilog_notebook import verify_audit_log
            from fapilog_notebook.verify import _treeproc as treeproc
            treeproc.CONCURRENT_BYTES = 0
            treeproc._usable_cpus = lambda: 2
            with open({str(runs)!r}, "a") as f:
                f.write("run\\n")
            report = verify_audit_log(Path({str(store)!r}), public_key=Path({str(public)!r}))
            print("VALID" if report.valid else "INVALID")
            """
        )
    )
    package_root = str(Path(fapilog_notebook.__file__).resolve().parent.parent)
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONPATH": package_root},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "VALID"
    assert runs.read_text() == "run\n"


def _child_modules() -> set[str]:
    """The modules a child interpreter holds once it has imported the pass."""
    probe = treeproc._BOOT.replace(
        "sys.exit(child_main())", "print('\\n'.join(sorted(sys.modules)))"
    )
    package = str(Path(fapilog_notebook.__file__).resolve().parent)
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", probe, package],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return set(done.stdout.split())


def test_the_child_imports_only_what_the_pass_needs() -> None:
    modules = _child_modules()
    assert "fapilog_notebook.verify._treescan" in modules
    heavy = {"pydantic", "pydantic_core", "cryptography", "pandas", "numpy", "pyarrow", "fsspec"}
    assert not {m.split(".")[0] for m in modules} & heavy
    ours = {m for m in modules if m.startswith("fapilog_notebook.")}
    assert ours == {
        "fapilog_notebook.errors",
        "fapilog_notebook.linereader",
        "fapilog_notebook.merkle",
        "fapilog_notebook.treeformat",
        "fapilog_notebook.verify",
        "fapilog_notebook.verify._treescan",
    }


async def test_a_module_planted_in_the_working_directory_is_not_imported_by_the_child(
    tmp_path: Path, always_child: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, public = await _signed_trail(tmp_path)
    planted = tmp_path / "planted"
    planted.mkdir()
    marker = tmp_path / "ran.txt"
    for name in ("json", "hashlib", "base64"):
        (planted / f"{name}.py").write_text(f"open({str(marker)!r}, 'a').write('{name}')\n")
    monkeypatch.chdir(planted)
    monkeypatch.setenv("PYTHONPATH", str(planted))
    key = VerifierKey.parse(public.read_text())
    job = treeproc.start_tree_check(store, key, ())
    assert job.concurrent
    assert job.result() == check_trail(store, key, ())
    assert not marker.exists()


async def test_a_garbled_answer_is_replaced_by_the_callers_own_pass(
    tmp_path: Path, always_child: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import marshal

    from fapilog_notebook.verify._treescan import TreeScan

    store, public = await _signed_trail(tmp_path)
    _damage(store)
    key = VerifierKey.parse(public.read_text())
    expected = check_trail(store, key, ())
    good = TreeScan(80, {80: bytes(32)}, ("a.jsonl", 1), None, None, None).dumps()
    answers = [
        b"not marshal",
        good[:-3],  # cut short
        marshal.dumps((3,)),  # too few fields
        marshal.dumps((80, {"80": bytes(32)}, None, None, None, None)),  # a size as text
        marshal.dumps((80, {80: "root"}, None, None, None, None)),  # a root as text
        marshal.dumps((True, {}, None, None, None, None)),  # a bool for a count
        marshal.dumps((80, {}, ("a", "1"), None, None, None)),  # a line number as text
    ]
    for answer in answers:
        boot = f"import sys\nsys.stdin.read()\nsys.stdout.buffer.write({answer!r})\n"
        monkeypatch.setattr(treeproc, "_BOOT", boot)
        job = treeproc.start_tree_check(store, key, ())
        assert job.concurrent
        assert job.result() == expected, answer
        with pytest.raises(ValueError, match="not a tree scan"):
            TreeScan.loads(answer)


async def test_a_checkpoint_that_cannot_be_read_stops_the_child_it_started(
    tmp_path: Path, always_child: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, _public = await _signed_trail(tmp_path)
    started: list[subprocess.Popen[bytes]] = []
    real = treeproc._spawn

    def spy() -> subprocess.Popen[bytes] | None:
        child = real()
        assert child is not None
        started.append(child)
        return child

    monkeypatch.setattr(treeproc, "_spawn", spy)
    with pytest.raises(FileNotFoundError, match="no such checkpoint file"):
        treeproc.start_tree_check(store, None, [tmp_path / "missing.checkpoint"])
    assert len(started) == 1
    assert started[0].returncode is not None


@pytest.mark.parametrize("in_child", [False, True])
async def test_an_audit_file_that_cannot_be_read_is_a_finding_not_a_traceback(
    tmp_path: Path, always_child: None, monkeypatch: pytest.MonkeyPatch, in_child: bool
) -> None:
    """A file gone (or turned into a directory) after the plan listed it stops the pass there."""
    from fapilog_notebook.verify._tree import plan_check

    store, public = await _signed_trail(tmp_path)
    key = VerifierKey.parse(public.read_text())
    plan = plan_check(store, key, ())
    second = plan.files[1]
    second.unlink()
    second.mkdir()
    monkeypatch.setattr(treeproc, "plan_check", lambda *_args: plan)  # as listed before
    if not in_child:
        monkeypatch.setattr(treeproc, "CONCURRENT_BYTES", 1 << 62)
    job = treeproc.start_tree_check(store, key, ())
    assert job.concurrent is in_child
    check = job.result()
    stopped = [f for f in check.findings if "could not be recomputed past event 40" in f.message]
    assert len(stopped) == 1, check.findings
    assert str(second) in stopped[0].message
    assert check.leaves == 40
    # Checkpoints the pass did not reach are not called cut.
    assert not [f for f in check.findings if "were cut" in f.message]


def test_a_scan_survives_the_trip_through_json_whole() -> None:
    from fapilog_notebook.verify._treescan import TreeScan

    scan = TreeScan(
        7, {0: b"\0" * 32, 7: b"\1" * 32}, ("a.jsonl", 9), ("b.jsonl", 3, 2), "denied", "gone"
    )
    assert TreeScan.loads(scan.dumps()) == scan
    bare = TreeScan(0, {}, None, None, None, None)
    assert TreeScan.loads(bare.dumps()) == bare
