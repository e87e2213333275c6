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

__all__ = ["bump_moments", "moment_terms", "inv_logdet"]


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
