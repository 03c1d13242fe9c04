"""Where parallel work runs: serially, in a local process pool, or on a Dask cluster.

One small interface the features (verifying, loading) use to run a list of
independent tasks and consume their results in order, with a bounded window
so memory stays bounded however many tasks there are:

- `check_engine` reads the ``workers=``/``engine=``/``client=`` arguments
  (``None`` means serial, in the caller);
- `ordered` runs ``fn(*task)`` for each task on that engine and yields the
  results in task order;
- `pool_context` is the start method of every local pool: ``forkserver``
  (``spawn`` where there is none), never ``fork``, because the callers are
  asyncio apps and notebooks with threads. A script must guard its entry
  point with ``if __name__ == "__main__":``.

Dask is optional (``pip install 'fapilog-notebook[dask]'``); its workers need
this package installed too.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, TypeVar

if TYPE_CHECKING:
    from concurrent.futures import Executor

__all__ = [
    "Engine",
    "Workers",
    "check_engine",
    "dask_client",
    "is_executor",
    "ordered",
    "pool_context",
]

#: ``None`` (serial), ``"processes"`` (a local pool) or ``"dask"``.
Engine: TypeAlias = Literal["processes", "dask"] | None
#: A number of local worker processes, or an executor the caller manages.
Workers: TypeAlias = "int | Executor | None"

T = TypeVar("T")


def check_engine(workers: Workers, engine: Engine, client: Any) -> Engine:
    """Which engine the arguments ask for; ``None`` for serial."""
    if engine not in (None, "processes", "dask"):
        raise ValueError(f"engine must be None, 'processes' or 'dask', not {engine!r}")
    if engine == "dask":
        if workers is not None:
            raise ValueError(
                "workers= sizes the local process pool; with engine='dask' the cluster's "
                "workers are used (size the cluster instead)"
            )
        return engine
    if client is not None:
        raise ValueError("client= is for engine='dask'")
    if workers is None:
        return "processes" if engine == "processes" else None
    if isinstance(workers, bool) or not isinstance(workers, int):
        if is_executor(workers):
            return "processes"
        raise TypeError(f"workers must be a number of processes or an Executor, not {workers!r}")
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    return "processes"


def is_executor(value: object) -> bool:
    from concurrent.futures import Executor

    return isinstance(value, Executor)


def dask_client(client: Any = None) -> Any:
    """``client``, or the current default ``dask.distributed`` client; clear errors."""
    try:
        import distributed
    except ImportError:
        raise ImportError(
            "engine='dask' needs dask.distributed: pip install 'fapilog-notebook[dask]'"
        ) from None
    if client is not None:
        if not isinstance(client, distributed.Client):
            raise TypeError(f"client must be a dask.distributed.Client, not {client!r}")
        return client
    try:
        return distributed.get_client()
    except ValueError:
        raise ValueError(
            "engine='dask' needs a running dask.distributed Client: pass client=..., or "
            "create one first (for example Client(LocalCluster(n_workers=2)))"
        ) from None


def pool_context(preload: str = "fapilog_notebook") -> Any:
    """The start method of a local pool whose workers start with ``preload`` imported."""
    import multiprocessing

    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    from multiprocessing import forkserver

    context = multiprocessing.get_context("forkserver")
    # The fork server imports ``preload`` (the module of the task function)
    # once; every worker forked from it starts with it imported (otherwise
    # each pays the import, ~0.3 s). The modules preloaded so far (by default
    # ``__main__``) stay preloaded.
    modules = list(getattr(forkserver._forkserver, "_preload_modules", ["__main__"]))
    if preload not in modules:
        context.set_forkserver_preload([*modules, preload])
    return context


def ordered(
    fn: Callable[..., T],
    tasks: Sequence[tuple[Any, ...]],
    *,
    workers: Workers,
    engine: Engine,
    client: Any,
    window: int | None = None,
) -> Iterator[T]:
    """Run ``fn(*task)`` for each task on the engine; yield the results in task order.

    At most ``window`` tasks are in flight or waiting to be consumed, so
    memory stays bounded when the consumer is slower than the workers.
    """
    if not tasks:
        return
    if engine == "dask":
        dask = dask_client(client)
        slots = window or 2 * max(1, sum(dask.nthreads().values())) + 1
        yield from _windowed(
            lambda task: dask.submit(fn, *task, pure=False), tasks, slots, lambda f: f.release()
        )
        return
    if workers is not None and not isinstance(workers, int):
        executor = workers
        slots = window or 2 * max(1, getattr(executor, "_max_workers", 2)) + 1
        yield from _windowed(lambda task: executor.submit(fn, *task), tasks, slots, None)
        return
    from concurrent.futures import ProcessPoolExecutor

    count = min(workers or os.cpu_count() or 1, len(tasks))
    pool = ProcessPoolExecutor(max_workers=count, mp_context=pool_context(fn.__module__))
    try:
        yield from _windowed(
            lambda task: pool.submit(fn, *task), tasks, window or 2 * count + 1, None
        )
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _windowed(
    submit: Callable[[tuple[Any, ...]], Any],
    tasks: Sequence[tuple[Any, ...]],
    window: int,
    release: Callable[[Any], None] | None,
) -> Iterator[Any]:
    pending: deque[Any] = deque()
    queue = iter(tasks)
    try:
        for task in queue:
            pending.append(submit(task))
            if len(pending) >= window:
                break
        while pending:
            future = pending.popleft()
            result = future.result()
            if release is not None:
                release(future)
            del future
            for task in queue:
                pending.append(submit(task))
                break
            yield result
    finally:
        for future in pending:
            future.cancel()
