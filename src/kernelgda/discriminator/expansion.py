"""The exact kernel-expansion discriminator (theory section 2).

Unrolling the discriminator step (D) shows that ``f^k`` is a finite kernel
expansion over the true points and every past generated configuration:

    f^k = c_k K(., X) p + sum_s  K(., Y^s) w_s

with scalar ``c_k`` and per-slice coefficient vectors ``w_s`` (shape ``(n,)``),
all multiplied by ``1 - eta_d lam`` at every step.

Gradients are blocked kernel sums (:mod:`kernelgda.discriminator.kernel_sums`); the
centres live in a :class:`~kernelgda.discriminator.history.History`; the decay
``1 - eta_d lam`` is applied to a single scale factor, not to every stored coefficient.
Coordinates are measured from the mean of the true points so that the matrix-product form
of ``|y - z|^2`` keeps its accuracy.

Truncation
----------
With ``history_tol = eps`` the oldest slices are dropped while the total
absolute coefficient mass dropped so far (decayed like everything else),
``D_k``, stays at most ``eps`` times the total absolute coefficient mass of the
whole expansion, ``|c_k| sum p + sum_s |w_s|_1 + D_k``
(:class:`~kernelgda.discriminator.truncation.TruncationTracker`). Since every kernel
section has gradient at most ``G = kernel.grad_bound``, the discriminator
gradient used by the truncated run differs from the exact one *at every point*
by at most ``G D_k`` (reported as ``bound``), and ``G`` times the total mass is a
bound on any gradient of ``f``. The mass of slices older than ``W`` steps is at
most ``(1 - eta_d lam)^W / lam`` times the generated weight, so the number of
slices kept is about ``log(eps lam) / log(1 - eta_d lam)``: a run becomes linear
in ``T`` when ``eta_d lam`` is not tiny, and the history buffer stays bounded by
about twice that window. With ``lam = 0`` nothing ever decays and nothing is
dropped.

A kernel without a global gradient bound (the NNGP kernel: ``|grad_u K(u, v)|`` grows
with ``|v|``) reports ``bound = kernel.grad_scale(points) D_k`` with the points the true
points and the newest generated slice: an estimate of the error's size, not a
certificate (the dropped centres may lie further out).
"""

from __future__ import annotations

import numpy as np

from ..kernels import Kernel
from ..resources import check_history
from .history import RESCALE_BELOW, History
from .interface import Discriminator
from .kernel_sums import augment_centres, coef_columns, expansion_origin, kernel_grad_sum
from .truncation import LOSSLESS_TOL, TruncationTracker

__all__ = ["Expansion", "MultiExpansion", "exact_expansion"]


def exact_expansion(gan, n: int, capacity: int, history_tol, num_funcs: int | None = None, *,
                    max_memory=None):
    """The exact discriminator of a run, ``f = 0``: an :class:`Expansion`, or a
    :class:`MultiExpansion` of ``num_funcs`` functions (function 0 is ``f``; the others start at
    0 and are set up by the rule's stepper). The lossless default truncation (``history_tol`` =
    :data:`~kernelgda.discriminator.truncation.LOSSLESS_TOL`) is refused over ``max_memory`` as the
    full history would be: with ``lam = 0`` it drops nothing."""
    x, p = gan.x_true, gan.p_true
    if num_funcs is None:
        disc = Expansion(gan.kernel, x, p, n, capacity, history_tol, max_memory=max_memory)
    else:
        disc = MultiExpansion(gan.kernel, x, p, n, capacity, num_funcs, history_tol, max_memory=max_memory)
    if history_tol == LOSSLESS_TOL:
        d = x.shape[1]
        check_history(capacity, n, 2 * d + 3 if num_funcs is None else d + 2 + num_funcs, limit=max_memory)
    return disc


class _ExactBase(Discriminator):
    """What the exact expansions share: the true-point term and the field gradient."""

    def _init_true(self, kernel: Kernel, x: np.ndarray, p: np.ndarray, n: int) -> None:
        self.kernel = kernel
        self.n = n
        self.d = x.shape[1]
        self.origin = expansion_origin(kernel, x)  # the true points' mean (radial kernels) or 0
        self._x, self._p = x, p
        xc = x - self.origin
        self._x_aug = augment_centres(kernel, xc)
        self._x_coef = coef_columns(xc, p)
        self.psum = float(p.sum())

    def grad_scale(self) -> float:
        """``kernel.grad_scale`` among the true points and the newest slice: the global
        ``grad_bound`` of a radial kernel; for a kernel without one (NNGP) the largest
        ``|grad_u K|`` among those points, a scale of the truncation error rather than a
        certified bound (module docstring)."""
        h = self._hist
        points = self._x
        if h.num_slices:
            newest = h.zaug[(h.stop - 1) * self.n:h.stop * self.n, :self.d] + self.origin
            points = np.concatenate([points, newest])
        return self.kernel.grad_scale(points)

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
                 history_tol: float | None = None, *, num_threads: int | None = None, max_memory=None):
        self._init_true(kernel, x, p, n)
        self.c = 0.0
        self.scale = 1.0
        self.history_tol = history_tol
        self.num_threads = num_threads
        capacity = max(1, int(capacity))
        if history_tol is not None:
            capacity = min(capacity, 256)
        self._hist = History(kernel, self.origin, n, capacity, self.d + 1, max_memory=max_memory)
        self._tracker = TruncationTracker(history_tol, 1, 1)

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
        return float(self._tracker.dropped()[0]) * abs(self.scale)

    def decay(self, factor: float) -> None:
        """Multiply the whole expansion by ``factor`` (the ``1 - eta_d lam`` of (D))."""
        if factor == 1.0:
            return
        self.c *= factor
        if factor == 0.0:  # every coefficient is now exactly zero
            h = self._hist
            h.start = h.stop
            self._tracker.rescale(slice(None), 0.0)
            self.scale = 1.0
            return
        self.scale *= factor
        if abs(self.scale) < RESCALE_BELOW:
            h = self._hist
            h.coef[:, h.rows] *= self.scale
            h.mass[h.start:h.stop] *= abs(self.scale)
            self._tracker.rescale(slice(None), self.scale)
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
        self._tracker.added(mass)
        if self.history_tol is not None:
            self._tracker.truncate(abs(self.c) * self.psum / abs(self.scale), None, self._left,
                                   self._oldest, self._drop, self._oldest_mass)

    def _oldest_mass(self):
        h = self._hist
        return float(h.mass[h.start])

    def _left(self, rows):
        return (self._hist.num_slices,)

    def _oldest(self, rows):
        h = self._hist
        return h.coef[0, h.start * self.n:(h.start + 1) * self.n][None, None]

    def _drop(self, rows):
        self._hist.start += 1

    def total_mass(self) -> float:
        """``|c| sum p + sum |w| + dropped``: ``grad_bound`` times this bounds any gradient of f."""
        return abs(self.c) * self.psum + float(self._tracker.kept[0]) * abs(self.scale) + self.dropped

    @property
    def bound(self) -> float:
        """Rigorous bound on ``|grad f_truncated - grad f_exact|`` at any point."""
        dropped = self.dropped
        return self.grad_scale() * dropped if dropped else 0.0

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


class MultiExpansion(_ExactBase):
    """Several functions expanded over one shared history of centres (theory section 8).

    Optimistic and momentum GDA keep, besides ``f``, a second function (the
    previous field direction or the velocity) that is a kernel expansion over the
    same centres. ``F`` functions are stored as coefficient columns:

        f_i = c_i K(., X) p + sum_s K(., Y^s) w_{s, :, i}

    and a step applies a linear map ``f <- T f`` (``T`` is ``F x F``) to every
    coefficient, then adds new terms. Gradients use the same blocked kernel sum
    as :class:`Expansion`.

    Truncation uses the same relative rule as :class:`Expansion`; since ``T`` is not
    a scalar, the dropped coefficients are tracked in the eigenbasis of ``T``
    (:class:`~kernelgda.discriminator.truncation.TruncationTracker`). ``bound`` is
    ``grad_bound * D``: a bound on the gradient error of any function ``sum_i b_i f_i``
    with ``|b_i| <= 1``.
    """

    def __init__(self, kernel: Kernel, x: np.ndarray, p: np.ndarray, n: int, capacity: int,
                 num_funcs: int, history_tol: float | None = None, *, num_threads: int | None = None,
                 max_memory=None):
        self._init_true(kernel, x, p, n)
        self.num_funcs = num_funcs
        self.c = np.zeros(num_funcs)
        self.history_tol = history_tol
        self.num_threads = num_threads
        capacity = max(1, int(capacity))
        if history_tol is not None:
            capacity = min(capacity, 256)
        self._hist = History(kernel, self.origin, n, capacity, num_funcs, max_memory=max_memory)
        self._tracker = TruncationTracker(history_tol, 1, num_funcs)
        self._first = np.eye(num_funcs)[0]  # the combination that picks f_0

    @property
    def num_slices(self) -> int:
        return self._hist.num_slices

    @property
    def dropped(self) -> float:
        """Bound ``D`` on the absolute coefficient mass of the dropped slices."""
        return float(self._tracker.dropped()[0])

    @property
    def nbytes(self) -> int:
        """Bytes held by the history and true-point buffers."""
        return self._hist.nbytes + self._x_aug.nbytes + self._x_coef.nbytes

    def mix(self, t: np.ndarray) -> None:
        """Apply ``f <- T f`` to all functions."""
        h = self._hist
        t = np.asarray(t, dtype=float)
        self.c = t @ self.c
        if h.num_slices:
            h.coef[:, h.rows] = t @ h.coef[:, h.rows]
        self._tracker.mix(t[None])

    def add_true(self, amounts) -> None:
        """Add ``amounts[i] K(., X) p`` to function ``i``."""
        self.c = self.c + np.asarray(amounts, dtype=float)

    def add_slice(self, y: np.ndarray, w: np.ndarray) -> None:
        """Add ``K(., y) w[:, i]`` to function ``i`` (``w`` of shape ``(n, F)``)."""
        h = self._hist
        rows, _ = h.push(y)
        h.coef[:, rows] = w.T
        if self.history_tol is not None:
            live = float(np.abs(h.coef[:, h.rows]).sum())
            self._tracker.truncate(np.array([np.abs(self.c).sum() * self.psum]), np.array([live]),
                                   self._left, self._oldest, self._drop)

    def _left(self, rows):
        return (self._hist.num_slices,)

    def _oldest(self, rows):
        h = self._hist
        return h.coef[:, h.start * self.n:(h.start + 1) * self.n][None]

    def _drop(self, rows):
        self._hist.start += 1

    @property
    def bound(self) -> float:
        """Bound on the gradient error of any ``sum_i b_i f_i`` with ``|b_i| <= 1``."""
        dropped = self.dropped
        return self.grad_scale() * dropped if dropped else 0.0

    def grad(self, y: np.ndarray, combo=None) -> np.ndarray:
        """Gradient of ``sum_i combo[i] f_i`` (default: of ``f_0``) at the rows of ``y``."""
        combo = self._first if combo is None else np.asarray(combo, dtype=float)
        h = self._hist
        d = self.d
        zaug = h.zaug[h.rows]
        coef = coef_columns(zaug[:, :d], combo @ h.coef[:, h.rows])
        segments = [(self._x_aug, self._x_coef, float(self.c @ combo)), (zaug, coef, 1.0)]
        return kernel_grad_sum(self.kernel, y - self.origin, segments, num_threads=self.num_threads)
