"""Gaussian bumps and their moments under a Gaussian cloud (theory section 11).

A *bump* is an unnormalised Gaussian ``b(u) = c exp(-(1/2) (u - m)^T P (u - m))`` with
precision ``P = Sigma^(-1)``. The Gaussian kernel averaged over a Gaussian cloud
``N(e, S)`` is one: ``E_y K(u, y) = c exp(-(1/2)(u - e)^T P (u - e))`` with
``Sigma = sigma^2 I + S`` and ``c = det(I + S / sigma^2)^(-1/2)``.

Moments of a bump under ``y ~ N(e, S)``, in the form of theory section 11 (``B = I + S P``,
``A = B^(-1)``, ``dm = A (e - m)``)::

    E[b]      = c det(B)^(-1/2) exp(-(1/2) (e - m)^T P A (e - m))
    E[grad b] = -E[b] P dm
    E[Hess b] =  E[b] ( P (A S + dm dm^T) P - P )

Since ``P A = (Sigma + S)^(-1) =: R`` and ``P A S P - P = -R``, with ``T = Sigma + S`` and
``r = e - m`` they read::

    E[b]      = c sqrt(det Sigma / det T) exp(-(1/2) r^T R r)
    E[grad b] = -E[b] R r
    E[Hess b] =  E[b] ( R r r^T R - R )

which needs one inverse of the symmetric positive definite ``T`` (never of ``S``: a
cloud may be a single point, ``S = 0``). For a kernel bump ``c sqrt(det Sigma) =
sigma^d``, so the amplitude is kept as ``log_amp = log c + (1/2) log det Sigma``.
"""

from __future__ import annotations

import numpy as np

from .resources import check_history

__all__ = ["bump_moments", "moment_terms", "inv_logdet", "BumpDiscriminator"]


def inv_logdet(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse and log-determinant of a stack of symmetric positive definite matrices.

    ``t`` has shape ``(..., d, d)``; closed forms for ``d = 1, 2`` (the common case,
    several times faster than the batched LAPACK calls), ``numpy.linalg`` otherwise.
    """
    d = t.shape[-1]
    if d == 1:
        return 1.0 / t, np.log(t[..., 0, 0])
    if d == 2:
        a, b, c, e = t[..., 0, 0], t[..., 0, 1], t[..., 1, 0], t[..., 1, 1]
        det = a * e - b * c
        inv = np.empty_like(t)
        inv[..., 0, 0] = e / det
        inv[..., 0, 1] = -b / det
        inv[..., 1, 0] = -c / det
        inv[..., 1, 1] = a / det
        return inv, np.log(det)
    return np.linalg.inv(t), np.linalg.slogdet(t)[1]


def moment_terms(log_amp, r: np.ndarray, t: np.ndarray):
    """Moments of bumps in the ``T``-form of the module docstring (trusted inputs).

    Parameters
    ----------
    log_amp : array broadcastable to ``r.shape[:-1]``
        ``log c + (1/2) log det Sigma`` of each bump.
    r : (..., d) array
        ``e - m``: cloud mean minus bump centre.
    t : (..., d, d) array
        ``Sigma + S``: bump covariance plus cloud covariance.

    Returns
    -------
    value : (...) array
        ``E[b]``.
    rr : (..., d) array
        ``R r``, so that ``E[grad b] = -value * rr``.
    inv : (..., d, d) array
        ``R = T^(-1)``, so that ``E[Hess b] = value * (rr rr^T - R)``.
    """
    inv, logdet = inv_logdet(t)
    d = r.shape[-1]
    if d > 3:
        rr = np.einsum("...ij,...j->...i", inv, r)
        quad = np.einsum("...i,...i->...", r, rr)
    else:  # a few elementwise products beat einsum's small inner loops (measured ~2x, d = 2)
        rr = np.empty(np.broadcast_shapes(r.shape, inv.shape[:-1]))
        for i in range(d):
            acc = inv[..., i, 0] * r[..., 0]
            for j in range(1, d):
                acc += inv[..., i, j] * r[..., j]
            rr[..., i] = acc
        quad = r[..., 0] * rr[..., 0]
        for i in range(1, d):
            quad += r[..., i] * rr[..., i]
    value = np.exp(log_amp - 0.5 * logdet - 0.5 * quad)
    return value, rr, inv


def bump_moments(c, m, cov, e, s):
    """``E[b]``, ``E[grad b]`` and ``E[Hess b]`` of bumps under Gaussian clouds.

    The bump is ``b(u) = c exp(-(1/2) (u - m)^T cov^(-1) (u - m))`` and ``y ~ N(e, s)``
    (theory section 11, "Bump moments in closed form"). Leading dimensions broadcast.

    Parameters
    ----------
    c : array, shape ``(...)``
        Bump heights.
    m : (..., d) array
        Bump centres.
    cov : (..., d, d) array
        Bump covariances ``P^(-1)`` (symmetric positive definite).
    e : (..., d) array
        Cloud means.
    s : (..., d, d) array
        Cloud covariances (symmetric positive semidefinite; ``0`` for a point).

    Returns
    -------
    value : (...) array
    grad : (..., d) array
    hess : (..., d, d) array

    Examples
    --------
    A bump of width 1 at 0 averaged over ``N(1, 0)`` is its value at 1:

    >>> v, g, h = bump_moments(1.0, [0.0], [[1.0]], [1.0], [[0.0]])
    >>> bool(np.isclose(v, np.exp(-0.5))), bool(np.isclose(g[0], -np.exp(-0.5)))
    (True, True)
    """
    m = np.asarray(m, dtype=float)
    e = np.asarray(e, dtype=float)
    cov = np.asarray(cov, dtype=float)
    s = np.asarray(s, dtype=float)
    c = np.asarray(c, dtype=float)
    if m.ndim < 1 or cov.shape[-2:] != (m.shape[-1], m.shape[-1]):
        raise ValueError(f"cov must have shape (..., d, d) matching m (..., d); got {cov.shape} "
                         f"and {m.shape}")
    if e.shape[-1:] != m.shape[-1:] or s.shape[-2:] != cov.shape[-2:]:
        raise ValueError(f"e (..., d) and s (..., d, d) must match m's d = {m.shape[-1]}; got "
                         f"{e.shape} and {s.shape}")
    if np.any(c <= 0):
        raise ValueError("c must be > 0")
    if np.any(np.linalg.eigvalsh(cov) <= 0) or np.any(np.linalg.eigvalsh(s) < 0):
        raise ValueError("cov must be positive definite and s positive semidefinite")
    _, logdet_cov = inv_logdet(cov)
    t = cov + s
    value, rr, inv = moment_terms(np.log(c) + 0.5 * logdet_cov, e - m, t)
    grad = -value[..., None] * rr
    hess = value[..., None, None] * (rr[..., :, None] * rr[..., None, :] - inv)
    return value, grad, hess


class BumpDiscriminator:
    """Discriminators of ``B`` cells as sums of Gaussian bumps (theory section 11; trusted inputs).

    Each cell's ``f`` is ``sum_l w_l`` times the Gaussian kernel of width ``sigma_l`` averaged
    over its bumps' clouds: *static* bumps at fixed centres with cloud ``0`` (the true points,
    coefficient ``c_true p_i``, and a start's generated points, ``-c_start q_i``) and a ring
    buffer of *history* slices, one bump per cluster and past step, with the cluster's mean,
    covariance and coefficient (``-eta_d Q_j`` when added). A Gaussian kernel is one scale;
    cells with fewer scales than others are padded with weight 0.

    Truncation (``tol``): the oldest slice is dropped while, in every live cell, the mass
    dropped so far stays within ``tol`` times the cell's total coefficient mass
    (:mod:`kernelgda.moments`, "History truncation"). ``dropped`` is per cell.

    Parameters
    ----------
    sigmas, weights : (B, L) arrays
    centres : (B, M, d) array
    p : (B, m) array
        True-point weights (the first ``m`` static centres).
    q_start : (B, M - m) array
        Weights of the start's generated points (the other static centres).
    c_start : (B,) array
        Initial ``c_true`` and ``c_start`` (``1 / lam`` at a fixed point's ``f*``, else 0).
    num_clusters : int
    tol : float or None
    capacity : int
        Initial ring size (grows when full).
    """

    def __init__(self, sigmas, weights, centres, p, q_start, c_start, num_clusters, tol, capacity):
        self.sigmas, self.weights = sigmas, weights
        num_cells, _, d = centres.shape
        self.eye = np.eye(d)
        self.log_amp = d * np.log(sigmas)  # log c + (1/2) log det Sigma = d log sigma_l
        self.centres, self.p, self.q_start = centres, p, q_start
        self.c_true, self.c_start = c_start.copy(), c_start.copy()
        self.tol = tol
        cap = max(2, capacity if tol is None else min(capacity, 256))
        check_history(cap, num_clusters, d * d + d + 1, num_runs=num_cells,
                      what="Gaussian-closure history")  # refuse before allocating (one line)
        self.h_mean = np.zeros((num_cells, cap, num_clusters, d))
        self.h_cov = np.zeros((num_cells, cap, num_clusters, d, d))
        self.h_coef = np.zeros((num_cells, cap, num_clusters))
        self.start = self.stop = 0
        self.dropped = np.zeros(num_cells)  # coefficient mass dropped so far (decayed)
        self.live = np.ones(num_cells, dtype=bool)

    @property
    def num_slices(self) -> int:
        return self.stop - self.start

    def retire(self, cells) -> None:
        """Zero the discriminators of ``cells`` (diverged runs) so they stay finite and inert."""
        self.live[cells] = False
        self.h_coef[cells] = 0.0
        self.c_true[cells] = self.c_start[cells] = 0.0

    def decay(self, factor) -> None:
        """Multiply every cell's ``f`` by its ``factor`` (``(B,)``, the ``1 - eta_d lam`` of (D))."""
        self.c_true *= factor
        self.c_start *= factor
        self.h_coef[:, self.start:self.stop] *= factor[:, None, None]
        self.dropped *= factor

    def add(self, amount, mean, cov, coef) -> None:
        """Add ``amount K(., X) p`` (``(B,)``) and one history slice of cluster bumps."""
        self.c_true += np.where(self.live, amount, 0.0)
        if self.stop == self.h_mean.shape[1]:
            live = self.num_slices
            for name in ("h_mean", "h_cov", "h_coef"):
                old = getattr(self, name)
                new = old if 2 * live <= old.shape[1] else np.zeros(
                    (old.shape[0], 2 * old.shape[1]) + old.shape[2:])
                new[:, :live] = old[:, self.start:self.stop].copy()
                setattr(self, name, new)
            self.start, self.stop = 0, live
        k = self.stop
        self.h_mean[:, k], self.h_cov[:, k] = mean, cov
        self.h_coef[:, k] = np.where(self.live[:, None], coef, 0.0)
        self.stop += 1
        if self.tol is not None:
            self._truncate()

    def mass(self) -> np.ndarray:
        """Per cell: total absolute coefficient mass of ``f`` plus what was dropped, ``(B,)``."""
        return (np.abs(self.c_true) * self.p.sum(axis=1) + np.abs(self.c_start) * self.q_start.sum(axis=1)
                + np.abs(self.h_coef[:, self.start:self.stop]).sum(axis=(1, 2)) + self.dropped)

    def _truncate(self) -> None:
        budget = self.tol * self.mass()
        while self.num_slices > 1:
            oldest = np.abs(self.h_coef[:, self.start]).sum(axis=1)
            if np.any((self.dropped + oldest > budget) & self.live):
                break
            self.dropped += oldest
            self.start += 1

    def field(self, e: np.ndarray, s: np.ndarray):
        """``E[grad f]`` ``(B, J, d)`` and ``E[Hess f]`` ``(B, J, d, d)`` under ``N(e, S)``."""
        lo, hi = self.start, self.stop
        num_cells, num, d = e.shape
        static = np.concatenate([self.c_true[:, None] * self.p,
                                 -self.c_start[:, None] * self.q_start], axis=1)
        groups = [(self.centres, None, static)]
        if hi > lo:
            groups.append((self.h_mean[:, lo:hi].reshape(num_cells, -1, d),
                           self.h_cov[:, lo:hi].reshape(num_cells, -1, d, d),
                           self.h_coef[:, lo:hi].reshape(num_cells, -1)))
        grad = np.zeros_like(e)
        hess = np.zeros_like(s)
        for centres, covs, coefs in groups:
            r = e[:, :, None, :] - centres[:, None, :, :]  # (B, J, N, d)
            base = s[:, :, None] if covs is None else s[:, :, None] + covs[:, None]
            for sig, wt, log_amp in zip(self.sigmas.T, self.weights.T, self.log_amp.T, strict=True):
                t = base + (sig**2)[:, None, None, None, None] * self.eye
                value, rr, inv = moment_terms(log_amp[:, None, None], r, t)
                we = value * (wt[:, None, None] * coefs[:, None, :])  # (B, J, N)
                # Sums over bumps as batched matrix products (BLAS), not einsum's inner loops.
                grad -= np.matmul(we[..., None, :], rr)[..., 0, :]
                hess += np.matmul((we[..., None] * rr).swapaxes(-1, -2), rr)
                if inv.shape[2] == 1:  # static bumps: T = sigma^2 I + S_j, one per cluster
                    hess -= we.sum(axis=-1)[..., None, None] * inv[:, :, 0]
                else:
                    hess -= np.matmul(we[..., None, :], inv.reshape(num_cells, num, -1, d * d)
                                      )[..., 0, :].reshape(num_cells, num, d, d)
        return grad, hess
