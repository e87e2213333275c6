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

With a parametric generator ``Y = G(theta, Z)`` (theory section 12) the fixed points are the
``theta*`` with ``R(theta) = J^T Q G(Y(theta)) = 0``: the stationary points of
``MMD^2(theta)``, whose gradient is ``-2 J^T Q G``. :func:`find_equilibrium` minimizes
``MMD^2(theta)`` (L-BFGS), then takes least-squares Newton steps on ``R`` with
``dR/dtheta = J^T Q (dG/dY) J + d/dtheta [J^T v]`` at ``v = Q G`` (least squares, since
reparametrizations of the generator make it singular).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _validate as V
from .game import KernelGAN
from .generators import Generator, Points, check_smooth
from .resources import check_bytes, format_count, pairwise_bytes
from .status import Status

__all__ = ["Equilibrium", "find_equilibrium", "stationarity", "stationarity_jacobian", "fstar_hessians",
           "data_pull", "mmd2_hessian"]

#: Newton stops when ``max_j |G_j| <= TOL * (sum p + sum q) * kernel.grad_scale(X, Y0)``
#: (``grad_bound`` for a radial kernel): relative to the largest gradient any term of ``G``
#: can have, 1e-12 leaves a margin of ~1e4 over rounding in the sums.
TOL = 1e-12
#: Trust region: a Newton step moves no point further than ``MAX_STEP`` times the kernel's
#: length scale ``L`` (``sigma``; the linear model of ``G`` holds on that scale; beyond it
#: every gradient vanishes and a full step could land in that flat far region).
MAX_STEP = 0.5
#: Extra Newton steps taken after convergence while they still reduce the residual.
POLISH_STEPS = 2
#: Generated points closer than ``SNAP_TOL * L`` after Newton are merged when the merged
#: configuration is still a fixed point (``_snap_clusters``).
SNAP_TOL = 1e-3
#: A point whose pull from the data, ``sum_i p_i (|K(y_j, x_i)| / L + |grad_u K(y_j, x_i)|)``
#: (``L`` the kernel's length scale), is below ``STALL_MARGIN`` times the stopping
#: tolerance meets that tolerance wherever it is put within a length scale: ``G_j`` has
#: underflowed, it has not cancelled. Such an end point is a stall (theory section 10).
#: Newton stops a Gaussian stall ~8 sigma out, where the pull is ~0.1 of the tolerance;
#: 1e3 flags it with a factor 1e4 to spare, and a genuine fixed point is flagged only when
#: the data's terms are within 1e3 of the tolerance (Gaussian: ~6.8 sigma from all data).
STALL_MARGIN = 1e3
#: Newton that ends unconverged with a point ``WALK_LIMIT`` length scales further from the
#: data than it started is following ``grad f* -> 0`` at infinity (heavy-tailed kernels such
#: as the rational quadratic with ``alpha <= 1``, whose gradient never underflows): a stall.
WALK_LIMIT = 10.0
#: With ``lam = 0`` a fixed point needs ``MMD^2 <= MMD_TOL * (sum p)^2`` (a perfect match).
MMD_TOL = 1e-10
#: A generator's fixed point is *perfect-gradient* when every ``|G_j| = lam |grad f*(y_j*)|``
#: is below ``GRADIENT_TOL`` times the scale of ``G`` (:data:`TOL`'s scale), *parametric*
#: otherwise (only ``J^T Q G`` vanishes; theory section 12). Newton leaves ``G`` at ~1e-12 of
#: that scale at a perfect-gradient point; at a parametric one it is of order one.
GRADIENT_TOL = 1e-7
#: Parametric generators with more parameters than this skip the Newton polish (its dense
#: ``P x P`` Jacobian) and end with the quasi-Newton minimization of ``MMD^2``.
NEWTON_MAX_PARAMS = 2000


@dataclass(frozen=True, eq=False, init=False)
class Equilibrium:
    """A fixed point, or a failed search for one, from :func:`find_equilibrium`.

    Attributes
    ----------
    y : (n, d) array
        Fixed-point locations ``Y*`` (where Newton stopped when ``status`` is not
        ``CONVERGED``).
    q : (n,) array
        Generated weights.
    residual : float
        ``max_j |grad f*(y_j*)|`` (for ``lam = 0``: ``max_j |G_j|``, module docstring).
    iterations : int
    status : Status
        ``CONVERGED`` (a genuine fixed point), ``NOT_CONVERGED`` or
        ``VANISHING_GRADIENT`` (a stall far from the data, theory section 10).
    message : str
    residuals : tuple of float
        ``max_j |G_j|`` after each Newton iteration (quadratic convergence shows here).
    theta : (P,) array or None
        A parametric generator's parameters ``theta*`` (``y = G(theta*, Z)``); ``None`` for
        the point model. ``residual`` is then ``max |J^T Q grad f*|``.
    generator : Generator or None
        The generator whose fixed point this is.
    gradient_kind : str or None
        For a generator: ``"perfect-gradient"`` (every ``grad f*(y_j*) = 0``) or
        ``"parametric"`` (only ``J^T Q grad f*`` vanishes; theory section 12).

    ``Equilibrium(..., converged=True, ...)`` is accepted in place of ``status``
    (``CONVERGED`` or ``NOT_CONVERGED``).

    Examples
    --------
    >>> import kernelgda as kg
    >>> gan = kg.KernelGAN([[0.0]], 1.0, kg.Gaussian(sigma=1.0), lam=1.0)
    >>> eq = kg.find_equilibrium(gan, [[0.1]], 1.0)
    >>> eq.status.name, bool(abs(eq.y[0, 0]) < 1e-12)   # the perfect fit y* = x
    ('CONVERGED', True)
    """

    y: np.ndarray
    q: np.ndarray
    residual: float
    iterations: int
    status: Status
    message: str
    residuals: tuple = ()
    theta: np.ndarray | None = None
    generator: Generator | None = None
    gradient_kind: str | None = None

    def __init__(self, y, q, residual, iterations, status=None, message="", residuals=(), *,
                 converged=None, theta=None, generator=None, gradient_kind=None):
        if isinstance(status, bool):  # the former positional ``converged``
            status, converged = None, status
        if status is None:
            if converged is None:
                raise ValueError("Equilibrium needs a status (or converged=True/False)")
            status = Status.CONVERGED if converged else Status.NOT_CONVERGED
        if not isinstance(status, Status):
            raise ValueError(f"status must be a kernelgda.status.Status, got {status!r}")
        for name, value in (("y", y), ("q", q), ("residual", residual), ("iterations", iterations),
                            ("status", status), ("message", message),
                            ("residuals", tuple(residuals)), ("theta", theta),
                            ("generator", generator), ("gradient_kind", gradient_kind)):
            object.__setattr__(self, name, value)

    @property
    def converged(self) -> bool:
        """True only for a genuine fixed point (``status`` is ``CONVERGED``)."""
        return self.status is Status.CONVERGED


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


def stationarity_jacobian(gan: KernelGAN, y: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``dG/dY``, shape ``(n d, n d)`` with rows and columns ordered (point, coordinate)
    (module docstring; trusted inputs)."""
    return _jacobian(gan, y, q)


def _jacobian(gan, y, q):
    n, d = y.shape
    # Blocks -q_l d_u d_v^T K(y_j, y_l); the diagonal adds lam hess f*(y_j) (module docstring).
    jac = np.einsum("jlab,l->jlab", -gan.kernel.pair_mixed(y, y), q)
    jac[np.arange(n), np.arange(n)] = fstar_hessians(gan, y, q) + jac[np.arange(n), np.arange(n)]
    return jac.transpose(0, 2, 1, 3).reshape(n * d, n * d)


def _snap_clusters(gan, y, q, g, res, limit):
    """Merge generated points closer than ``SNAP_TOL * L`` when the merged configuration
    is still a fixed point (residual at most ``max(res, limit)``).

    Along a neutral spread direction (several points sharing one true point's mass) the
    residual vanishes like the cube of the spread, so Newton stops with the points ~1e-5
    L apart; linearizing there would count them as distinct locations and add spurious
    ``1 - eta_d lam`` modes (theory section 4).
    """
    n = y.shape[0]
    scale = gan.kernel.length_scale
    label = np.arange(n)
    for j in range(n):
        for l in range(j):
            if np.linalg.norm(y[j] - y[l]) < SNAP_TOL * scale:
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
    y0 : (n, d) array or Generator
        Starting locations, or a parametric generator (:mod:`kernelgda.generators`) started
        from its ``theta``: then ``theta*`` with ``J^T Q grad f* = 0`` is sought (module
        docstring) and the result carries ``theta``, ``generator`` and ``gradient_kind``.
    q : (n,) array or scalar
        Generated weights ``q_j > 0``.
    tol : float
        Relative stopping tolerance (see :data:`TOL`).
    max_iter : int
        Maximum number of Newton iterations.

    Returns
    -------
    Equilibrium
        ``status`` is ``CONVERGED`` for a genuine fixed point, ``NOT_CONVERGED``
        when Newton fails, and ``VANISHING_GRADIENT`` for a stall: the tolerance
        was met only because a point ended beyond the kernel's reach from every
        true point (:data:`STALL_MARGIN`), or Newton walked a point more than
        :data:`WALK_LIMIT` length scales away from the data (theory section 10,
        "Stall points are not fixed points"). Never raises on a normal failure.

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
    is regular. Steps are capped at :data:`MAX_STEP` times the kernel's length
    scale per point and a backtracking line search on ``max |G|`` keeps the
    iteration from jumping to a far fixed point. The tolerance is relative to
    ``(sum p + sum q) kernel.grad_scale(...)``, the largest gradient one term of
    ``G`` can have.

    Examples
    --------
    >>> import kernelgda as kg
    >>> gan = kg.KernelGAN([[0.0], [3.0]], [1.0, 1.0], kg.Gaussian(sigma=1.0), lam=0.5)
    >>> eq = kg.find_equilibrium(gan, [[0.1], [2.9]], [1.0, 1.0])
    >>> eq.converged, bool(np.allclose(eq.y, [[0.0], [3.0]], atol=1e-10))
    (True, True)

    A start far out on the Gaussian's flat tail ends at a stall, not a fixed point:

    >>> gan = kg.KernelGAN([[0.0, 0.0]], 1.0, kg.Gaussian(sigma=0.3), lam=0.5)
    >>> kg.find_equilibrium(gan, [[0.9, 0.0]], 0.8).status.label
    'vanishing_gradient'
    """
    if not isinstance(gan, KernelGAN):
        raise ValueError(f"gan must be a KernelGAN, got {type(gan).__name__}")
    if isinstance(y0, Points):
        y0 = y0.points(y0.theta)
    elif isinstance(y0, Generator):
        return _find_parametric(gan, y0, q, tol=tol, max_iter=max_iter)
    y, q = gan.check_generated(y0, q)
    y_start = y
    tol = V.scalar(tol, "tol", positive=True)
    max_iter = V.integer(max_iter, "max_iter", minimum=1)
    (n, d), m = y.shape, gan.x_true.shape[0]  # Newton's dense pairwise blocks, refused before allocating
    check_bytes(pairwise_bytes(n, n + m, d * d), "fixed point", hint="use fewer generated points",
                detail=f"{format_count(n)} x {format_count(n + m)} x {d} x {d} float64 kernel Hessians")
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
    status, message = _classify(gan, y_start, y, converged, it, res, tol * scale)
    if gan.lam == 0:
        if status is Status.CONVERGED:
            mmd2 = gan.mmd2(y, q)
            if mmd2 > MMD_TOL * gan.p_true.sum() ** 2:
                raise ValueError(
                    f"lam = 0: the stationary point found has MMD^2 = {mmd2:.3g} > 0, so "
                    "f* = (K(., X) p - K(., Y*) q) / lam does not exist; a fixed point with "
                    "lam = 0 needs a perfect match of the generated and true distributions")
        residual = res
    else:
        residual = res / gan.lam
    return Equilibrium(y=y, q=q, residual=residual, iterations=it, status=status,
                       message=message, residuals=tuple(history))


def data_pull(gan: KernelGAN, y: np.ndarray) -> np.ndarray:
    """How strongly the data act on each point: ``sum_i p_i (|K(y_j, x_i)| / L + |grad_u K(y_j, x_i)|)``.

    ``L`` is the kernel's length scale; shape ``(n,)`` (trusted input). Far beyond the
    kernel's reach from every true point this underflows (theory section 10); for a
    heavy-tailed or multiscale kernel the reach is that of its slowest-decaying part, and
    the value term keeps a point sitting on a true point (where the gradient is 0) in reach.
    """
    k = gan.kernel
    g = k.pair_grad(y, gan.x_true)
    per_pair = np.abs(k.pair_value(y, gan.x_true)) / k.length_scale + np.sqrt((g * g).sum(-1))
    return per_pair @ gan.p_true


def _nearest_data(gan, y):
    diff = y[:, None, :] - gan.x_true[None, :, :]
    return np.sqrt((diff * diff).sum(-1)).min(axis=1)


def _classify(gan, y0, y, converged, it, res, limit):
    """Status and message: a genuine fixed point, a failure, or a stall (theory section 10)."""
    scale = gan.kernel.length_scale
    if converged:
        pull = data_pull(gan, y)
        j = int(np.argmin(pull))
        if pull[j] <= STALL_MARGIN * limit:
            return Status.VANISHING_GRADIENT, (
                f"vanishing gradient, not a fixed point: after {it} Newton iterations point {j} "
                f"sits {_nearest_data(gan, y[j:j + 1])[0] / scale:.3g} length scales from the "
                f"nearest true point, where the data's pull ({pull[j]:.2e}) is within "
                f"{STALL_MARGIN:g}x of the tolerance ({limit:.2e}): grad f* has underflowed, "
                "the generator stalls there")
        return Status.CONVERGED, (f"converged in {it} Newton iterations "
                                  f"(max |lam grad f*| = {res:.2e})")
    walked = (_nearest_data(gan, y) - _nearest_data(gan, y0)) / scale
    j = int(np.argmax(walked))
    if walked[j] > WALK_LIMIT:
        return Status.VANISHING_GRADIENT, (
            f"vanishing gradient, not a fixed point: Newton walked point {j} {walked[j]:.3g} length "
            f"scales away from the data in {it} iterations without meeting the tolerance "
            f"(max |lam grad f*| = {res:.2e} > {limit:.2e}); grad f* vanishes only at infinity")
    return Status.NOT_CONVERGED, (f"Newton did not converge after {it} iterations: "
                                  f"max |lam grad f*| = {res:.2e} > {limit:.2e}")


def _parametric_residual(gan, gen, theta, q):
    """``(Y, G, J, R = J^T Q G)`` at ``theta``."""
    y = gen.points(theta)
    g = stationarity(gan, y, q)
    jac = gen.jacobian(theta)
    return y, g, jac, jac.T @ (np.repeat(q, gan.d) * g.ravel())


def _symmetric_solve(a, b):
    """Least-squares (minimum-norm) solution of ``a s = b`` for a symmetric ``a`` (the Hessian of
    ``MMD^2 / -2``): eigenvalues below ``1e-12`` of the largest (reparametrizations) are dropped."""
    w, v = np.linalg.eigh(0.5 * (a + a.T))
    keep = np.abs(w) > 1e-12 * max(float(np.abs(w).max()), 1e-300)
    return v[:, keep] @ ((v[:, keep].T @ b) / w[keep])


def _find_parametric(gan, gen, q, *, tol, max_iter):
    """Fixed point of a parametric generator (module docstring; theory section 12)."""
    from scipy.optimize import minimize  # lazy: scipy.optimize costs ~0.15 s to import

    tol = V.scalar(tol, "tol", positive=True)
    max_iter = V.integer(max_iter, "max_iter", minimum=1)
    if gen.d != gan.d:
        raise ValueError(f"the generator makes points of dimension {gen.d}, the true points have {gan.d}")
    q = V.weights(q, "q", gen.n)
    check_smooth(gen, "a generator's fixed point (Newton on J^T Q grad f* = 0)")
    n, d, m = gen.n, gen.d, gan.m
    check_bytes(pairwise_bytes(n, n + m, d * d), "fixed point", hint="use fewer generated points",
                detail=f"{format_count(n)} x {format_count(n + m)} x {d} x {d} float64 kernel Hessians")
    k, x, p = gan.kernel, gan.x_true, gan.p_true
    pkp = float(p @ k(x, x) @ p)
    qrep = np.repeat(q, d)

    def mmd2_and_grad(th):
        y = gen.points(th)
        value = pkp - 2.0 * float(p @ k(x, y) @ q) + float(q @ k(y, y) @ q)
        return value, -2.0 * gen.vjp(th, q[:, None] * stationarity(gan, y, q))

    theta = gen.theta.copy()
    y_start = gen.points(theta)
    # L-BFGS brings theta into Newton's basin (stopping when |grad MMD^2| is ~1e-10 of its scale);
    # the least-squares Newton steps below then converge quadratically.
    y0 = gen.points(theta)
    gtol = 1e-10 * (p.sum() + q.sum()) * k.grad_scale(np.concatenate([x, y0])) * q.max() \
        * max(np.linalg.norm(gen.vjp(theta, np.ones((n, d)))), 1.0)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        found = minimize(mmd2_and_grad, theta, jac=True, method="L-BFGS-B",
                         options={"maxiter": 50 * max_iter, "ftol": 0.0, "gtol": gtol})
    if np.all(np.isfinite(found.x)):
        theta = np.asarray(found.x, dtype=float)
    y, g, jac, r = _parametric_residual(gan, gen, theta, q)
    scale_g = (p.sum() + q.sum()) * k.grad_scale(np.concatenate([x, y]))
    limit = tol * scale_g * q.max() * max(np.linalg.norm(jac), 1.0)  # |R| <= |J| |Q G|
    res = float(np.abs(r).max())
    history, it = [res], 0
    newton = gen.num_params <= NEWTON_MAX_PARAMS
    # Least-squares Newton on R = J^T Q G (singular along reparametrizations), the point motion
    # |J step| capped at MAX_STEP length scales, with backtracking on max |R|; then a polish.
    polish = POLISH_STEPS
    while newton and it < max_iter and (res > limit or polish > 0):
        if res <= limit:
            polish -= 1
        a = jac.T @ (qrep[:, None] * stationarity_jacobian(gan, y, q)) @ jac \
            + gen.contraction(theta, q[:, None] * g)
        step = _symmetric_solve(a, -r)
        moved = float(np.linalg.norm((jac @ step).reshape(n, d), axis=1).max())
        if moved > MAX_STEP * k.length_scale:
            step *= MAX_STEP * k.length_scale / moved
        t = 1.0
        while True:
            new = _parametric_residual(gan, gen, theta + t * step, q)
            res_new = float(np.abs(new[3]).max())
            if res_new < res or t < 1e-6:
                break
            t *= 0.5
        if not np.isfinite(res_new) or res_new >= res:
            break
        theta = theta + t * step
        y, g, jac, r = new
        res = res_new
        history.append(res)
        it += 1
    converged = bool(res <= limit)
    g_limit = tol * scale_g
    status, message = _classify(gan, y_start, y, converged, it, float(np.abs(g).max()), g_limit)
    if status is Status.CONVERGED:
        message = (f"converged in {it} Newton iterations after the MMD^2 minimization "
                   f"(max |J^T Q lam grad f*| = {res:.2e})")
    elif status is Status.NOT_CONVERGED:
        message = (f"no fixed point of the generator: after the MMD^2 minimization and {it} Newton "
                   f"iterations max |J^T Q lam grad f*| = {res:.2e} > {limit:.2e}")
    kind = "perfect-gradient" if float(np.abs(g).max()) <= GRADIENT_TOL * scale_g else "parametric"
    if gan.lam == 0 and status is Status.CONVERGED and gan.mmd2(y, q) > MMD_TOL * p.sum() ** 2:
        raise ValueError(f"lam = 0: the generator's stationary point has MMD^2 = {gan.mmd2(y, q):.3g} > 0, "
                         "so f* does not exist; a fixed point with lam = 0 needs a perfect match")
    residual = res if gan.lam == 0 else res / gan.lam
    return Equilibrium(y=y, q=q, residual=residual, iterations=it, status=status, message=message,
                       residuals=tuple(history), theta=theta, generator=gen.with_theta(theta),
                       gradient_kind=kind)


def mmd2_hessian(gan: KernelGAN, eq: Equilibrium) -> np.ndarray:
    """Hessian of ``MMD^2`` at a fixed point: in ``theta`` (``P x P``) for a generator, in ``Y``
    (``n d x n d``) for free points.

    ``MMD^2`` has gradient ``-2 J^T Q G`` (module docstring), so its Hessian at a stationary
    point is ``-2 (J^T Q (dG/dY) J + d/dtheta [J^T v])`` with ``v = Q G`` (``J = I`` and no
    second term for free points). A fixed point is a local minimum of ``MMD^2`` when this is
    positive semidefinite; whether GDA keeps it is a different question (theory section 12).

    Examples
    --------
    >>> import kernelgda as kg
    >>> gan = kg.KernelGAN([[0.0]], 1.0, kg.Gaussian(sigma=1.0), lam=1.0)
    >>> eq = kg.find_equilibrium(gan, [[0.1]], 1.0)
    >>> float(np.round(mmd2_hessian(gan, eq), 12)[0, 0])      # 2 q p / sigma^2 at the perfect fit
    2.0
    """
    if not isinstance(gan, KernelGAN) or not isinstance(eq, Equilibrium):
        raise ValueError("mmd2_hessian(gan, eq) needs a KernelGAN and an Equilibrium")
    y, q = gan.check_generated(eq.y, eq.q)
    qrep = np.repeat(q, gan.d)
    dg = qrep[:, None] * stationarity_jacobian(gan, y, q)
    if eq.theta is None:
        hess = -2.0 * dg
    else:
        jac = eq.generator.jacobian(eq.theta)
        g = stationarity(gan, y, q)
        hess = -2.0 * (jac.T @ dg @ jac + eq.generator.contraction(eq.theta, q[:, None] * g))
    return 0.5 * (hess + hess.T)
