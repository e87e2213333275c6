"""Second-moment model (SMM): a cloud of generated points around one true point (theory section 9).

One isolated true point ``x`` of mass ``p``, ``n`` generated points of equal weight
``q`` (``Q = n q``, ``delta = p - Q``) and a radial kernel
``K(u, v) = kappa(|u - v|^2 / 2)`` described by ``g = -kappa'(0)`` and
``g2 = kappa''(0)`` (:attr:`kernelgda.kernels.Kernel.g`, ``.g2``). The state is the
mean offset ``e``, the covariance ``S`` of the points, the discriminator slope
``b = grad f(x)`` and its curvature ``C = -hess f(x)``; with ``a = eta_d lam`` and
``W = S + e e^T``:

    b+ = (1 - a) b - eta_d g Q e
    C+ = (1 - a) C + eta_d g delta I + eta_d g2 Q (W + tr(W) I / 2)
    M  = I - eta_g q C~,   e+ = M e + eta_g q b~,   S+ = M S M^T

with ``(b~, C~) = (b, C)`` (simultaneous) or ``(b+, C+)`` (alternating). Dropping
the ``g2`` term gives the linear model of theory section 5 (the spread scales by
``rho_b^2 = (1 - kappa)^2`` per step, ``(e, b)`` follow the ``rho_c`` pair), which
every run carries along for comparison.

Every function is vectorized: the parameters and the initial moments broadcast
over a leading batch of cells, so one call runs a whole parameter grid.
:func:`fall_steps` runs a grid without keeping the history (cost ``O(d^3)`` per
cell and step, memory ``O(d^2)`` per cell).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import _validate as V
from ..game import GDA, KernelGAN
from ..isolated import mass_mismatch
from ..resources import check_bytes, format_count, trajectory_bytes
from ..status import Status
from ._model import STARTS, Model, as_array, check_moments, check_params, initial, step
from .cells import fall_steps

__all__ = ["SMMResult", "DiagonalResult", "run", "run_diagonal", "from_points", "fall_steps",
           "stationary_spread", "half_life", "STARTS"]

@dataclass(frozen=True, eq=False)
class SMMResult:
    """Result of :func:`run`; ``B`` is the batch shape (``()`` for a single run).

    Attributes
    ----------
    e : ``(*B, K + 1, d)`` array
        Mean offset ``e_k`` of the generated points from the true point.
    cov : ``(*B, K + 1, d, d)`` array
        Covariance ``S_k`` of the generated points.
    b : ``(*B, K + 1, d)`` array
        Discriminator slope ``grad f(x)``.
    curvature : ``(*B, K + 1, d, d)`` array
        Discriminator curvature ``C = -hess f(x)``.
    spread : ``(*B, K + 1)`` array
        ``tr S_k``.
    linear_e, linear_spread : arrays like ``e`` and ``spread``
        The same recursion without the ``g2`` terms (the linear model of theory
        section 5); it may overflow to ``inf`` where that model diverges.
    status : Status or ``(*B,)`` int8 array
        :class:`~kernelgda.status.Status` of a single run (``DIVERGED`` when the SMM
        state became non-finite), or the status codes of a batch.
    message : str
    """

    e: np.ndarray
    cov: np.ndarray
    b: np.ndarray
    curvature: np.ndarray
    spread: np.ndarray
    linear_e: np.ndarray
    linear_spread: np.ndarray
    status: object
    message: str

    @property
    def second_moment(self) -> np.ndarray:
        """Mean squared distance to the true point, ``tr S_k + |e_k|^2``, shape ``(*B, K + 1)``."""
        with np.errstate(over="ignore", invalid="ignore"):  # inf where the run blew up
            return self.spread + (self.e**2).sum(-1)

    @property
    def linear_second_moment(self) -> np.ndarray:
        """``tr S_k + |e_k|^2`` of the linear model."""
        with np.errstate(over="ignore", invalid="ignore"):  # inf where the linear model diverges
            return self.linear_spread + (self.linear_e**2).sum(-1)


@dataclass(frozen=True, eq=False)
class DiagonalResult:
    """Result of :func:`run_diagonal` (``e = 0``, principal directions).

    Attributes
    ----------
    variance : ``(*B, K + 1, d)`` array
        Variances ``r_i`` along the principal directions.
    curvature : ``(*B, K + 1, d)`` array
        Discriminator curvatures ``c_i`` along them.
    spread : ``(*B, K + 1)`` array
        ``sum_i r_i``.
    """

    variance: np.ndarray
    curvature: np.ndarray
    spread: np.ndarray


# -- front doors -----------------------------------------------------------------------------

def _check_history(num_steps, num_cells, per_cell):
    """Refuse, in one line, a run whose stored steps (``per_cell`` float64 per cell and step)
    would not fit in memory."""
    check_bytes(trajectory_bytes(num_steps, num_cells, per_cell), "second-moment model history",
                detail=f"{format_count(num_steps + 1)} steps x {format_count(num_cells)} cells x "
                f"{per_cell} float64", hint="use fewer steps or fewer cells")


def run(kernel, *, p, q, n, lam, gda, e0, cov0, num_steps, start="equilibrium") -> SMMResult:
    """Run the second-moment model (theory section 9) and its linear counterpart.

    Parameters
    ----------
    kernel : Kernel
        A kernel with a second derivative at 0 (``g``, ``g2``); the Laplacian raises.
    p, q : float or array_like
        True mass ``p >= 0`` and the weight ``q > 0`` of each generated point.
    n : int or array_like
        Number of generated points (only ``Q = n q`` and ``q`` enter).
    lam : float or array_like
        Regularization ``lam >= 0``.
    gda : GDA
        Simultaneous or alternating, ``d_steps = 1``.
    e0 : (..., d) array_like
        Initial mean offset from the true point.
    cov0 : (..., d, d) array_like
        Initial covariance (symmetric positive semidefinite).
    num_steps : int
    start : {"equilibrium", "zero"}
        Discriminator at the isolated fixed point (``b = 0``, ``C = g delta / lam I``;
        needs ``lam > 0`` unless ``delta = 0``) or ``f0 = 0`` (``b = 0``, ``C = 0``).

    Returns
    -------
    SMMResult
        Arrays with the batch shape ``B`` (the broadcast shape of ``p, q, n, lam`` and
        the leading axes of ``e0, cov0``) in front.

    Notes
    -----
    The recursion is in the module docstring. Cost ``O(B K d^3)``.

    Examples
    --------
    >>> import kernelgda as kg
    >>> res = kg.smm.run(kg.Gaussian(sigma=1.0), p=1.0, q=1 / 16, n=16, lam=0.5,
    ...                  gda=kg.GDA(0.1, 2.0), e0=[0.0], cov0=[[0.01]], num_steps=2000)
    >>> bool(res.spread[-1] < 0.5 * res.spread[0]), round(float(res.linear_spread[-1]), 12)
    (True, 0.01)
    """
    e0, cov0, d = check_moments(e0, cov0)
    num_steps = V.integer(num_steps, "num_steps", minimum=0)
    batch = np.broadcast_shapes(e0.shape[:-1], cov0.shape[:-2])
    m = Model(kernel, p, q, n, lam, gda, batch, start)
    shape = m.shape
    # e, b, linear_e (d each), cov, curvature, linear_cov (d x d each) per cell and step, kept
    # twice while the lists are stacked: refuse before the loop fills them
    _check_history(num_steps, math.prod(shape), 2 * (3 * d + 3 * d * d))
    names = ("e", "cov", "b", "curvature", "linear_e", "linear_cov")
    hist = {name: [] for name in names}
    smm = initial(m, e0, cov0)
    lin = tuple(x.copy() for x in smm)
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(num_steps + 1):
            for name, val in zip(names, smm + lin[:2], strict=True):
                hist[name].append(val)
            if k < num_steps:
                smm = step(m, *smm, second_order=True)
                lin = step(m, *lin, second_order=False)
    axis = len(shape)  # the step axis follows the batch axes
    out = {name: np.stack(vals, axis=axis) for name, vals in hist.items()}
    spread = np.trace(out["cov"], axis1=-2, axis2=-1)
    lin_spread = np.trace(out["linear_cov"], axis1=-2, axis2=-1)
    finite = np.isfinite(out["e"]).all(axis=(-2, -1)) & np.isfinite(out["cov"]).all(axis=(-3, -2, -1))
    codes = np.where(finite, Status.COMPLETED.code, Status.DIVERGED.code).astype(np.int8)
    if codes.ndim == 0:
        status = Status(int(codes))
        message = (f"completed {num_steps} steps" if status is Status.COMPLETED
                   else "the second-moment state became non-finite")
    else:
        status = codes
        message = f"{int((codes == Status.DIVERGED.code).sum())} of {codes.size} cells diverged"
    return SMMResult(e=out["e"], cov=out["cov"], b=out["b"], curvature=out["curvature"],
                     spread=spread, linear_e=out["linear_e"], linear_spread=lin_spread,
                     status=status, message=message)


def run_diagonal(kernel, *, p, q, n, lam, gda, variances0, num_steps, start="equilibrium"
                 ) -> DiagonalResult:
    """The second-moment model along principal directions (``e = 0``; theory section 9).

    ``c_i+ = (1 - a) c_i + eta_d g delta + eta_d g2 Q (r_i + sum_j r_j / 2)`` and
    ``r_i+ = (1 - eta_g q c~_i)^2 r_i``, ``c~ = c`` (simultaneous) or ``c+`` (alternating).
    It equals :func:`run` started from ``e0 = 0`` and ``cov0 = diag(variances0)`` (the
    covariance stays diagonal in that basis).

    Parameters
    ----------
    variances0 : (..., d) array_like
        Initial variances ``r_i >= 0``.
    kernel, p, q, n, lam, gda, num_steps, start
        As in :func:`run`.

    Returns
    -------
    DiagonalResult

    Examples
    --------
    >>> import kernelgda as kg
    >>> res = kg.smm.run_diagonal(kg.Gaussian(1.0), p=1.0, q=0.1, n=10, lam=0.5,
    ...                           gda=kg.GDA(0.1, 1.0), variances0=[0.02, 0.01], num_steps=100)
    >>> res.variance.shape, bool(res.spread[-1] < res.spread[0])
    ((101, 2), True)
    """
    r0 = as_array(variances0, "variances0", nonnegative=True)
    if r0.ndim < 1 or r0.shape[-1] < 1:
        raise ValueError(f"variances0 must have shape (..., d), got {r0.shape}")
    num_steps = V.integer(num_steps, "num_steps", minimum=0)
    m = Model(kernel, p, q, n, lam, gda, r0.shape[:-1], start)
    d = r0.shape[-1]
    _check_history(num_steps, math.prod(m.shape), 2 * d)
    r = np.broadcast_to(r0, m.shape + (d,)).copy()
    c = np.broadcast_to(m.c0[..., None], m.shape + (d,)).copy()
    var = np.empty(m.shape + (num_steps + 1, d))
    curv = np.empty_like(var)
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(num_steps + 1):
            var[..., k, :] = r
            curv[..., k, :] = c
            if k == num_steps:
                break
            c_new = (m.decay[..., None] * c + m.drive[..., None]
                     + m.second[..., None] * (r + 0.5 * r.sum(-1, keepdims=True)))
            ct = c_new if m.alternating else c
            r = (1.0 - m.move[..., None] * ct) ** 2 * r
            c = c_new
    return DiagonalResult(variance=var, curvature=curv, spread=var.sum(-1))


def from_points(gan: KernelGAN, gda: GDA, y0, q, num_steps, *, start="equilibrium") -> SMMResult:
    """The SMM started from a point cloud around the single true point of ``gan``.

    ``e0`` is the mean of ``y0`` minus the true point and ``cov0`` the covariance of
    ``y0`` (equal weights, normalized by ``n``), so that the result can be put next to
    ``kg.simulate(gan, gda, y0, q, num_steps, start=...)`` on the same start.

    Parameters
    ----------
    gan : KernelGAN
        With exactly one true point.
    gda : GDA
    y0 : (n, d) array_like
    q : float or (n,) array_like
        Equal weights.
    num_steps : int
    start : {"equilibrium", "zero"}, None or Equilibrium
        ``None`` means ``f0 = 0`` and an :class:`~kernelgda.Equilibrium` (the isolated
        fixed point, every generated point on the true point) means ``"equilibrium"``,
        as for :func:`kernelgda.simulate`.

    Returns
    -------
    SMMResult

    Examples
    --------
    >>> import kernelgda as kg
    >>> gan = kg.KernelGAN([[0.0]], 1.0, kg.Gaussian(sigma=1.0), lam=0.5)
    >>> res = kg.smm.from_points(gan, kg.GDA(0.1, 1.0), [[-0.1], [0.1]], 0.5, 10)
    >>> round(float(res.spread[0]), 12), float(res.e[0, 0])
    (0.01, 0.0)
    """
    if not isinstance(gan, KernelGAN):
        raise ValueError(f"gan must be a KernelGAN, got {type(gan).__name__}")
    if gan.m != 1:
        raise ValueError(f"the second-moment model needs a game with one true point, got m = {gan.m}")
    y, qv = gan.check_generated(y0, q)
    if not np.allclose(qv, qv[0], rtol=1e-12, atol=0.0):
        raise ValueError("the second-moment model needs equal generated weights q")
    if start is None:
        start = "zero"
    elif not isinstance(start, str):
        ys = getattr(start, "y", None)
        if ys is None:
            raise ValueError("start must be 'equilibrium', 'zero', None or an Equilibrium")
        if not np.allclose(np.asarray(ys, dtype=float), gan.x_true[0], rtol=0.0,
                           atol=1e-8 * gan.kernel.sigma):
            raise ValueError("start must be the isolated fixed point (every generated point on the "
                             "true point) for the second-moment model")
        start = "equilibrium"
    n = y.shape[0]
    mean = y.mean(axis=0)
    dev = y - mean
    return run(gan.kernel, p=float(gan.p_true[0]), q=float(qv[0]), n=n, lam=gan.lam, gda=gda,
               e0=mean - gan.x_true[0], cov0=dev.T @ dev / n, num_steps=num_steps, start=start)


# -- closed forms ----------------------------------------------------------------------------

def stationary_spread(kernel, *, p, q, n, d):
    """Stationary spread ``tr S_inf`` of the SMM with excess generated mass (theory section 9).

    ``tr S_inf = -d g delta / (g2 Q (1 + d/2))`` (Gaussian: ``-d delta sigma^2 / (Q (1 + d/2))``),
    the isotropic fixed point of the diagonal form with every ``c_i = 0``.

    Validity: ``delta = p - n q < 0`` (excess generated mass), a centred cloud
    (``e = 0``); it does not depend on ``lam`` or the learning rates. ``nan`` where
    ``delta >= 0`` (the spread then shrinks to 0). Against exact fixed points found
    from a spread start it is accurate to about 15-25 % (theory section 9): the
    terms of fourth order in the offsets are not small at that spread.

    Examples
    --------
    >>> import kernelgda as kg
    >>> round(float(kg.smm.stationary_spread(kg.Gaussian(1.0), p=1.0, q=0.11, n=10, d=2)), 4)
    0.0909
    """
    g, g2, p, q, n, _ = check_params(kernel, p, q, n, 0.0, GDA(1.0, 1.0))
    d = as_array(d, "d", positive=True)
    delta = mass_mismatch(p=p, q=q, n=n)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(delta < 0, -d * g * delta / (g2 * n * q * (1 + d / 2)), np.nan)
    return out[()] if out.ndim == 0 else out


def half_life(kernel, *, p, q, n, d, lam, eta_g, spread0):
    """Steps ``k_half`` to halve the spread at matched mass, quasi-static discriminator.

    ``tr S_k = tr S_0 / (1 + k / k_half)``, ``k_half = lam / (2 eta_g q g2 Q (1 + d/2) r_0)``,
    ``r_0 = spread0 / d`` (theory section 9).

    Validity: matched mass ``delta = 0``, ``lam > 0``, an isotropic centred cloud, and a
    discriminator fast compared with the spread, ``k_half >> 1 / (eta_d lam)``: within
    about 5 % of exact runs when ``k_half > 20 / (eta_d lam)``, 20 % at ``3.5 / (eta_d lam)``,
    wrong by 2-3x below ``1 / (eta_d lam)``. ``nan`` where ``delta != 0`` or ``lam = 0``.

    Examples
    --------
    >>> import kernelgda as kg
    >>> k = kg.smm.half_life(kg.Gaussian(1.0), p=1.0, q=0.1, n=10, d=1, lam=0.3, eta_g=1.0,
    ...                      spread0=0.01)
    >>> round(float(k), 6)
    100.0
    """
    g, g2, p, q, n, lam = check_params(kernel, p, q, n, lam, GDA(1.0, 1.0))
    d = as_array(d, "d", positive=True)
    eta_g = as_array(eta_g, "eta_g", positive=True)
    spread0 = as_array(spread0, "spread0", positive=True)
    delta = mass_mismatch(p=p, q=q, n=n)
    r0 = spread0 / d
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where((delta == 0) & (lam > 0), lam / (2 * eta_g * q * g2 * n * q * (1 + d / 2) * r0),
                       np.nan)
    return out[()] if out.ndim == 0 else out
