"""The exact kernel-expansion discriminator (theory section 2).

Unrolling the discriminator step (D) shows that ``f^k`` is a finite kernel
expansion over the true points and every past generated configuration:

    f^k = c_k K(., X) p + sum_s  K(., Y^s) w_s

with scalar ``c_k`` and per-slice coefficient vectors ``w_s`` (shape ``(n,)``),
all multiplied by ``1 - eta_d lam`` at every step. ``Expansion`` keeps the slices
in a preallocated buffer and evaluates ``grad f`` with the matrix-product form
of :meth:`Kernel.grad_sum`.

Truncation
----------
With ``history_tol = eps`` the oldest slices are dropped while the total
absolute coefficient mass dropped so far (decayed like everything else),
``D_k``, stays at most ``eps`` times the total absolute coefficient mass of the
whole expansion, ``c_k sum p + sum_s |w_s|_1 + D_k``. Since every kernel
section has gradient at most ``G = kernel.grad_bound``, the discriminator
gradient used by the truncated run differs from the exact one *at every point*
by at most ``G D_k`` (reported as ``bound``), and ``G`` times the total mass is a
bound on any gradient of ``f``. The mass of slices older than ``W`` steps is at
most ``(1 - eta_d lam)^W / lam`` times the generated weight, so the number of
slices kept is about ``log(eps lam) / log(1 - eta_d lam)``: a run becomes linear
in ``T`` when ``eta_d lam`` is not tiny. With ``lam = 0`` nothing ever decays and
nothing is dropped.
"""

from __future__ import annotations

import numpy as np

from .kernels import Kernel

__all__ = ["Expansion"]


class Expansion:
    """Exact kernel-expansion discriminator with a preallocated history buffer.

    Parameters
    ----------
    kernel : Kernel
    x, p : (m, d), (m,)
        True points and weights.
    n : int
        Number of generated points per slice.
    capacity : int
        Maximum number of generated slices (history length).
    history_tol : float or None
        Relative truncation tolerance in ``(0, 1)`` (module docstring), or
        ``None`` for the full history.
    """

    def __init__(self, kernel: Kernel, x: np.ndarray, p: np.ndarray, n: int, capacity: int,
                 history_tol: float | None = None):
        self.kernel = kernel
        self.x = x
        self.p = p
        self.psum = float(p.sum())
        self.n = n
        self.d = x.shape[1]
        self.c = 0.0
        self.buf = np.empty((capacity, n, self.d))
        self.coef = np.empty((capacity, n))
        self.start = 0
        self.stop = 0
        self.history_tol = history_tol
        self.dropped = 0.0  # absolute coefficient mass dropped so far (decayed)
        self.kept_mass = 0.0  # sum of |coef| over the kept slices

    @property
    def num_slices(self) -> int:
        return self.stop - self.start

    def decay(self, factor: float) -> None:
        """Multiply the whole expansion by ``factor`` (the ``1 - eta_d lam`` of (D))."""
        if factor != 1.0:
            self.c *= factor
            self.coef[self.start:self.stop] *= factor
            self.dropped *= abs(factor)
            self.kept_mass *= abs(factor)

    def add_true(self, amount: float) -> None:
        """Add ``amount * K(., X) p``."""
        self.c += amount

    def add_slice(self, y: np.ndarray, w: np.ndarray) -> None:
        """Add ``K(., y) w`` as a new history slice (``y`` is copied)."""
        if self.stop == self.buf.shape[0]:
            self._compact()
        self.buf[self.stop] = y
        self.coef[self.stop] = w
        self.stop += 1
        self.kept_mass += float(np.abs(w).sum())
        if self.history_tol is not None:
            self._truncate()

    def _compact(self) -> None:
        k = self.num_slices
        if self.start == 0:
            grow = max(16, self.buf.shape[0])
            self.buf = np.concatenate([self.buf, np.empty((grow,) + self.buf.shape[1:])])
            self.coef = np.concatenate([self.coef, np.empty((grow, self.n))])
            return
        self.buf[:k] = self.buf[self.start:self.stop]
        self.coef[:k] = self.coef[self.start:self.stop]
        self.start, self.stop = 0, k

    def total_mass(self) -> float:
        """``c sum p + sum |w| + dropped``: ``grad_bound`` times this bounds any gradient of f."""
        return abs(self.c) * self.psum + self.kept_mass + self.dropped

    def _truncate(self) -> None:
        budget = self.history_tol * self.total_mass()
        while self.num_slices > 1:
            oldest = float(np.abs(self.coef[self.start]).sum())
            if self.dropped + oldest > budget:
                break
            self.dropped += oldest
            self.kept_mass -= oldest
            self.start += 1

    @property
    def bound(self) -> float:
        """Rigorous bound on ``|grad f_truncated - grad f_exact|`` at any point."""
        return self.kernel.grad_bound * self.dropped if self.dropped else 0.0

    def grad(self, y: np.ndarray) -> np.ndarray:
        """``grad f(y)`` at the rows of ``y (n', d)``."""
        k = self.kernel
        g = k.grad_sum(y, self.x, self.p)
        g *= self.c
        if self.stop > self.start:
            z = self.buf[self.start:self.stop].reshape(-1, self.d)
            w = self.coef[self.start:self.stop].reshape(-1)
            g += k.grad_sum(y, z, w)
        return g

    def value(self, y: np.ndarray) -> np.ndarray:
        """``f(y)`` at the rows of ``y``."""
        k = self.kernel
        v = self.c * k.value_sum(y, self.x, self.p)
        if self.stop > self.start:
            z = self.buf[self.start:self.stop].reshape(-1, self.d)
            w = self.coef[self.start:self.stop].reshape(-1)
            v = v + k.value_sum(y, z, w)
        return v


class MultiExpansion:
    """Several functions expanded over one shared history of centres (theory section 8).

    Optimistic and momentum GDA keep, besides ``f``, a second function (the
    previous field direction or the velocity) that is a kernel expansion over the
    same centres. ``F`` functions are stored as coefficient columns:

        f_i = c_i K(., X) p + sum_s K(., Y^s) w_{s, :, i}

    and a step applies a linear map ``f <- T f`` (``T`` is ``F x F``) to every
    coefficient, then adds new terms.

    Truncation uses the same relative rule as :class:`Expansion`; since ``T`` is
    not a scalar, the dropped coefficient mass is propagated with the induced
    1-norm of ``T`` (a rigorous over-estimate), and ``bound`` is
    ``grad_bound`` times it: a bound on the gradient error of any function
    ``sum_i b_i f_i`` with ``|b_i| <= 1``.
    """

    def __init__(self, kernel: Kernel, x: np.ndarray, p: np.ndarray, n: int, capacity: int,
                 num_funcs: int, history_tol: float | None = None):
        self.kernel = kernel
        self.x = x
        self.p = p
        self.psum = float(p.sum())
        self.n = n
        self.d = x.shape[1]
        self.num_funcs = num_funcs
        self.c = np.zeros(num_funcs)
        self.buf = np.empty((capacity, n, self.d))
        self.coef = np.empty((capacity, n, num_funcs))
        self.start = 0
        self.stop = 0
        self.history_tol = history_tol
        self.dropped = 0.0

    @property
    def num_slices(self) -> int:
        return self.stop - self.start

    def mix(self, t: np.ndarray) -> None:
        """Apply ``f <- T f`` to all functions."""
        self.c = t @ self.c
        if self.stop > self.start:
            self.coef[self.start:self.stop] = self.coef[self.start:self.stop] @ t.T
        self.dropped *= float(np.abs(t).sum(axis=0).max())

    def add_true(self, amounts) -> None:
        """Add ``amounts[i] K(., X) p`` to function ``i``."""
        self.c = self.c + np.asarray(amounts, dtype=float)

    def add_slice(self, y: np.ndarray, w: np.ndarray) -> None:
        """Add ``K(., y) w[:, i]`` to function ``i`` (``w`` of shape ``(n, F)``)."""
        if self.stop == self.buf.shape[0]:
            grow = max(16, self.buf.shape[0])
            self.buf = np.concatenate([self.buf, np.empty((grow,) + self.buf.shape[1:])])
            self.coef = np.concatenate([self.coef, np.empty((grow,) + self.coef.shape[1:])])
        self.buf[self.stop] = y
        self.coef[self.stop] = w
        self.stop += 1
        if self.history_tol is not None:
            self._truncate()

    def _truncate(self) -> None:
        kept = float(np.abs(self.coef[self.start:self.stop]).sum())
        budget = self.history_tol * (float(np.abs(self.c).sum()) * self.psum + kept + self.dropped)
        while self.num_slices > 1:
            oldest = float(np.abs(self.coef[self.start]).sum())
            if self.dropped + oldest > budget:
                break
            self.dropped += oldest
            self.start += 1

    @property
    def bound(self) -> float:
        """Bound on the gradient error of any ``sum_i b_i f_i`` with ``|b_i| <= 1``."""
        return self.kernel.grad_bound * self.dropped if self.dropped else 0.0

    def grad(self, y: np.ndarray, combo) -> np.ndarray:
        """Gradient of ``sum_i combo[i] f_i`` at the rows of ``y``."""
        combo = np.asarray(combo, dtype=float)
        k = self.kernel
        g = k.grad_sum(y, self.x, self.p) * float(self.c @ combo)
        if self.stop > self.start:
            z = self.buf[self.start:self.stop].reshape(-1, self.d)
            w = (self.coef[self.start:self.stop] @ combo).reshape(-1)
            g += k.grad_sum(y, z, w)
        return g
