"""Batched exact discriminators: the kernel expansions of many cells advanced together.

The discriminators of :func:`kernelgda.simulate_batch` (theory sections 2 and 8): each cell
keeps the exact expansion ``f^k = c_k K(., X) p + sum_s K(., Y^s) w_s`` (two coefficient
columns for optimistic and momentum GDA), with the same truncation tracker as the single-run
:class:`~kernelgda.discriminator.Expansion`. The history window ``[min_b start_b, k)`` is
evaluated with the slices a cell has dropped set to zero. Gradients are evaluated in blocks
of cells that fit in cache, as ``grad f(y) = 2 sum_c w_c phi'(|y - z_c|^2) (y - z_c)``
(``phi`` the radial profile of the kernel, :mod:`kernelgda.kernels`); a kernel that is not
radial (NNGP, or any other :class:`~kernelgda.kernels.Kernel`) is summed cell by cell with
its own blocked pairwise gradient, ``Kernel.grad_sum``.
"""

from __future__ import annotations

import math

import numpy as np

from ..kernels import Gaussian, Laplacian, RationalQuadratic
from ..resources import check_history
from ..threads import THREADS
from .history import RESCALE_BELOW
from .truncation import TruncationTracker

__all__ = ["BatchedDiscriminators", "Profiles", "expansion_grad"]

#: Elements per temporary array in the gradient evaluation: 256 KiB of float64, so that the
#: few temporaries of a block stay in a 1 MiB L2 cache (measured 3-5x faster than whole-batch
#: arrays of 10^6 elements and more).
BLOCK_ELEMENTS = 1 << 15


class Profiles:
    """``phi'(s)`` of one radial kernel kind with per-cell parameters (shape ``(W,)``), or, for a
    kernel that is not radial (``generic``), that one kernel in every cell (summed with its own
    ``Kernel.grad_sum``; truncation scale from ``grad_scale``)."""

    def __init__(self, kernels):
        first = kernels[0]
        kind = type(first)
        if any(type(k) is not kind for k in kernels):
            raise ValueError("gans must all use the same kind of kernel")
        if kind is Laplacian:
            raise ValueError("simulate_batch needs a kernel differentiable at coincident points "
                             "(gaussian, rational_quadratic, multiscale); use kg.simulate for the "
                             "laplacian kernel")
        self.kind = kind
        #: The kernels' length scales (``sigma`` of a radial kernel), ``(W,)``.
        self.sigma = np.array([k.length_scale for k in kernels])
        #: Not radial: every cell's gradient is the kernel's own blocked sum (``Kernel.grad_sum``).
        self.generic = not first.radial
        if self.generic:
            if any(k != first for k in kernels):
                raise ValueError(f"simulate_batch needs the same {first.name} kernel in every cell; "
                                 "the kernels differ (run groups of equal kernels)")
            self.kernel = first
            self.grad_bound = None  # no global bound: BatchedDiscriminators.bound uses grad_scale
            self.params = {}
            return
        self.grad_bound = np.array([k.grad_bound for k in kernels])
        if kind is Gaussian:
            self.params = {"k1": -0.5 / self.sigma**2}
        elif kind is RationalQuadratic:
            alpha = np.array([k.alpha for k in kernels])
            self.params = {"scale": 1.0 / (2.0 * alpha * self.sigma**2), "power": -alpha - 1.0,
                           "k1": -0.5 / self.sigma**2}
        elif all(k == first for k in kernels):
            self.params = {}
            self.kernel = first
        else:
            raise ValueError(f"simulate_batch can vary the parameters of gaussian and "
                             f"rational_quadratic kernels only; the {first.name} kernels differ")

    def take(self, idx):
        out = object.__new__(Profiles)
        out.__dict__.update(self.__dict__)
        out.sigma = self.sigma[idx]
        out.grad_bound = None if self.grad_bound is None else self.grad_bound[idx]
        out.params = {key: val[idx] for key, val in self.params.items()}
        return out

    def dphi_over_scale(self, s, rows):
        """``phi'(s) / scale`` in place of ``s (w, n, M)`` for the cells ``rows``.

        ``scale`` (:attr:`scale`) is the per-cell constant factor of ``phi'``
        (``-1 / (2 sigma^2)`` for the gaussian and rational quadratic kernels), applied
        once to the summed gradient instead of once per centre.
        """
        if self.kind is Gaussian:  # phi'(s) = k1 exp(k1 s)
            s *= self.params["k1"][rows][:, None, None]
            np.exp(s, out=s)
            return s
        if self.kind is RationalQuadratic:  # phi'(s) = k1 (1 + s / (2 alpha sigma^2))^(-alpha - 1)
            s *= self.params["scale"][rows][:, None, None]
            s += 1.0
            s **= self.params["power"][rows][:, None, None]
            return s
        return self.kernel.dprofile(s)

    @property
    def scale(self):
        return self.params["k1"] if "k1" in self.params else np.ones(len(self.sigma))


def expansion_grad(prof, y, centers, weights, factor, scratch, origin=None):
    """``factor sum_c weights_c grad_u K(y_j, centers_c)`` per cell: ``(W, n, d)``.

    ``y (W, n, d)``, ``centers (W, M, d)``, ``weights (W, M)``, ``factor (W,)``, in blocks of
    cells of about :data:`BLOCK_ELEMENTS` elements as
    ``2 scale sum_c weights_c (phi'(s_c) / scale) r_c`` with ``r_c = y_j - centers_c``.
    ``scratch`` is a list of two reusable buffers (fresh arrays of this size would be
    mapped and faulted in by the allocator at every call, which costs as much as the
    arithmetic).

    For ``d >= 2`` the squared distances are accumulated coordinate by coordinate in the
    scratch buffers (no ``(w, n, M, d)`` array), ``phi' / scale`` is applied in place, and
    one matrix product per cell with the columns ``[w, w z]`` gives
    ``sum_c e_c w_c (y - z_c) = y (e w) - e (w z)``. Coordinates are measured from
    ``origin (W, d)`` (each cell's true-point mean; default: the first centre of each cell)
    so that the difference of the two products keeps its digits, as in the single-run
    kernel sums (:mod:`kernelgda.discriminator.kernel_sums`).
    """
    num, n, d = y.shape
    out = np.empty_like(y)
    size = centers.shape[1]
    if size == 0:
        out[:] = 0.0
        return out
    if prof.generic:  # any Kernel: its own blocked sum of pairwise gradients, cell by cell
        with THREADS.one_blas_thread():
            for b in range(num):
                out[b] = prof.kernel.grad_sum(y[b], centers[b], weights[b])
        out *= np.reshape(factor, (-1, 1, 1))
        return out
    step = max(1, BLOCK_ELEMENTS // (n * size * (d if d == 1 else 1)))
    need = min(step, num) * n * size
    if scratch[0].size < need:
        scratch[:] = [np.empty(need), np.empty(need)]
    if d > 1 and origin is None:
        origin = centers[:, 0]
    for lo in range(0, num, step):
        rows = slice(lo, min(num, lo + step))
        shape = (rows.stop - lo, n, size)
        if d == 1:
            r = scratch[0][:math.prod(shape)].reshape(shape)
            np.subtract(y[rows], centers[rows, None, :, 0], out=r)
            e = scratch[1][:r.size].reshape(shape)
            np.multiply(r, r, out=e)
            e = prof.dphi_over_scale(e, rows)
            e *= r
            out[rows, :, 0] = np.einsum("wnm,wm->wn", e, weights[rows])  # one pass: multiply and sum
            continue
        o = origin[rows, None, :]
        yo = y[rows] - o  # (w, n, d)
        zo = centers[rows] - o  # (w, M, d)
        s = scratch[0][:math.prod(shape)].reshape(shape)
        r = scratch[1][:s.size].reshape(shape)
        for k in range(d):  # s = sum_k (y_k - z_k)^2, one coordinate at a time
            dest = s if k == 0 else r
            np.subtract(yo[:, :, k, None], zo[:, None, :, k], out=dest)
            np.multiply(dest, dest, out=dest)
            if k:
                s += r
        e = prof.dphi_over_scale(s, rows)
        cols = np.empty((shape[0], size, d + 1))  # [w, w z] per cell
        cols[..., 0] = weights[rows]
        np.multiply(zo, weights[rows, :, None], out=cols[..., 1:])
        acc = np.matmul(e, cols)  # (w, n, d + 1)
        np.multiply(acc[..., :1], yo, out=out[rows])
        out[rows] -= acc[..., 1:]
    out *= (2.0 * prof.scale * factor)[:, None, None]
    return out


class BatchedDiscriminators:
    """The exact discriminators of a group of cells: a batched ``Expansion`` or ``MultiExpansion``.

    ``num_funcs`` coefficient columns per slice (one: ``f``; two: ``f`` and the optimistic
    previous direction or the momentum velocity, theory section 8). With one column the
    slice weights are stored divided by the running decay product ``scale`` (``decay`` is
    O(1)); with two, :meth:`mix` applies each cell's ``2 x 2`` map to every kept
    coefficient. Every per-cell array lives in :attr:`cell` (leading axis ``B``) or in the
    :class:`~kernelgda.discriminator.truncation.TruncationTracker`, so that dropping
    finished cells is one :meth:`take`. The methods are the interface the update rules
    step through (:mod:`kernelgda.rules`), with a leading cell axis on every argument.

    Slot 0 of the history holds the ``f*`` slice; cells without one start at slot 1.
    """

    def __init__(self, prof, x, p, n, capacity, num_funcs, history_tol, *, max_memory=None):
        num, _, d = x.shape
        check_history(capacity, n, d + num_funcs, num_runs=num, limit=max_memory)  # before allocating
        self.prof = prof
        self.num_funcs = num_funcs
        self.tol = history_tol
        self.stop = 1
        self.scratch = [np.empty(0), np.empty(0)]
        self.mix_scratch = np.empty(0)
        self.tracker = TruncationTracker(history_tol, num, num_funcs)
        self.cell = {
            "x": x, "p": p, "psum": p.sum(axis=1), "c": np.zeros((num, num_funcs)),
            "buf": np.zeros((num, capacity, n, d)), "coef": np.zeros((num, num_funcs, capacity, n)),
            "start": np.ones(num, dtype=int), "scale": np.ones(num), "alive": np.ones(num, dtype=bool),
            "origin": x.mean(axis=1)}

    def start_at(self, has_f, y_star, q_star, lam):
        """``f = f* = (K(., X) p - K(., Y*) q*) / lam`` in the cells ``has_f`` (function 0)."""
        cell = self.cell
        cell["c"][has_f, 0] = 1.0 / lam[has_f]
        cell["buf"][has_f, 0] = y_star[has_f]
        cell["coef"][has_f, 0, 0] = -q_star[has_f] / lam[has_f][:, None]
        cell["start"][has_f] = 0
        self.tracker.kept[has_f] = np.abs(cell["coef"][has_f, 0, 0]).sum(axis=1)

    def take(self, keep):
        """Keep only the cells ``keep``."""
        self.cell = {key: val[keep] for key, val in self.cell.items()}
        self.prof = self.prof.take(keep)
        self.tracker.take(keep)

    @property
    def low(self) -> int:
        """First history slot any live cell still holds."""
        return int(self.cell["start"][self.cell["alive"]].min())

    @property
    def bound(self) -> np.ndarray:
        """Certified bound on each cell's gradient error from truncation, ``(B,)``."""
        dropped = self.tracker.dropped(self.cell["scale"])
        if self.prof.grad_bound is not None:
            return self.prof.grad_bound * dropped
        # No global gradient bound (NNGP): kernel.grad_scale among each cell's true points and
        # newest slice, an estimate of the error's size (Expansion.grad_scale), where D_k > 0.
        out = np.zeros_like(dropped)
        cell = self.cell
        for b in np.nonzero(dropped > 0)[0]:
            points = np.concatenate([cell["x"][b], cell["buf"][b, self.stop - 1]])
            out[b] = self.prof.kernel.grad_scale(points) * dropped[b]
        return out

    def grad(self, y):
        """``grad f(y)`` per cell, ``(B, n, d)``."""
        cell, lo = self.cell, self.low
        num, _, d = y.shape
        origin = cell["origin"]
        g = expansion_grad(self.prof, y, cell["x"], cell["p"], cell["c"][:, 0], self.scratch, origin)
        z = cell["buf"][:, lo:self.stop].reshape(num, -1, d)
        w = cell["coef"][:, 0, lo:self.stop].reshape(num, -1)
        g += expansion_grad(self.prof, y, z, w, cell["scale"], self.scratch, origin)
        return g

    def field_grad(self, y, z, q):
        """Gradient at ``y`` of the field term ``K(., X) p - K(., z) q`` per cell (not stored)."""
        cell, ones = self.cell, np.ones(len(y))
        origin = cell["origin"]
        return (expansion_grad(self.prof, y, cell["x"], cell["p"], ones, self.scratch, origin)
                - expansion_grad(self.prof, y, z, q, ones, self.scratch, origin))

    def decay(self, factor):
        """``f <- factor f`` (one column; ``Expansion.decay``); ``factor`` per cell."""
        cell = self.cell
        factor = np.reshape(factor, -1)
        scale = cell["scale"]
        cell["c"][:, 0] *= factor
        scale *= factor
        tiny = np.abs(scale) < RESCALE_BELOW
        if tiny.any():
            cell["coef"][tiny, 0, :self.stop] *= scale[tiny, None, None]
            self.tracker.rescale(tiny, scale[tiny])
            scale[tiny] = 1.0
            cell["start"][factor == 0] = self.stop  # every coefficient is exactly zero
        return self

    def mix(self, t):
        """``f_i <- sum_j t_ij f_j`` per cell, ``t (B, 2, 2)`` or ``(B, 1, 2, 2)``
        (``MultiExpansion.mix``)."""
        cell, lo = self.cell, self.low
        t = np.reshape(t, (-1, 2, 2))
        c = cell["c"]
        cell["c"] = np.stack([t[:, 0, 0] * c[:, 0] + t[:, 0, 1] * c[:, 1],
                              t[:, 1, 0] * c[:, 0] + t[:, 1, 1] * c[:, 1]], axis=1)
        w0, w1 = cell["coef"][:, 0, lo:self.stop], cell["coef"][:, 1, lo:self.stop]  # views
        t00, t01, t10, t11 = (t[:, i, j, None, None] for i in (0, 1) for j in (0, 1))
        # in place, with two reusable buffers (temporaries of the window's size cost as much as
        # the arithmetic): new f_0 = t00 w0 + t01 w1, new f_1 = t10 w0 + t11 w1
        size = w0.size
        if self.mix_scratch.size < 2 * size:
            self.mix_scratch = np.empty(2 * size)
        old1 = np.multiply(w1, t01, out=self.mix_scratch[:size].reshape(w0.shape))
        if np.any(t11):
            w1 *= t11
            w1 += np.multiply(w0, t10, out=self.mix_scratch[size:2 * size].reshape(w0.shape))
        else:  # optimistic: the second function does not feed itself
            np.multiply(w0, t10, out=w1)
        w0 *= t00
        w0 += old1
        self.tracker.mix(t)
        return self

    def add_true(self, amount):
        """``f_i += amount[:, i] K(., X) p``; ``amount`` of shape ``(B,)``, ``(B, 1)`` or ``(B, 1, F)``."""
        c = self.cell["c"]
        c += np.reshape(amount, (c.shape[0], -1))
        return self

    def add_slice(self, y, w):
        """A new slice ``K(., y) w[..., i]`` in function ``i`` (``w (B, n)`` or ``(B, n, F)``),
        then truncation."""
        cell = self.cell
        w = w[:, None, :] if w.ndim == 2 else np.moveaxis(w, 2, 1)  # (B, F, n)
        if self.stop == cell["buf"].shape[1]:
            raise RuntimeError("history buffer full")  # capacity is sized by the caller
        cell["buf"][:, self.stop] = y
        if self.num_funcs == 1:
            stored = cell["coef"][:, 0, self.stop]
            np.divide(w[:, 0], cell["scale"][:, None], out=stored)
            self.tracker.added(np.abs(stored).sum(axis=1))
        else:
            cell["coef"][:, :, self.stop] = w
        self.stop += 1
        if self.tol is not None:
            live = None if self.num_funcs == 1 else \
                np.abs(cell["coef"][:, :, self.low:self.stop]).sum(axis=(1, 2, 3))
            true_mass = np.abs(cell["c"]).sum(axis=1) * cell["psum"] / np.abs(cell["scale"])
            self.tracker.truncate(true_mass, live,
                                  self._left, self._oldest, self._drop)
        return self

    def _left(self, rows):
        return self.stop - self.cell["start"][rows]

    def _oldest(self, rows):
        cell = self.cell
        return cell["coef"][rows, :, cell["start"][rows]]  # (r, F, n), as stored

    def _drop(self, rows):
        cell = self.cell
        cell["coef"][rows, :, cell["start"][rows]] = 0.0
        cell["start"][rows] += 1
