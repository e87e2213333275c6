"""Running independent tasks of a sweep as Dask tasks: embedded, or on a ``dask.distributed`` cluster.

One execution path: :func:`map_tasks` runs ``fn(shared, item)`` for every item as one Dask
task each, the shared object (a :class:`~kernelgda.phase.sweep.Sweep`) being one more key
of the graph that the tasks depend on, and hands each result to ``on_result`` on the
calling thread as soon as its task finishes (the caller stores it, then drops it).

- ``client=None``: Dask's local threaded scheduler (``dask.threaded.get``) with
  ``workers`` threads, in this process; nothing to start. NumPy releases the GIL in the
  array work that takes the time, so threads use several cores. The graph is submitted in
  waves of :data:`WAVE_PER_WORKER` tasks per thread, so the results held at once stay
  bounded on a sweep of millions of cells.
- ``client`` a ``dask.distributed.Client``: the tasks are submitted to its cluster, at most
  :data:`INFLIGHT_PER_THREAD` per worker thread at a time, and collected as they complete.
  A worker that dies takes its running tasks with it; the scheduler reruns them elsewhere
  (they are pure: same inputs, same result), so the sweep goes on undisturbed.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Iterable

from .. import _validate as V

__all__ = ["ClusterError", "map_tasks", "default_workers", "connect", "check_runner", "parse_address",
           "WAVE_PER_WORKER", "INFLIGHT_PER_THREAD"]

#: Embedded runs: tasks per thread in one wave of the local scheduler.
WAVE_PER_WORKER = 16
#: Cluster runs: tasks in flight per worker thread (enough to keep every thread busy while
#: results travel back).
INFLIGHT_PER_THREAD = 4


def default_workers() -> int:
    """Threads of an embedded run: 2, or 1 on a one-core machine."""
    return min(2, os.cpu_count() or 1)


def check_runner(client, workers) -> None:
    """Refuse, in one line, a ``client`` that is not a ``dask.distributed.Client`` (an address
    string is a slip: :func:`connect` turns one into a client) and ``workers < 1``."""
    if workers is not None:
        V.integer(workers, "workers", minimum=1)
    if client is not None and not all(callable(getattr(client, a, None)) for a in ("submit", "nthreads")):
        hint = " (connect to an address with kernelgda.phase.run.connect)" if isinstance(client, str) else ""
        raise ValueError(f"client must be a dask.distributed.Client or None, got "
                         f"{type(client).__name__} {client!r:.60}{hint}")


def map_tasks(fn: Callable, shared, items: Iterable, on_result: Callable, *, client=None,
              workers: int | None = None, name: str = "phase") -> None:
    """Run ``fn(shared, item)`` for each item as a Dask task; ``on_result(item, result)`` on
    the calling thread as each one finishes (in completion order)."""
    items = list(items)
    if not items:
        return
    if client is None:
        _embedded(fn, shared, items, on_result, workers or default_workers(), name)
    else:
        _cluster(fn, shared, items, on_result, client, name)


def _embedded(fn, shared, items, on_result, workers, name):
    import dask.threaded
    from dask.callbacks import Callback

    shared_key = f"{name}-shared"
    wave = WAVE_PER_WORKER * workers
    for start in range(0, len(items), wave):
        part = items[start:start + wave]
        keys = [(name, j) for j in range(len(part))]

        def posttask(key, result, dsk, state, worker_id, part=part):
            if isinstance(key, tuple) and len(key) == 2 and key[0] == name:
                on_result(part[key[1]], result)
                state["cache"][key] = None  # stored by on_result: keep no second copy

        dsk = {shared_key: shared}
        dsk.update({key: (fn, shared_key, item) for key, item in zip(keys, part, strict=True)})
        dask.threaded.get(dsk, keys, num_workers=workers, callbacks=[Callback(posttask=posttask)._callback])


def _identity(x):
    return x


class ClusterError(RuntimeError):
    """A sweep block failed on the cluster itself (its workers kept dying), not in its inputs."""


def _cluster(fn, shared, items, on_result, client, name):
    from distributed import KilledWorker, as_completed

    token = uuid.uuid4().hex[:12]
    shared_future = client.submit(_identity, shared, key=f"{name}-shared-{token}", pure=False)
    threads = max(1, sum(client.nthreads().values()))
    pending = iter(enumerate(items))
    futures = {}

    def submit():
        nxt = next(pending, None)
        if nxt is not None:
            j, item = nxt
            fut = client.submit(fn, shared_future, item, key=f"{name}-{token}-{j}", pure=False)
            futures[fut.key] = (fut, item)
            done.add(fut)

    done = as_completed()
    try:
        for _ in range(INFLIGHT_PER_THREAD * threads):
            submit()
        for fut in done:
            _, item = futures.pop(fut.key)
            try:
                result = fut.result()
            except KilledWorker as exc:  # distributed gave up on the block after repeated worker deaths
                raise ClusterError(f"a block was lost with every worker that ran it ({exc}); the "
                                   "store keeps the finished blocks: rerun the same command with "
                                   "--resume once the cluster is healthy") from None
            fut.release()
            on_result(item, result)
            submit()
    finally:
        if futures:
            client.cancel([f for f, _ in futures.values()])
        shared_future.release()


#: Protocols of a scheduler address (the others dask knows need extra set-up or run in-process).
PROTOCOLS = ("tcp", "tls")


def parse_address(address) -> tuple[str, int | str]:
    """Check a ``--scheduler`` address without connecting: ``("local", N)`` for ``local:N``
    (``1 <= N <= 4 x`` the CPUs, ASCII digits), ``("remote", address)`` for
    ``tcp://HOST:PORT`` or ``tls://HOST:PORT``; a one-line ``ValueError`` otherwise.

    >>> parse_address("local:2"), parse_address("tcp://10.0.0.1:8786")
    (('local', 2), ('remote', 'tcp://10.0.0.1:8786'))
    """
    expected = "expected tcp://HOST:PORT, tls://HOST:PORT or local:N"
    if not isinstance(address, str) or not address.strip():
        raise ValueError(f"--scheduler must name a scheduler ({expected}), got {address!r}")
    if address.startswith("local:"):
        count = address.partition(":")[2]
        if not re.fullmatch(r"[0-9]{1,6}", count) or int(count) < 1:
            raise ValueError(f"--scheduler {address!r}: expected local:N with N >= 1 worker processes")
        most = 4 * (os.cpu_count() or 1)
        if int(count) > most:
            raise ValueError(f"--scheduler {address!r}: at most {most} local worker processes on this "
                             f"machine ({os.cpu_count()} CPUs); use a cluster for more")
        return "local", int(count)
    match = re.fullmatch(r"([a-z]+)://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-]+):([0-9]{1,5})", address)
    if match is None or match.group(1) not in PROTOCOLS or not 1 <= int(match.group(3)) <= 65535:
        raise ValueError(f"--scheduler {address!r}: {expected}")
    return "remote", address


def connect(address: str, *, timeout: float = 3.0):
    """A ``dask.distributed.Client`` for ``address``: ``tcp://host:port`` (a running
    scheduler) or ``local:N`` (a new ``LocalCluster`` of N single-threaded worker
    processes, closed with the client). Returns ``(client, close)``; raises ``ValueError``
    (one line) for a bad address, an unreachable scheduler, or without the ``cluster``
    extra."""
    kind, value = parse_address(address)
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ValueError("--scheduler needs dask.distributed: pip install 'kernelgda[cluster]'") from None
    if kind == "local":
        cluster = LocalCluster(n_workers=value, threads_per_worker=1, processes=True,
                               dashboard_address=":0")
        client = Client(cluster)

        def close():
            client.close()
            cluster.close()

        return client, close
    try:
        client = Client(value, timeout=timeout)
    except (OSError, TimeoutError) as exc:
        raise ValueError(f"--scheduler {address!r}: no scheduler reachable within {timeout:g} s "
                         f"({type(exc).__name__})") from None
    return client, client.close
