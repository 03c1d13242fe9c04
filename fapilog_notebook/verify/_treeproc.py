"""Run the tree check in a child interpreter, beside the chain check.

Recomputing a trail's Merkle tree costs about as much CPU as checking its
chain (two SHA-256 per event, and CPython's hashlib holds the GIL for inputs
this small, so a thread would not help). With a second CPU the two run at
once: a child interpreter runs :func:`._tree.check_trail`
(the same code, nothing re-implemented) while the caller checks the chain,
and the caller collects its result at the end.

- The child is a fresh interpreter (``python -c``) importing the very modules
  the caller runs (same import path), never ``fork`` nor ``multiprocessing``
  (which would re-run an unguarded ``__main__`` script). It is sent the
  directory, the public key and the recorded checkpoints: nothing secret.
- The trail is checked in the caller instead when it is small (under
  `CONCURRENT_BYTES`: a child's start-up would cost more than it saves), when
  only one CPU is usable, in a frozen application, or when the child cannot be
  started or does not answer; so the result never depends on where it ran.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .. import storage
from ..checkpoints import VerifierKey
from ._tree import TreeCheck, TreeFinding, check_trail

__all__ = ["CONCURRENT_BYTES", "TreeJob", "start_tree_check"]

#: Audit files smaller than this in total are tree-checked in the caller: a
#: child interpreter takes about 0.2 s to start, which the chain check of a
#: smaller trail does not hide.
CONCURRENT_BYTES = 32 * 1024 * 1024


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux: the machine's count
        return os.cpu_count() or 1


def _trail_bytes(directory: Path) -> int:
    total = 0
    for _day, path in storage.list_audit_files(directory):
        try:
            total += os.stat(path, follow_symlinks=False).st_size
        except OSError:
            continue  # the check itself reports an unreadable file
    return total


def _encode_recorded(recorded: Sequence[str | Path]) -> list[list[str]]:
    return [["path" if isinstance(value, Path) else "str", str(value)] for value in recorded]


def _decode_recorded(values: Iterable[Sequence[str]]) -> list[str | Path]:
    return [Path(text) if kind == "path" else text for kind, text in values]


class TreeJob:
    """The tree check of one trail: running in a child, or to run in the caller."""

    def __init__(
        self,
        directory: Path,
        public_key: VerifierKey | None,
        recorded: Sequence[str | Path],
        child: subprocess.Popen[bytes] | None,
    ) -> None:
        self.directory = directory
        self.public_key = public_key
        self.recorded = tuple(recorded)
        self.child = child

    @property
    def concurrent(self) -> bool:
        """Whether the check runs in a child interpreter."""
        return self.child is not None

    def result(self) -> TreeCheck:
        """The check's outcome (from the child if it answered, else computed here)."""
        child, self.child = self.child, None
        if child is not None:
            try:
                out, _err = child.communicate()
            except BaseException:
                _stop(child)
                raise
            answer = _parse_answer(out) if child.returncode == 0 else None
            if answer is not None:
                return answer
        return check_trail(self.directory, self.public_key, self.recorded)

    def cancel(self) -> None:
        """Stop the child, if any (the caller gave up)."""
        child, self.child = self.child, None
        if child is not None:
            _stop(child)


def _stop(child: subprocess.Popen[bytes]) -> None:
    child.kill()
    child.wait()
    for stream in (child.stdout, child.stderr, child.stdin):
        if stream is not None:
            stream.close()


def _parse_answer(out: bytes) -> TreeCheck | None:
    try:
        data = json.loads(out)
        findings = [TreeFinding(*row) for row in data["findings"]]
        return TreeCheck(
            findings, data["leaves"], data["checkpoints_checked"], data["signatures_checked"]
        )
    except (ValueError, TypeError, KeyError):
        return None


def start_tree_check(
    directory: Path, public_key: VerifierKey | None, recorded: Sequence[str | Path]
) -> TreeJob:
    """Start checking the tree of ``directory`` beside the caller when that pays (module doc)."""
    if (
        _usable_cpus() < 2
        or getattr(sys, "frozen", False)
        or not sys.executable
        or _trail_bytes(directory) < CONCURRENT_BYTES
    ):
        return TreeJob(directory, public_key, recorded, None)
    request = json.dumps(
        {
            "sys_path": sys.path,
            "package": str(Path(__file__).resolve().parent.parent),
            "directory": str(directory),
            "public_key": None if public_key is None else public_key.encode(),
            "recorded": _encode_recorded(recorded),
        }
    ).encode()
    try:
        child = subprocess.Popen(
            [sys.executable, "-c", _BOOT],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
    except OSError:
        return TreeJob(directory, public_key, recorded, None)
    assert child.stdin is not None
    try:
        child.stdin.write(request)
        child.stdin.close()
        child.stdin = None  # sent: `communicate` has nothing more to write
    except OSError:
        _stop(child)
        return TreeJob(directory, public_key, recorded, None)
    return TreeJob(directory, public_key, recorded, child)


# The child's first statements: the caller's import path, and the package
# and its ``verify`` package as bare namespaces holding their modules, so
# that importing this module does not run their ``__init__`` (which import
# the whole library: about 0.3 s that the tree check does not need).
_BOOT = """
import json, os, sys, types
request = json.loads(sys.stdin.buffer.read())
sys.path[:] = request["sys_path"]
for name, path in (("fapilog_notebook", ""), ("fapilog_notebook.verify", "verify")):
    package = types.ModuleType(name)
    package.__path__ = [os.path.join(request["package"], path) if path else request["package"]]
    sys.modules[name] = package
from fapilog_notebook.verify._treeproc import _main
sys.exit(_main(request))
"""


def _main(request: dict[str, Any]) -> int:
    """The child: check the trail the request names, write the outcome on stdout."""
    key = request["public_key"]
    check = check_trail(
        Path(request["directory"]),
        None if key is None else VerifierKey.parse(key),
        _decode_recorded(request["recorded"]),
    )
    sys.stdout.write(
        json.dumps(
            {
                "findings": [
                    [f.kind, f.file, f.line, f.sequence_number, f.message] for f in check.findings
                ],
                "leaves": check.leaves,
                "checkpoints_checked": check.checkpoints_checked,
                "signatures_checked": check.signatures_checked,
            }
        )
    )
    return 0
