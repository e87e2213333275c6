"""Worker threads for large kernel sums and feature maps, and a BLAS one-thread switch.

Work is shared among the available cores by a small pool that takes chunks from a shared
queue (``np.dot``, ``exp``, ``cos`` release the GIL); BLAS is pinned to one thread inside the
parallel section so that the two levels of threading do not compete, and results are
returned in task order, so sums over them do not depend on scheduling.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

__all__ = ["ThreadPool", "THREADS", "available_cpus", "CHUNKS_PER_WORKER"]

#: Work is cut into this many chunks per thread, taken from a shared queue, so that a core
#: busy with another process does not hold the others up.
CHUNKS_PER_WORKER = 4


def available_cpus() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class ThreadPool:
    """A lazily started worker pool and a BLAS one-thread switch, shared by all discriminators."""

    def __init__(self):
        self.blas = None  # threadpoolctl selection of the BLAS libraries, or False
        self._reset()
        if hasattr(os, "register_at_fork"):  # a forked child has none of the parent's threads
            os.register_at_fork(after_in_child=self._reset)

    def _reset(self):
        self.lock = threading.Lock()
        self.pool = None
        self.pool_size = 0
        self.local = threading.local()

    def workers(self) -> int:
        """Threads to split a large kernel sum over (1 when BLAS threads cannot be pinned)."""
        cpus = available_cpus()
        if cpus < 2:
            return 1
        if self.blas is None:
            with self.lock:
                if self.blas is None:
                    try:
                        from threadpoolctl import ThreadpoolController
                        self.blas = ThreadpoolController().select(user_api="blas")
                    except Exception:  # threadpoolctl missing or broken: no own threads
                        self.blas = False
        return cpus if self.blas is not False else 1

    def executor(self, workers: int) -> ThreadPoolExecutor:
        if self.pool_size < workers - 1:
            with self.lock:
                if self.pool_size < workers - 1:
                    if self.pool is not None:
                        self.pool.shutdown(wait=False)
                    self.pool = ThreadPoolExecutor(max_workers=workers - 1,
                                                   thread_name_prefix="kernelgda")
                    self.pool_size = workers - 1
        return self.pool

    def map_rows(self, fn, rows: int, parallel: bool = True) -> list:
        """``[fn(a, b), ...]`` over contiguous row ranges covering ``range(rows)``, in order.

        With ``parallel`` (and several cores) the ranges run on the worker threads
        with BLAS pinned to one thread, as in :func:`kernel_grad_sum`.
        """
        workers = min(self.workers(), rows) if parallel else 1
        if workers < 2:
            return [fn(0, rows)]
        edges = np.linspace(0, rows, min(rows, CHUNKS_PER_WORKER * workers) + 1).astype(int)
        return self.run([(fn, a, b) for a, b in zip(edges[:-1], edges[1:], strict=True)], workers)

    def run(self, tasks, workers: int) -> list:
        """Results of ``fn(*args)`` for every ``(fn, *args)`` of ``tasks``, in order.

        The calling thread and ``workers - 1`` pool threads take tasks from a shared
        counter (so a core slowed down by another process takes fewer of them), with
        BLAS pinned to one thread meanwhile.
        """
        results = [None] * len(tasks)
        ticket = itertools.count()  # next() on a count is atomic under the GIL

        def drain():
            for i in iter(ticket.__next__, None):
                if i >= len(tasks):
                    return
                fn, *args = tasks[i]
                results[i] = fn(*args)

        pool = self.executor(workers)
        with self.blas.limit(limits=1) if self.blas else contextlib.nullcontext():
            futures = [pool.submit(drain) for _ in range(min(workers, len(tasks)) - 1)]
            drain()
            for fut in futures:
                fut.result()
        return results

    def one_blas_thread(self):
        """A context in which BLAS runs on one thread (a no-op where it cannot be pinned).

        For the thin matrix products of a generic kernel sum (``(n, d) x (d, M)`` with a few
        ``n``): BLAS threads cost more than they save there, and far more when the cores
        are shared with other processes (measured 5.8 ms against 0.17 ms single-threaded
        for ``10 x 64 x 2560`` with two busy cores).
        """
        self.workers()  # make sure the BLAS selection is known
        return self.blas.limit(limits=1) if self.blas else contextlib.nullcontext()

    def scratch(self, size: int) -> np.ndarray:
        """A per-thread float64 work array of at least ``size`` entries."""
        buf = getattr(self.local, "buf", None)
        if buf is None or buf.size < size:
            buf = self.local.buf = np.empty(size)
        return buf


#: The one pool of worker threads used by the kernel sums and the random features.
THREADS = ThreadPool()
