"""Blocked kernel sums: the gradient of a kernel expansion at many points (theory section 2).

For a radial kernel ``K = phi(|u - v|^2)`` the gradient of ``sum_c w_c K(., z_c)`` at the rows
of ``Y`` is::

    grad f(y) = 2 ( (G w) y - G (w z) ),         G = phi'(|y - z|^2)

so every centre is kept as an *augmented row* ``[z, |z|^2-term, 1]`` (norms computed once)
with a *coefficient column* ``[w, w z]``. For each cache-sized block of centres one matrix
product yields the exponents (or squared distances) directly, one in-place elementwise map
(``exp`` for the Gaussian) follows, then one product with the coefficient columns (``d + 1``
matrix-vector products when ``d <= 3``); no ``(n, M, d)`` array is formed. Blocks are shared
among the cores by :data:`~kernelgda.threads.THREADS` and partial sums are added
in a fixed order. Each kernel value is correct to about ``1e-16 (|y|^2 + |z|^2) / sigma^2``
relative (coordinates from the true points' mean); beyond :data:`FAR_LIMIT` and for kernels
not differentiable at coincident points (the Laplacian) explicit differences are used.

A kernel that is not radial (the NNGP kernel, or any other implementing the
:class:`~kernelgda.kernels.Kernel` interface) takes the generic path: blocks of its public
pairwise gradient, :meth:`Kernel.grad_sum <kernelgda.kernels.Kernel.grad_sum>`, summed with
the coefficients ``w`` (the ``[z, ...]`` rows keep the centres, the rest is unused). Such a
kernel need not be translation invariant, so its expansions keep absolute coordinates
(:func:`expansion_origin`).
"""

from __future__ import annotations

import numpy as np

from ..kernels import Gaussian, Kernel
from ..threads import CHUNKS_PER_WORKER, THREADS

__all__ = ["kernel_grad_sum", "augment_centres", "coef_columns", "expansion_origin", "BLOCK_ENTRIES",
           "FAR_LIMIT"]

#: Entries of one block of the pair matrix (``rows x block`` float64 values, 1 MiB: a core's
#: L2 cache here). Measured on idle cores (2-core EPYC, d = 2): 0.75 ns/pair against 0.81 for
#: 65536 and 1.11 for 32768 entries; for d = 64 larger blocks gain ~4%.
BLOCK_ENTRIES = 131072
#: Pair evaluations in one call below which a single thread does all the work: handing
#: blocks to another thread costs tens of microseconds.
PARALLEL_MIN_PAIRS = 150_000
#: Largest coefficient width ``d + 1`` done as matrix-vector products (measured: for d <= 3
#: they beat OpenBLAS's matrix product with 3-4 columns by about 20%).
GEMV_MAX_WIDTH = 4
#: Above this ``(|y|^2 + |z|^2) / sigma^2`` (coordinates from the true points' mean) kernel sums
#: use explicit differences: the matrix-product form loses about 1e-16 of it per kernel value.
FAR_LIMIT = 1e6

_GAUSS, _PROFILE, _DIRECT, _GENERIC = "gaussian", "profile", "direct", "generic"
_TINY = np.finfo(float).tiny


def _kind(kernel: Kernel) -> str:
    if not kernel.radial:
        return _GENERIC
    if isinstance(kernel, Gaussian):
        return _GAUSS
    return _PROFILE if kernel.smooth else _DIRECT


def expansion_origin(kernel: Kernel, x: np.ndarray) -> np.ndarray:
    """The origin of an expansion's coordinates: the true points' mean for a radial kernel
    (its matrix-product distances keep their digits near it), ``0`` for any other kernel
    (which need not be translation invariant)."""
    return x.mean(axis=0) if kernel.radial else np.zeros(x.shape[1])


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
    flat = THREADS.scratch(rows * max(z.shape[0] for _, z, _ in blocks))
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
    if kind == _GENERIC:
        # Any kernel of the Kernel interface (not radial: NNGP, ...): its own blocked sum of
        # pairwise gradients, Kernel.grad_sum (memory bounded by the block size).
        g = np.zeros((rows, d))
        with THREADS.one_blas_thread():
            for z, coef, mult in segments:
                g += mult * kernel.grad_sum(y, z[:, :d], coef[0])
        return g
    if kind == _DIRECT or _reach(kind, kernel, y, segments) > FAR_LIMIT:
        # Explicit differences y - z (block by block to bound memory): the Laplacian kernel,
        # and points so far from the true points' mean that |y|^2 + |z|^2 - 2 y.z would
        # lose more than ~1e-10 of each kernel value.
        g = np.zeros((rows, d))
        step = max(1, BLOCK_ENTRIES // (rows * d))
        for z, coef, mult in segments:
            for a in range(0, z.shape[0], step):
                r = y[:, None, :] - z[None, a:a + step, :d]
                sq = np.einsum("nbd,nbd->nb", r, r)
                # grad K = 2 phi'(|r|^2) r; at coincident points r = 0 gives the gradient 0 (the
                # Laplacian's symmetric subgradient), so any finite phi' will do there.
                np.maximum(sq, _TINY, out=sq)
                w = 2.0 * kernel.dprofile(sq) * coef[0, a:a + step]
                g += mult * np.einsum("nb,nbd->nd", w, r)
        return g
    cols = max(64, BLOCK_ENTRIES // rows)
    blocks = [(i, z[a:a + cols], coef[:, a:a + cols])
              for i, (z, coef, _) in enumerate(segments) for a in range(0, z.shape[0], cols)]
    shape = (len(segments), d + 1, rows)
    total = rows * sum(z.shape[0] for z, _, _ in segments)
    workers = THREADS.workers() if num_threads is None else max(1, int(num_threads))
    yaug = _augment_points(kind, kernel, y)
    if workers > 1 and total >= PARALLEL_MIN_PAIRS and len(blocks) > 1:
        if num_threads is not None:
            THREADS.workers()  # make sure the BLAS switch is known
        groups = _split(blocks, CHUNKS_PER_WORKER * workers)
        parts = THREADS.run([(_run_blocks, kind, kernel, yaug, grp, shape) for grp in groups],
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
