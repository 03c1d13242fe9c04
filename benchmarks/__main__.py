"""``python -m benchmarks``: run the benchmarks, print markdown tables, save JSON.

Examples::

    python -m benchmarks                  # everything, full size (a few minutes)
    python -m benchmarks --quick          # a short smoke run
    python -m benchmarks --only write.blocking
    python -m benchmarks --only verify --only keyed --quick
    python -m benchmarks --only compliance
    python -m benchmarks --only objstore --quick   # 50,000 events; full: 1,000,000
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pydantic

import fapilog_notebook

from . import (
    bench_compliance,
    bench_explore,
    bench_keyed,
    bench_objstore,
    bench_parallel,
    bench_signed,
    bench_verify,
    bench_write,
)
from .harness import save_json

RESULTS_DIR = Path(__file__).resolve().parent / "results"
BENCHMARKS = (
    "write.throughput",
    "write.blocking",
    "verify.chain",
    "verify.load",
    "verify.memory",
    "keyed.write",
    "keyed.verify",
    "parallel.verify",
    "parallel.scaling",
    "explore.filter",
    "compliance.analyses",
    "objstore.verify",
    "signed.write",
    "signed.verify",
    "signed.proof",
)
GROUPS = ("write", "verify", "keyed", "parallel", "explore", "compliance", "objstore", "signed")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _filesystem(path: str) -> str:
    """The file system type and device of the mount holding ``path`` (Linux), else unknown."""
    real = os.path.realpath(path)
    best = ("", "unknown", "")
    try:
        with open("/proc/mounts", encoding="utf-8") as handle:
            for line in handle:
                device, mount, kind = line.split()[:3]
                inside = real == mount or real.startswith(mount.rstrip("/") + "/")
                if inside and len(mount) >= len(best[0]):
                    best = (mount, kind, device)
    except OSError:
        return "unknown"
    return f"{best[1]} ({best[2]} on {best[0]})" if best[0] else "unknown"


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parent,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip()


def _git_commit() -> str:
    """The commit of the checkout, with ``+dirty`` when the package has uncommitted edits."""
    commit = _git("rev-parse", "--short", "HEAD")
    if commit is None:
        return "unknown"
    changes = _git("status", "--porcelain", "--", "../fapilog_notebook")
    return commit + ("+dirty" if changes else "")


def machine_info(tmp_root: str | None) -> dict[str, Any]:
    """What the figures depend on: CPU, Python, library versions, the temp file system."""
    return {
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "platform": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "pydantic": pydantic.VERSION,
        "fapilog_notebook": fapilog_notebook.__version__,
        "git_commit": _git_commit(),
        "temp_dir_filesystem": _filesystem(tmp_root or tempfile.gettempdir()),
    }


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Benchmark AuditTrail against the seed's before/after writers, "
        "verify_audit_log and read_audit_log against fapilog 0.3.5 and pandas, and the cost "
        "of keys; the compliance analyses against loading.",
    )
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help=f"run only these (repeatable; a prefix selects a group): {', '.join(BENCHMARKS)}",
    )
    parser.add_argument(
        "--dir", help="where to make the temporary directories (default: the system temp dir)"
    )
    parser.add_argument(
        "--data-dir",
        help="where to cache the generated audit directories (default: benchmarks/.data)",
    )
    parser.add_argument(
        "--no-peer",
        action="store_true",
        help="skip fapilog 0.3.5's verifier (it needs its own venv in benchmarks/.peer-venv)",
    )
    parser.add_argument(
        "--json",
        type=Path,
        help="where to save the results (default: benchmarks/results/GROUP.json for each "
        "group run in full and not --quick, nowhere otherwise); with several groups the "
        "file holds one object per group",
    )
    return parser.parse_args(argv)


def _selected(only: list[str] | None) -> tuple[str, ...]:
    if not only:
        return BENCHMARKS
    chosen = tuple(b for b in BENCHMARKS if any(b == o or b.startswith(o + ".") for o in only))
    if not chosen:
        raise SystemExit(f"--only: nothing matches {only}; choose from {', '.join(BENCHMARKS)}")
    return chosen


def _parts(selected: tuple[str, ...], group: str) -> tuple[str, ...]:
    return tuple(n.split(".", 1)[1] for n in selected if n.startswith(group + "."))


def _complete(selected: tuple[str, ...], group: str) -> bool:
    return _parts(selected, group) == _parts(BENCHMARKS, group)


def main(argv: Sequence[str] | None = None) -> int:
    """Run, print the tables, save the JSON; return the exit code."""
    args = _parse(argv)
    selected = _selected(args.only)
    command = "python -m benchmarks" + (
        " " + shlex.join(argv if argv is not None else sys.argv[1:])
        if (argv if argv is not None else sys.argv[1:])
        else ""
    )
    machine = machine_info(args.dir)
    print(f"command: {command}")
    print(
        f"machine: {machine['cpus']} cores ({machine['cpu_model']}), {machine['python']}, "
        f"{machine['platform']}; temp files on {machine['temp_dir_filesystem']}"
    )
    print(
        f"versions: fapilog_notebook {machine['fapilog_notebook']} "
        f"(commit {machine['git_commit']}), pydantic {machine['pydantic']}\n"
    )
    runs: dict[str, tuple[dict[str, Any], Callable[[dict[str, Any]], str]]] = {}
    if parts := _parts(selected, "write"):
        make_w = bench_write.WriteConfig.quick if args.quick else bench_write.WriteConfig
        write = make_w(tmp_root=args.dir, parts=parts)
        runs["write"] = (bench_write.run(write), bench_write.markdown)
    if parts := _parts(selected, "verify"):
        make_v = bench_verify.VerifyConfig.quick if args.quick else bench_verify.VerifyConfig
        verify = make_v(data_root=args.data_dir, peer=not args.no_peer, parts=parts)
        runs["verify"] = (bench_verify.run(verify), bench_verify.markdown)
    if parts := _parts(selected, "keyed"):
        make_k = bench_keyed.KeyedConfig.quick if args.quick else bench_keyed.KeyedConfig
        keyed = make_k(tmp_root=args.dir, data_root=args.data_dir, parts=parts)
        runs["keyed"] = (bench_keyed.run(keyed), bench_keyed.markdown)
    if parts := _parts(selected, "parallel"):
        make_p = (
            bench_parallel.ParallelConfig.quick if args.quick else bench_parallel.ParallelConfig
        )
        parallel = make_p(data_root=args.data_dir, parts=parts)
        runs["parallel"] = (bench_parallel.run(parallel), bench_parallel.markdown)
    if _parts(selected, "explore"):
        make_e = bench_explore.ExploreConfig.quick if args.quick else bench_explore.ExploreConfig
        runs["explore"] = (bench_explore.run(make_e()), bench_explore.markdown)
    if _parts(selected, "compliance"):
        make_c = (
            bench_compliance.ComplianceConfig.quick
            if args.quick
            else bench_compliance.ComplianceConfig
        )
        compliance = make_c(data_root=args.data_dir)
        runs["compliance"] = (bench_compliance.run(compliance), bench_compliance.markdown)
    if _parts(selected, "objstore"):
        make_o = (
            bench_objstore.ObjstoreConfig.quick if args.quick else bench_objstore.ObjstoreConfig
        )
        objstore = make_o(data_root=args.data_dir)
        runs["objstore"] = (bench_objstore.run(objstore), bench_objstore.markdown)
    if parts := _parts(selected, "signed"):
        make_s = bench_signed.SignedConfig.quick if args.quick else bench_signed.SignedConfig
        signed = make_s(tmp_root=args.dir, parts=parts)
        runs["signed"] = (bench_signed.run(signed), bench_signed.markdown)

    when = datetime.now(UTC).isoformat(timespec="seconds")
    results: dict[str, dict[str, Any]] = {}
    print()
    print(f"Machine: {machine['cpus']} cores, {machine['python']}. Command: `{command}`\n")
    for group, (data, markdown) in runs.items():
        results[group] = {"command": command, "when": when, "machine": machine, **data}
        print(markdown(data) + "\n")
    if args.json is not None:
        combined = next(iter(results.values())) if len(results) == 1 else results
        save_json(args.json, combined)
    elif not args.quick:
        for group, data in results.items():
            if _complete(selected, group):
                save_json(RESULTS_DIR / f"{group}.json", data)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
