"""Fixed points of GDA: Newton's method on ``grad f*(y_j) = 0`` (theory section 3).

``(f*, Y*)`` is a fixed point iff ``f* = (K(., X) p - K(., Y*) q) / lam`` and
``grad f*(y_j*) = 0`` for every ``j``. The second condition does not involve
``lam`` or the learning rates; we solve ``G(Y) = lam grad f*(Y) = 0`` with

    G_j(Y)   = sum_i p_i grad_u K(y_j, x_i) - sum_l q_l grad_u K(y_j, y_l)
    dG_j/dy_j = lam hess f*(y_j) - q_j d_u d_v^T K(y_j, y_j)
    dG_j/dy_l = -q_l d_u d_v^T K(y_j, y_l)                       (l != j)

with ``lam hess f*(y_j) = sum_i p_i hess_u K(y_j, x_i) - sum_l q_l hess_u K(y_j, y_l)``
(the ``l = j`` term of ``G_j``, ``grad_u K(y_j, y_j)``, moves with ``y_j`` through both
arguments). For a radial kernel ``d_u d_v^T K = -hess_u K`` and the ``l = j`` terms
cancel; the code uses the kernel's two second derivatives and holds for any kernel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _validate as V
from .game import KernelGAN

__all__ = ["Equilibrium", "find_equilibrium", "stationarity", "fstar_hessians"]

#: Newton stops when ``max_j |G_j| <= TOL * (sum p + sum q) * grad_bound``: relative to
#: the largest gradient any term of ``G`` can have, 1e-12 leaves a margin of ~1e4 over
#: rounding in the sums.
TOL = 1e-12
#: Trust region: a Newton step moves no point further than ``MAX_STEP * sigma`` (the
#: linear model of ``G`` holds on the scale ``sigma``; beyond it every gradient vanishes and
#: a full step could land in that flat far region, a spurious "fixed point").
MAX_STEP = 0.5
#: Extra Newton steps taken after convergence while they still reduce the residual.
POLISH_STEPS = 2
#: Generated points closer than ``SNAP_TOL * sigma`` after Newton are merged when the merged
#: configuration is still a fixed point (``_snap_clusters``).
SNAP_TOL = 1e-3
#: With ``lam = 0`` a fixed point needs ``MMD^2 <= MMD_TOL * (sum p)^2`` (a perfect match).
MMD_TOL = 1e-10


@dataclass(frozen=True, eq=False)
class Equilibrium:
    """A fixed point found by :func:`find_equilibrium`.

    Attributes
    ----------
    y : (n, d) array
        Fixed-point locations ``Y*``.
    q : (n,) array
        Generated weights.
    residual : float
        ``max_j |grad f*(y_j*)|`` (for ``lam = 0``: ``max_j |G_j|``, module docstring).
    iterations : int
    converged : bool
    message : str
    residuals : tuple of float
        ``max_j |G_j|`` after each Newton iteration (quadratic convergence shows here).
    """

    y: np.ndarray
    q: np.ndarray
    residual: float
    iterations: int
    converged: bool
    message: str
    residuals: tuple = ()


def stationarity(gan: KernelGAN, y: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``G(Y) = lam grad f*(Y)``, shape ``(n, d)`` (trusted inputs)."""
    k = gan.kernel
    return k.pair_grad(y, gan.x_true).transpose(0, 2, 1) @ gan.p_true \
        - k.pair_grad(y, y).transpose(0, 2, 1) @ q


def fstar_hessians(gan: KernelGAN, y: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``lam hess f*(y_j)``, shape ``(n, d, d)``: ``sum_i p_i d2K(y_j, x_i) - sum_l q_l d2K(y_j, y_l)``."""
    k = gan.kernel
    hx = np.einsum("nmab,m->nab", k.pair_hessian(y, gan.x_true), gan.p_true)
    hy = np.einsum("nlab,l->nab", k.pair_hessian(y, y), q)
    return hx - hy


def _jacobian(gan, y, q):
    n, d = y.shape
    # Blocks -q_l d_u d_v^T K(y_j, y_l); the diagonal adds lam hess f*(y_j) (module docstring).
    jac = np.einsum("jlab,l->jlab", -gan.kernel.pair_mixed(y, y), q)
    jac[np.arange(n), np.arange(n)] = fstar_hessians(gan, y, q) + jac[np.arange(n), np.arange(n)]
    return jac.transpose(0, 2, 1, 3).reshape(n * d, n * d)


def _snap_clusters(gan, y, q, g, res, limit):
    """Merge generated points closer than ``SNAP_TOL * sigma`` when the merged configuration
    is still a fixed point (residual at most ``max(res, limit)``).

    Along a neutral spread direction (several points sharing one true point's mass) the
    residual vanishes like the cube of the spread, so Newton stops with the points ~1e-5
    sigma apart; linearizing there would count them as distinct locations and add spurious
    ``1 - eta_d lam`` modes (theory section 4).
    """
    n = y.shape[0]
    sigma = gan.kernel.length_scale
    label = np.arange(n)
    for j in range(n):
        for l in range(j):
            if np.linalg.norm(y[j] - y[l]) < SNAP_TOL * sigma:
                label[label == label[j]] = label[l]
    if np.unique(label).size == n:
        return y, g, res
    merged = y.copy()
    for lab in np.unique(label):
        members = label == lab
        merged[members] = (q[members] @ y[members]) / q[members].sum()
    g_new = stationarity(gan, merged, q)
    res_new = float(np.abs(g_new).max())
    if res_new <= max(res, limit):
        return merged, g_new, res_new
    return y, g, res


def find_equilibrium(gan: KernelGAN, y0, q, *, tol: float = TOL, max_iter: int = 100
                     ) -> Equilibrium:
    """Find a fixed point ``Y*`` near ``y0`` by damped Newton on ``grad f*(Y) = 0``.

    Parameters
    ----------
    gan : KernelGAN
    y0 : (n, d) array
        Starting locations.
    q : (n,) array or scalar
        Generated weights ``q_j > 0``.
    tol : float
        Relative stopping tolerance (see :data:`TOL`).
    max_iter : int
        Maximum number of Newton iterations.

    Returns
    -------
    Equilibrium
        With ``converged=False`` and a message when Newton fails; never raises
        on a normal failure.

    Raises
    ------
    ValueError
        For bad input, for the Laplacian kernel at coincident points, and for
        ``lam = 0`` when the converged point is not a perfect match (then ``f*``
        does not exist, theory section 3).

    Notes
    -----
    Uses the analytic Jacobian (module docstring) with least-squares steps, so
    coincident generated points (whose spread directions may be neutral and the
    Jacobian singular) are handled; convergence is quadratic where the Jacobian
    is regular. Steps are capped at :data:`MAX_STEP` ``* sigma`` per point and
    a backtracking line search on ``max |G|`` keeps the iteration from jumping
    to a far fixed point.

    Examples
    --------
    >>> import kernelgda as kg
    >>> gan = kg.KernelGAN([[0.0], [3.0]], [1.0, 1.0], kg.Gaussian(sigma=1.0), lam=0.5)
    >>> eq = kg.find_equilibrium(gan, [[0.1], [2.9]], [1.0, 1.0])
    >>> eq.converged, bool(np.allclose(eq.y, [[0.0], [3.0]], atol=1e-10))
    (True, True)
    """
    if not isinstance(gan, KernelGAN):
        raise ValueError(f"gan must be a KernelGAN, got {type(gan).__name__}")
    y, q = gan.check_generated(y0, q)
    tol = V.scalar(tol, "tol", positive=True)
    max_iter = V.integer(max_iter, "max_iter", minimum=1)
    scale = (gan.p_true.sum() + q.sum()) * gan.kernel.grad_scale(np.concatenate([gan.x_true, y]))
    g = stationarity(gan, y, q)
    res = float(np.abs(g).max())
    history = [res]
    it = 0
    converged = bool(res <= tol * scale)
    while not converged and it < max_iter:
        it += 1
        jac = _jacobian(gan, y, q)
        step = np.linalg.lstsq(jac, -g.ravel(), rcond=None)[0].reshape(y.shape)
        longest = float(np.linalg.norm(step, axis=1).max())
        if longest > MAX_STEP * gan.kernel.length_scale:
            step *= MAX_STEP * gan.kernel.length_scale / longest
        t = 1.0
        while True:
            y_new = y + t * step
            g_new = stationarity(gan, y_new, q)
            res_new = float(np.abs(g_new).max())
            if res_new < res or t < 1e-6:
                break
            t *= 0.5
        if not np.isfinite(res_new) or res_new >= res:
            break
        y, g, res = y_new, g_new, res_new
        history.append(res)
        converged = bool(res <= tol * scale)
    # Polish: up to POLISH_STEPS more Newton steps while they still reduce the residual.
    # At the stopping tolerance Y* can still be off by ~1e-11 along directions where the
    # Jacobian is nearly singular; an exact run then drifts to the true fixed point, which a
    # rate measurement mistakes for an eigenvalue 1. One more step removes that offset.
    for _ in range(POLISH_STEPS if converged and res > 0 else 0):
        step = np.linalg.lstsq(_jacobian(gan, y, q), -g.ravel(), rcond=None)[0].reshape(y.shape)
        g_new = stationarity(gan, y + step, q)
        res_new = float(np.abs(g_new).max())
        if not res_new < res:
            break
        y, g, res = y + step, g_new, res_new
        history.append(res)
        it += 1
    if converged and gan.kernel.smooth:
        y, g, res = _snap_clusters(gan, y, q, g, res, tol * scale)
    if converged:
        message = f"converged in {it} Newton iterations (max |lam grad f*| = {res:.2e})"
    else:
        message = (f"Newton did not converge after {it} iterations: max |lam grad f*| = "
                   f"{res:.2e} > {tol * scale:.2e}")
    if gan.lam == 0:
        if converged:
            mmd2 = gan.mmd2(y, q)
            if mmd2 > MMD_TOL * gan.p_true.sum() ** 2:
                raise ValueError(
                    f"lam = 0: the stationary point found has MMD^2 = {mmd2:.3g} > 0, so "
                    "f* = (K(., X) p - K(., Y*) q) / lam does not exist; a fixed point with "
                    "lam = 0 needs a perfect match of the generated and true distributions")
        residual = res
    else:
        residual = res / gan.lam
    return Equilibrium(y=y, q=q, residual=residual, iterations=it, converged=converged,
                       message=message, residuals=tuple(history))
