"""Run the tree check's pass over the lines in a child interpreter, beside the chain check.

Recomputing a trail's Merkle tree costs about as much CPU as checking its
chain (two SHA-256 per event, and CPython's hashlib holds the GIL for inputs
this small, so a thread would not help). With a second CPU the two run at
once: the caller gathers the checkpoints and checks their signatures
(:func:`._tree.plan_check`), a child interpreter makes the one pass over the
lines (:func:`._treescan.scan_tree`, the same code, nothing re-implemented)
while the caller checks the chain, and the caller judges the outcome at the
end (:func:`._tree.judge`).

- The child is a fresh interpreter (``python -I -S -c``), never ``fork`` nor
  ``multiprocessing`` (which would re-run an unguarded ``__main__`` script).
  It imports only the package's modules that the pass needs (the standard
  library, :mod:`.treeformat`, :mod:`.merkle`, :mod:`.linereader`), not the
  package itself, so it starts in a few tens of milliseconds; isolated mode
  keeps the current directory and the environment out of its imports. It
  is started first and sent its work once the checkpoints are gathered, so
  its start-up overlaps theirs. It is sent paths and tree sizes: nothing
  secret.
- The pass is made in the caller instead when the trail is small (under
  `CONCURRENT_BYTES`: a child's start-up would cost more than it saves), when
  only one CPU is usable, in a frozen application, or when the child cannot be
  started or does not answer; so the result never depends on where it ran.
"""

from __future__ import annotations

import marshal
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from ..checkpoints import VerifierKey
from ..treelog import audit_paths
from ._tree import TreeCheck, TreePlan, judge, plan_check
from ._treescan import TreeScan, scan_tree

__all__ = ["CONCURRENT_BYTES", "TreeJob", "start_tree_check"]

#: Audit files smaller than this in total are tree-checked in the caller: a
#: child interpreter starts in about 25 ms, which the chain check of a smaller
#: trail does not hide (measured: from about 8 MiB, some 10,000 events, the
#: child is ahead).
CONCURRENT_BYTES = 8 * 1024 * 1024


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux: the machine's count
        return os.cpu_count() or 1


def _trail_bytes(directory: Path) -> int:
    total = 0
    for path in audit_paths(directory):
        try:
            total += os.stat(path, follow_symlinks=False).st_size
        except OSError:
            continue  # the check itself reports an unreadable file
    return total


class TreeJob:
    """The tree check of one trail: its pass running in a child, or to make in the caller."""

    def __init__(self, plan: TreePlan, child: subprocess.Popen[bytes] | None) -> None:
        self.plan = plan
        self.child = child

    @property
    def concurrent(self) -> bool:
        """Whether the pass over the lines runs in a child interpreter."""
        return self.child is not None

    def result(self) -> TreeCheck:
        """The check's outcome (the pass from the child if it answered, else made here)."""
        child, self.child = self.child, None
        scan: TreeScan | None = None
        if child is not None:
            try:
                out, _err = child.communicate()
            except BaseException:
                _stop(child)
                raise
            if child.returncode == 0:
                try:
                    scan = TreeScan.loads(out)
                except ValueError:
                    scan = None  # a garbled answer: the pass is made here
        if scan is None:
            scan = scan_tree(self.plan.files, self.plan.sizes, self.plan.tree_file)
        return judge(self.plan, scan)

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


def _spawn() -> subprocess.Popen[bytes] | None:
    """Start a child interpreter that waits for its work on stdin (None: it cannot start)."""
    package = str(Path(__file__).resolve().parent.parent)
    try:
        return subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _BOOT, package],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
    except OSError:
        return None


def _send(child: subprocess.Popen[bytes], plan: TreePlan) -> bool:
    """Send the child its work (False: it could not take it)."""
    request = marshal.dumps(([str(path) for path in plan.files], plan.sizes, str(plan.tree_file)))
    assert child.stdin is not None
    try:
        child.stdin.write(request)
        child.stdin.close()
    except OSError:
        return False
    child.stdin = None  # sent: `communicate` has nothing more to write
    return True


def start_tree_check(
    directory: Path, public_key: VerifierKey | None, recorded: Sequence[str | Path]
) -> TreeJob:
    """Start checking the tree of ``directory``: its pass beside the caller when that pays.

    :raises FileNotFoundError: a recorded checkpoint file does not exist.
    :raises ValueError: a recorded checkpoint file is not UTF-8 text.
    """
    child = None
    if (
        _usable_cpus() >= 2
        and not getattr(sys, "frozen", False)
        and sys.executable
        and _trail_bytes(directory) >= CONCURRENT_BYTES
    ):
        child = _spawn()
    try:
        plan = plan_check(directory, public_key, recorded)
    except BaseException:
        if child is not None:
            _stop(child)
        raise
    if child is not None and not _send(child, plan):
        _stop(child)
        child = None
    return TreeJob(plan, child)


# The child's first statements: the package, and its ``verify`` package, as
# bare namespaces holding their modules, so that importing the pass does not
# run their ``__init__`` (which import the whole library, pydantic and
# cryptography included: time the pass does not need).
_BOOT = """
import os, sys, types
root = sys.argv[1]
for name, path in (("", root), (".verify", os.path.join(root, "verify"))):
    package = types.ModuleType("fapilog_notebook" + name)
    package.__path__ = [path]
    sys.modules[package.__name__] = package
from fapilog_notebook.verify._treescan import child_main
sys.exit(child_main())
"""
