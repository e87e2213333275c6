"""The exact kernel-expansion discriminator (theory section 2).

Unrolling the discriminator step (D) shows that ``f^k`` is a finite kernel
expansion over the true points and every past generated configuration:

    f^k = c_k K(., X) p + sum_s  K(., Y^s) w_s

with scalar ``c_k`` and per-slice coefficient vectors ``w_s`` (shape ``(n,)``),
all multiplied by ``1 - eta_d lam`` at every step.

Fast evaluation
---------------
The gradient of an expansion ``sum_c w_c K(., z_c)`` at the rows of ``Y`` is two
matrix products (theory section 2). For a radial kernel ``K = phi(|u - v|^2)``

    grad f(y) = 2 ( (G w) y - G (w z) ),         G = phi'(|y - z|^2)

so :class:`Expansion` keeps, for every centre, an *augmented row*
``[z, |z|^2-term, 1]`` (the squared norms are computed once, when the centre
enters the history) and a *coefficient column* ``[w, w z]``. One step then
costs, for each cache-sized block of centres, one matrix product that yields
the exponents (or squared distances) directly, one in-place elementwise map
(``exp`` for the Gaussian kernel) and one product with the coefficient columns
(``d + 1`` matrix-vector products when ``d <= 3``, where they are faster); no
``(n, M, d)`` array is formed. Blocks are shared among the available cores by a
small thread pool that takes chunks from a shared queue (``np.dot`` and ``exp``
release the GIL; BLAS is pinned to one thread inside the parallel section so
the two levels of threading do not compete), and partial sums are added in a
fixed order, so results do not depend on scheduling. The decay
``1 - eta_d lam`` is applied to a single scale factor, not to every stored
coefficient. Coordinates are measured from the mean of the true points so that
the matrix-product form of ``|y - z|^2`` keeps its accuracy: each kernel value
is correct to about ``1e-16 (|y|^2 + |z|^2) / sigma^2`` relative; beyond
``FAR_LIMIT`` (points 1000 ``sigma`` away) and for kernels that are not
differentiable at coincident points (the Laplacian), explicit differences are
used block by block instead. All arithmetic is float64.

Truncation
----------
With ``history_tol = eps`` the oldest slices are dropped while the total
absolute coefficient mass dropped so far (decayed like everything else),
``D_k``, stays at most ``eps`` times the total absolute coefficient mass of the
whole expansion, ``|c_k| sum p + sum_s |w_s|_1 + D_k``. Since every kernel
section has gradient at most ``G = kernel.grad_bound``, the discriminator
gradient used by the truncated run differs from the exact one *at every point*
by at most ``G D_k`` (reported as ``bound``), and ``G`` times the total mass is a
bound on any gradient of ``f``. The mass of slices older than ``W`` steps is at
most ``(1 - eta_d lam)^W / lam`` times the generated weight, so the number of
slices kept is about ``log(eps lam) / log(1 - eta_d lam)``: a run becomes linear
in ``T`` when ``eta_d lam`` is not tiny, and the history buffer stays bounded by
about twice that window. With ``lam = 0`` nothing ever decays and nothing is
dropped.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .kernels import Gaussian, Kernel

__all__ = ["Expansion", "MultiExpansion", "kernel_grad_sum", "augment_centres", "coef_columns"]

#: Entries of one block of the pair matrix (``rows x block`` float64 values, 1 MiB: a core's
#: L2 cache here). Measured on idle cores (2-core EPYC, d = 2): 0.75 ns/pair against 0.81 for
#: 65536 and 1.11 for 32768 entries; for d = 64 larger blocks gain ~4%.
BLOCK_ENTRIES = 131072
#: Pair evaluations in one call below which a single thread does all the work: handing
#: blocks to another thread costs tens of microseconds.
PARALLEL_MIN_PAIRS = 150_000
#: Work is cut into this many chunks per thread, taken from a shared queue, so that a core
#: busy with another process does not hold the others up.
CHUNKS_PER_WORKER = 4
#: Largest coefficient width ``d + 1`` done as matrix-vector products (measured: for d <= 3
#: they beat OpenBLAS's matrix product with 3-4 columns by about 20%).
GEMV_MAX_WIDTH = 4
#: Above this ``(|y|^2 + |z|^2) / sigma^2`` (coordinates from the true points' mean) kernel sums
#: use explicit differences: the matrix-product form loses about 1e-16 of it per kernel value.
FAR_LIMIT = 1e6
#: Below this ``|scale|`` the stored history coefficients are renormalised (avoids underflow).
_RESCALE_BELOW = 1e-150

_GAUSS, _PROFILE, _DIRECT = "gaussian", "profile", "direct"


# -- threads -------------------------------------------------------------------------------

def _available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class _Threads:
    """A lazily started worker pool and a BLAS one-thread switch, shared by all expansions."""

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
        cpus = _available_cpus()
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

    def scratch(self, size: int) -> np.ndarray:
        """A per-thread float64 work array of at least ``size`` entries."""
        buf = getattr(self.local, "buf", None)
        if buf is None or buf.size < size:
            buf = self.local.buf = np.empty(size)
        return buf


_THREADS = _Threads()


# -- augmented rows and the blocked kernel sum -----------------------------------------------

def _kind(kernel: Kernel) -> str:
    if isinstance(kernel, Gaussian):
        return _GAUSS
    return _PROFILE if kernel.smooth else _DIRECT


def augment_centres(kernel: Kernel, z: np.ndarray) -> np.ndarray:
    """Rows ``[z, -|z|^2 / (2 sigma^2), 1]`` (Gaussian) or ``[z, |z|^2, 1]`` (other kernels)."""
    sq = np.einsum("ij,ij->i", z, z)
    out = np.empty((z.shape[0], z.shape[1] + 2))
    out[:, :-2] = z
    out[:, -2] = sq * (-0.5 / kernel.sigma**2) if _kind(kernel) == _GAUSS else sq
    out[:, -1] = 1.0
    return out


def _augment_points(kind: str, kernel: Kernel, y: np.ndarray) -> np.ndarray:
    # Rows whose product with augmented centres is the exponent -|y - z|^2 / (2 sigma^2)
    # (Gaussian) or the squared distance |y - z|^2 (other kernels).
    sq = np.einsum("ij,ij->i", y, y)
    out = np.empty((y.shape[0], y.shape[1] + 2))
    if kind == _GAUSS:
        out[:, :-2] = y * (1.0 / kernel.sigma**2)
        out[:, -1] = sq * (-0.5 / kernel.sigma**2)
    else:
        out[:, :-2] = -2.0 * y
        out[:, -1] = sq
    out[:, -2] = 1.0
    return out


def coef_columns(z: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Coefficient columns ``[w, w z]^T``, shape ``(d + 1, M)``, for :func:`kernel_grad_sum`."""
    out = np.empty((z.shape[1] + 1, z.shape[0]))
    out[0] = w
    np.multiply(z.T, w, out=out[1:])
    return out


def _reach(kind, kernel, y, segments) -> float:
    """``max (|y|^2 + |z|^2) / sigma^2`` over the points and centres (norms from the augmented rows)."""
    d = y.shape[1]
    zmax = max(float(z[:, d].min() * -2.0 if kind == _GAUSS else z[:, d].max()) for z, _, _ in segments)
    if kind != _GAUSS:
        zmax /= kernel.sigma**2
    return float(np.einsum("ij,ij->i", y, y).max()) / kernel.sigma**2 + zmax


def _run_blocks(kind, kernel, yaug, blocks, shape):
    """Per-segment sums ``map(yaug z^T) coef^T`` over one thread's blocks, shape ``(segs, width, rows)``."""
    rows = yaug.shape[0]
    width = shape[1]
    acc = np.zeros(shape)
    tmp = np.empty((rows, width))
    vec = tmp[:, 0].copy()
    flat = _THREADS.scratch(rows * max(z.shape[0] for _, z, _ in blocks))
    for seg, z, coef in blocks:
        s = flat[:rows * z.shape[0]].reshape(rows, z.shape[0])
        np.dot(yaug, z.T, out=s)  # np.dot releases the GIL around BLAS; a 2-d np.matmul does not
        if kind == _GAUSS:
            np.exp(s, out=s)
        else:
            np.maximum(s, 0.0, out=s)
            s[...] = kernel.dprofile(s)
        if width <= GEMV_MAX_WIDTH:  # a few matrix-vector products beat a thin matrix product
            for j in range(width):
                np.dot(s, coef[j], out=vec)
                acc[seg, j] += vec
        else:
            np.dot(s, coef.T, out=tmp)
            acc[seg] += tmp.T
    return acc


def _split(blocks, parts):
    """Cut ``blocks`` into ``parts`` contiguous groups of about equal column counts."""
    sizes = np.cumsum([z.shape[0] for _, z, _ in blocks])
    cuts = np.searchsorted(sizes, sizes[-1] * np.arange(1, parts) / parts, side="right")
    edges = [0, *sorted(set(int(c) for c in cuts if 0 < c < len(blocks))), len(blocks)]
    return [blocks[a:b] for a, b in zip(edges[:-1], edges[1:], strict=True)]


def kernel_grad_sum(kernel: Kernel, y: np.ndarray, segments, *, num_threads: int | None = None
                    ) -> np.ndarray:
    """Gradient of ``sum_seg mult_seg sum_c w_c K(., z_c)`` at the rows of ``y``.

    Parameters
    ----------
    kernel : Kernel
    y : (n, d) array
        Evaluation points (in the same coordinates as the centres).
    segments : list of (zaug, coef, mult)
        ``zaug (M, d + 2)`` from :func:`augment_centres`, ``coef (d + 1, M)`` from
        :func:`coef_columns` (``[w, w z]^T``), scalar ``mult``.
    num_threads : int, optional
        Threads to use; default all available cores for large sums.

    Returns
    -------
    (n, d) array

    Notes
    -----
    ``grad f(y) = 2 ( (G w) y - G (w z) )`` with ``G = phi'(|y - z|^2)``
    (theory section 2); for the Gaussian kernel ``2 phi' = -exp(.) / sigma^2``
    and the exponent comes out of the first matrix product directly.
    """
    kind = _kind(kernel)
    rows, d = y.shape
    segments = [s for s in segments if s[0].shape[0] and s[2] != 0.0]
    if not segments:
        return np.zeros((rows, d))
    if kind == _DIRECT or _reach(kind, kernel, y, segments) > FAR_LIMIT:
        # Explicit differences y - z (block by block to bound memory): the Laplacian kernel,
        # and points so far from the true points' mean that |y|^2 + |z|^2 - 2 y.z would
        # lose more than ~1e-10 of each kernel value.
        g = np.zeros((rows, d))
        step = max(1, BLOCK_ENTRIES // (rows * d))
        for z, coef, mult in segments:
            for a in range(0, z.shape[0], step):
                r = y[:, None, :] - z[None, a:a + step, :d]
                g += mult * np.einsum("nbd,b->nd", kernel._grad_r(r), coef[0, a:a + step])
        return g
    cols = max(64, BLOCK_ENTRIES // rows)
    blocks = [(i, z[a:a + cols], coef[:, a:a + cols])
              for i, (z, coef, _) in enumerate(segments) for a in range(0, z.shape[0], cols)]
    shape = (len(segments), d + 1, rows)
    total = rows * sum(z.shape[0] for z, _, _ in segments)
    workers = _THREADS.workers() if num_threads is None else max(1, int(num_threads))
    yaug = _augment_points(kind, kernel, y)
    if workers > 1 and total >= PARALLEL_MIN_PAIRS and len(blocks) > 1:
        if num_threads is not None:
            _THREADS.workers()  # make sure the BLAS switch is known
        groups = _split(blocks, CHUNKS_PER_WORKER * workers)
        parts = _THREADS.run([(_run_blocks, kind, kernel, yaug, grp, shape) for grp in groups],
                             workers)
        acc = parts[0]
        for part in parts[1:]:  # summed in a fixed order: results do not depend on scheduling
            acc += part
    else:
        acc = _run_blocks(kind, kernel, yaug, blocks, shape)
    total = acc[0] * segments[0][2]
    for i in range(1, len(segments)):
        total += acc[i] * segments[i][2]
    acc = total.T  # (rows, d + 1)
    if kind == _GAUSS:
        g = acc[:, 1:] - acc[:, :1] * y
        g *= 1.0 / kernel.sigma**2
        return g
    return 2.0 * (acc[:, :1] * y - acc[:, 1:])


# -- history buffer --------------------------------------------------------------------------

class _History:
    """Slices of ``n`` centres in preallocated, growable row buffers with a live window."""

    def __init__(self, kernel, origin, n, capacity, width):
        self.kernel = kernel
        self.origin = origin
        self.n = n
        d = origin.shape[0]
        self.zaug = np.empty((capacity * n, d + 2))
        self.coef = np.empty((width, capacity * n))  # coefficient columns, one per centre
        self.mass = np.empty(capacity)
        self.start = 0
        self.stop = 0

    @property
    def num_slices(self) -> int:
        return self.stop - self.start

    @property
    def nbytes(self) -> int:
        return self.zaug.nbytes + self.coef.nbytes + self.mass.nbytes

    @property
    def rows(self) -> slice:
        """The live centres' rows of ``zaug`` (columns of ``coef``)."""
        return slice(self.start * self.n, self.stop * self.n)

    def push(self, y) -> tuple[slice, np.ndarray]:
        """Append the centres ``y``; return the new slice's rows and its centred points."""
        if self.stop * self.n == self.zaug.shape[0]:
            self._make_room()
        rows = slice(self.stop * self.n, (self.stop + 1) * self.n)
        yc = y - self.origin
        self.zaug[rows] = augment_centres(self.kernel, yc)
        self.stop += 1
        return rows, yc

    def _make_room(self):
        k, n, cap = self.num_slices, self.n, self.mass.shape[0]
        live = self.rows
        if 2 * k <= cap:  # slide the live window to the front (source and target are disjoint)
            self.zaug[:k * n] = self.zaug[live]
            self.coef[:, :k * n] = self.coef[:, live]
            self.mass[:k] = self.mass[self.start:self.stop]
        else:
            new = max(16, 2 * cap)
            zaug = np.empty((new * n, self.zaug.shape[1]))
            zaug[:k * n] = self.zaug[live]
            coef = np.empty((self.coef.shape[0], new * n))
            coef[:, :k * n] = self.coef[:, live]
            self.zaug, self.coef = zaug, coef
            mass = np.empty(new)
            mass[:k] = self.mass[self.start:self.stop]
            self.mass = mass
        self.start, self.stop = 0, k


class _ExactBase:
    """What the exact expansions share: the true-point term and the field gradient."""

    def _init_true(self, kernel: Kernel, x: np.ndarray, p: np.ndarray, n: int) -> None:
        self.kernel = kernel
        self.n = n
        self.d = x.shape[1]
        self.origin = x.mean(axis=0)  # coordinates from the true points' mean keep digits
        self._x, self._p = x, p
        xc = x - self.origin
        self._x_aug = augment_centres(kernel, xc)
        self._x_coef = coef_columns(xc, p)
        self.psum = float(p.sum())

    def field_grad(self, y: np.ndarray, z: np.ndarray, q: np.ndarray) -> np.ndarray:
        """Gradient at ``y`` of the field term ``K(., X) p - K(., z) q`` (not stored)."""
        return self.kernel.grad_sum(y, self._x, self._p) - self.kernel.grad_sum(y, z, q)


class Expansion(_ExactBase):
    """Exact kernel-expansion discriminator with a preallocated history buffer.

    Parameters
    ----------
    kernel : Kernel
    x, p : (m, d), (m,)
        True points and weights.
    n : int
        Number of generated points per slice.
    capacity : int
        Expected number of generated slices (the buffer grows if needed; with
        truncation it starts smaller and stays about twice the kept window).
    history_tol : float or None
        Relative truncation tolerance in ``(0, 1)`` (module docstring), or
        ``None`` for the full history.
    num_threads : int, optional
        Threads for large kernel sums; default all available cores.

    Notes
    -----
    The history coefficients are stored divided by ``scale``, the product of all
    decay factors since the last renormalisation, so :meth:`decay` is O(1).
    """

    def __init__(self, kernel: Kernel, x: np.ndarray, p: np.ndarray, n: int, capacity: int,
                 history_tol: float | None = None, *, num_threads: int | None = None):
        self._init_true(kernel, x, p, n)
        self.c = 0.0
        self.scale = 1.0
        self.history_tol = history_tol
        self.num_threads = num_threads
        capacity = max(1, int(capacity))
        if history_tol is not None:
            capacity = min(capacity, 256)
        self._hist = _History(kernel, self.origin, n, capacity, self.d + 1)
        self._dropped = 0.0  # absolute coefficient mass dropped so far, divided by |scale|
        self._kept = 0.0  # sum of |w| over the kept slices, divided by |scale|

    @property
    def num_slices(self) -> int:
        return self._hist.num_slices

    @property
    def nbytes(self) -> int:
        """Bytes held by the history and true-point buffers."""
        return self._hist.nbytes + self._x_aug.nbytes + self._x_coef.nbytes

    @property
    def dropped(self) -> float:
        """Absolute coefficient mass dropped by truncation (decayed like the expansion)."""
        return self._dropped * abs(self.scale)

    def decay(self, factor: float) -> None:
        """Multiply the whole expansion by ``factor`` (the ``1 - eta_d lam`` of (D))."""
        if factor == 1.0:
            return
        self.c *= factor
        if factor == 0.0:  # every coefficient is now exactly zero
            h = self._hist
            h.start = h.stop
            self.scale, self._dropped, self._kept = 1.0, 0.0, 0.0
            return
        self.scale *= factor
        if abs(self.scale) < _RESCALE_BELOW:
            h, s = self._hist, self.scale
            h.coef[:, h.rows] *= s
            h.mass[h.start:h.stop] *= abs(s)
            self._dropped *= abs(s)
            self._kept *= abs(s)
            self.scale = 1.0

    def add_true(self, amount: float) -> None:
        """Add ``amount * K(., X) p``."""
        self.c += amount

    def add_slice(self, y: np.ndarray, w: np.ndarray) -> None:
        """Add ``K(., y) w`` as a new history slice (``y`` is copied)."""
        h = self._hist
        rows, yc = h.push(y)
        ws = np.multiply(w, 1.0 / self.scale)
        h.coef[0, rows] = ws
        np.multiply(yc.T, ws, out=h.coef[1:, rows])
        mass = float(np.abs(ws).sum())
        h.mass[h.stop - 1] = mass
        self._kept += mass
        if self.history_tol is not None:
            self._truncate()

    def total_mass(self) -> float:
        """``|c| sum p + sum |w| + dropped``: ``grad_bound`` times this bounds any gradient of f."""
        return abs(self.c) * self.psum + (self._kept + self._dropped) * abs(self.scale)

    def _truncate(self) -> None:
        h = self._hist
        budget = self.history_tol * (abs(self.c) * self.psum / abs(self.scale)
                                     + self._kept + self._dropped)
        while h.num_slices > 1:
            oldest = float(h.mass[h.start])
            if self._dropped + oldest > budget:
                break
            self._dropped += oldest
            self._kept -= oldest
            h.start += 1

    @property
    def bound(self) -> float:
        """Rigorous bound on ``|grad f_truncated - grad f_exact|`` at any point."""
        return self.kernel.grad_bound * self.dropped if self._dropped else 0.0

    def grad(self, y: np.ndarray) -> np.ndarray:
        """``grad f(y)`` at the rows of ``y (n', d)``."""
        h = self._hist
        segments = [(self._x_aug, self._x_coef, self.c),
                    (h.zaug[h.rows], h.coef[:, h.rows], self.scale)]
        return kernel_grad_sum(self.kernel, y - self.origin, segments, num_threads=self.num_threads)

    def value(self, y: np.ndarray) -> np.ndarray:
        """``f(y)`` at the rows of ``y``."""
        k, h, d = self.kernel, self._hist, self.d
        yc = y - self.origin
        v = self.c * k.value_sum(yc, self._x_aug[:, :d], self._x_coef[0])
        if h.num_slices:
            v = v + self.scale * k.value_sum(yc, h.zaug[h.rows, :d], h.coef[0, h.rows])
        return v


#: Above this condition number of the mixing map's eigenvectors, MultiExpansion bounds the
#: dropped mass with the induced 1-norm instead of the eigenbasis (nearly defective map).
MIX_COND_MAX = 1e8


class MultiExpansion(_ExactBase):
    """Several functions expanded over one shared history of centres (theory section 8).

    Optimistic and momentum GDA keep, besides ``f``, a second function (the
    previous field direction or the velocity) that is a kernel expansion over the
    same centres. ``F`` functions are stored as coefficient columns:

        f_i = c_i K(., X) p + sum_s K(., Y^s) w_{s, :, i}

    and a step applies a linear map ``f <- T f`` (``T`` is ``F x F``) to every
    coefficient, then adds new terms. Gradients use the same blocked kernel sum
    as :class:`Expansion`.

    Truncation uses the same relative rule as :class:`Expansion`. Since ``T`` is
    not a scalar, the dropped coefficients are tracked in the eigenbasis of ``T``
    (``T = V diag(z) V^-1``): with ``a_i`` the summed ``|(V^-1 w)_i|`` of the dropped
    coefficient vectors, every step multiplies ``a_i`` by ``|z_i|`` exactly, and the
    dropped coefficient mass is at most ``D = sum_i |V_:i|_1 a_i``. (The induced
    1-norm of ``T`` is above 1 for most learning rates even when ``|z_i| < 1``, so it
    would make the bound grow and stop truncation.) When ``V`` is ill-conditioned
    (``cond > 1e8``, a nearly defective map) the mass is propagated with the 1-norm
    instead; when ``T`` changes the bound is carried over to the new basis through
    ``|c_i| <= max_j |V^-1_ij| D``. ``bound`` is ``grad_bound * D``: a bound on the
    gradient error of any function ``sum_i b_i f_i`` with ``|b_i| <= 1``.
    """

    def __init__(self, kernel: Kernel, x: np.ndarray, p: np.ndarray, n: int, capacity: int,
                 num_funcs: int, history_tol: float | None = None, *, num_threads: int | None = None):
        self._init_true(kernel, x, p, n)
        self.num_funcs = num_funcs
        self.c = np.zeros(num_funcs)
        self.history_tol = history_tol
        self.num_threads = num_threads
        capacity = max(1, int(capacity))
        if history_tol is not None:
            capacity = min(capacity, 256)
        self._hist = _History(kernel, self.origin, n, capacity, num_funcs)
        # Dropped-mass tracking (class docstring): the mixing map T, its eigenbasis
        # (|z|, column 1-norms of V, V^-1) or None for the 1-norm fallback, the
        # component amplitudes a_i, and the scalar mass of the fallback.
        self._t = None
        self._basis = None
        self._amp = np.zeros(num_funcs)
        self._mass = 0.0
        self._growth = 1.0

    @property
    def num_slices(self) -> int:
        return self._hist.num_slices

    @property
    def dropped(self) -> float:
        """Bound ``D`` on the absolute coefficient mass of the dropped slices."""
        if self._basis is None:
            return self._mass
        return float(self._basis[1] @ self._amp)

    def _set_map(self, t: np.ndarray) -> None:
        if self._t is not None and np.array_equal(t, self._t):
            return
        mass = self.dropped
        z, vec = np.linalg.eig(t)
        if np.linalg.cond(vec) > MIX_COND_MAX:
            self._basis, self._mass = None, mass
            self._growth = float(np.abs(t).sum(axis=0).max())
        else:
            inv = np.linalg.inv(vec)
            self._basis = (np.abs(z), np.abs(vec).sum(axis=0), inv)
            self._amp = np.abs(inv).max(axis=1) * mass
        self._t = np.array(t, dtype=float)

    def _drop_cost(self, w: np.ndarray) -> np.ndarray | float:
        """Increase of the tracked amplitudes (or mass) when coefficients ``w (F, n)`` are dropped."""
        if self._basis is None:
            return float(np.abs(w).sum())
        return np.abs(self._basis[2] @ w).sum(axis=1)

    @property
    def nbytes(self) -> int:
        """Bytes held by the history and true-point buffers."""
        return self._hist.nbytes + self._x_aug.nbytes + self._x_coef.nbytes

    def mix(self, t: np.ndarray) -> None:
        """Apply ``f <- T f`` to all functions."""
        h = self._hist
        self.c = t @ self.c
        if h.num_slices:
            h.coef[:, h.rows] = t @ h.coef[:, h.rows]
        self._set_map(t)
        if self._basis is None:
            self._mass *= self._growth
        else:
            self._amp = self._amp * self._basis[0]

    def add_true(self, amounts) -> None:
        """Add ``amounts[i] K(., X) p`` to function ``i``."""
        self.c = self.c + np.asarray(amounts, dtype=float)

    def add_slice(self, y: np.ndarray, w: np.ndarray) -> None:
        """Add ``K(., y) w[:, i]`` to function ``i`` (``w`` of shape ``(n, F)``)."""
        h = self._hist
        rows, _ = h.push(y)
        h.coef[:, rows] = w.T
        if self.history_tol is not None:
            self._truncate()

    def _truncate(self) -> None:
        h = self._hist
        n, k = self.n, h.num_slices
        coef = h.coef[:, h.rows].reshape(self.num_funcs, k, n)
        live = np.abs(coef).sum(axis=(0, 2))
        budget = self.history_tol * (float(np.abs(self.c).sum()) * self.psum + float(live.sum())
                                     + self.dropped)
        if not np.isfinite(budget):
            return
        i = 0
        while h.num_slices > 1:
            cost = self._drop_cost(coef[:, i])
            if self._basis is None:
                new_amp, new_mass = self._amp, self._mass + cost
            else:
                new_amp, new_mass = self._amp + cost, self._mass
            after = new_mass if self._basis is None else float(self._basis[1] @ new_amp)
            if not np.isfinite(after) or after > budget:
                break
            self._amp, self._mass = new_amp, new_mass
            h.start += 1
            i += 1

    @property
    def bound(self) -> float:
        """Bound on the gradient error of any ``sum_i b_i f_i`` with ``|b_i| <= 1``."""
        return self.kernel.grad_bound * self.dropped if self.dropped else 0.0

    def grad(self, y: np.ndarray, combo=None) -> np.ndarray:
        """Gradient of ``sum_i combo[i] f_i`` (default: of ``f_0``) at the rows of ``y``."""
        combo = np.eye(self.num_funcs)[0] if combo is None else np.asarray(combo, dtype=float)
        h = self._hist
        d = self.d
        zaug = h.zaug[h.rows]
        coef = coef_columns(zaug[:, :d], combo @ h.coef[:, h.rows])
        segments = [(self._x_aug, self._x_coef, float(self.c @ combo)), (zaug, coef, 1.0)]
        return kernel_grad_sum(self.kernel, y - self.origin, segments, num_threads=self.num_threads)
