"""Linearization of GDA at any fixed point (theory section 4).

On the reduced state ``z = (B_1..B_L, e_1..e_n)``, with ``u_1..u_L`` the distinct
generated locations, ``B_l = grad g(u_l)`` and ``e_j = y_j - y_j*``:

    J_sim = [ (1-a) I              -eta_d C Q                          ]
            [ eta_g Q Pb            I + eta_g Q H                      ]
    J_alt = [ (1-a) I              -eta_d C Q                          ]
            [ eta_g (1-a) Q Pb      I + eta_g Q H - eta_d eta_g Q Pb C Q ]

with ``a = eta_d lam``, ``C_lj = d_u d_v^T K(u_l, y_j*)``, ``H_j = hess f*(y_j*)``,
``Q = diag(q) (x) I_d`` and ``P_jl = 1`` when ``y_j*`` sits at ``u_l``. The rest
of the discriminator decays with factor ``1 - a`` and never feeds back.

:func:`fixed_point_kind` names a fixed point for what it is (theory sections 3 and 10):
a perfect fit, a fit, a partial fit, a mode collapse or a spurious point; with the
spectral radius, whether it is a local minimum.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import _validate as V
from .equilibrium import Equilibrium, fstar_hessians, stationarity
from .game import GDA, KernelGAN
from .generators import check_smooth
from .kinds import (
    ASSIGN_RADIUS,
    FIT_TOL,
    KINDS,
    MERGE_TOL,
    FixedPointKind,
    distinct_locations,
    fixed_point_kind,
)
from .regimes import DEFAULT_TOL, classify, dominant_eigenvalue
from .rules import field_matrix, step_matrix, z_of_mu

__all__ = ["Linearization", "linearize", "require_smooth", "distinct_locations", "reduced_blocks",
           "field_eigenvalues", "discriminator_mode", "FixedPointKind", "fixed_point_kind", "VISIBLE_TOL",
           "MERGE_TOL", "ASSIGN_RADIUS", "FIT_TOL", "KINDS"]

#: An eigenvector "reaches the e block" when its e part has norm above this (eigenvectors
#: have unit norm; a mode the generator cannot see has an e part at rounding level).
VISIBLE_TOL = 1e-8


@dataclass(frozen=True, eq=False)
class Linearization:
    """The linearized GDA map at a fixed point.

    Attributes
    ----------
    matrix : ((L + n) d, (L + n) d) array
        Jacobian ``J`` on the reduced state ``(B, e)``; for optimistic and
        momentum twice that size, on ``(z_k, z_k-1)`` and ``(z, D v)`` (theory
        section 8).
    eigenvalues : complex array, one per row of ``matrix``
    visible : bool ((L + n) d,) array
        Whether each eigenvalue's right eigenvector reaches the ``e`` block.
    spectral_radius : float
        Largest modulus over ``eig(J)`` and the discriminator modes outside the
        reduced state (``1 - eta_d lam`` for GDA, mapped through the rule otherwise).
    generator_rate : float
        Largest modulus among the visible eigenvalues.
    dominant : complex
        The visible eigenvalue that sets ``generator_rate`` (positive imaginary
        part for a complex pair).
    regime : str
        Label of ``dominant`` (theory section 6) with tolerance ``tol``.
    continuous : array
        The continuous-time matrix ``A`` (``dB/dt = -lam B - C Q e``,
        ``de/dt = mu Q (H e + B)``, time ``t = k eta_d``).
    locations : (L, d) array
        Distinct generated locations ``u_l``.
    assignment : (n,) int array
        Location index of each generated point.
    blocks : dict
        ``C (Ld, nd)``, ``H (nd, nd)``, ``Q (nd, nd)``, ``Pb (nd, Ld)``.
    kind : FixedPointKind
        What the fixed point is (:func:`fixed_point_kind`), with its stability.
    jacobian : (n d, P) array or None
        At a parametric generator's fixed point (theory section 12): the generator Jacobian
        ``J``; ``matrix`` then acts on ``(B, t)`` with ``t = theta - theta*`` and the points'
        error is ``e = J t``. ``None`` for the point model.
    neutral : bool array or None
        Eigenvalues whose eigenvector moves ``theta`` but no point (``J t = 0``: a
        reparametrization, eigenvalue 1); they are left out of ``spectral_radius``.

    Examples
    --------
    >>> import kernelgda as kg
    >>> gan = kg.KernelGAN([[0.0]], 1.0, kg.Gaussian(sigma=0.3), lam=0.5)
    >>> lin = kg.linearize(gan, kg.find_equilibrium(gan, [[0.0]], 0.8), kg.GDA(0.1, 0.1))
    >>> lin.matrix.shape, round(lin.generator_rate, 6), lin.regime
    ((2, 2), 0.782446, 'oscillatory')
    """

    matrix: np.ndarray
    eigenvalues: np.ndarray
    visible: np.ndarray
    spectral_radius: float
    generator_rate: float
    dominant: complex
    regime: str
    continuous: np.ndarray
    locations: np.ndarray
    assignment: np.ndarray
    blocks: dict
    tol: float = DEFAULT_TOL
    mode: str = "alternating"

    kind: FixedPointKind | None = None
    jacobian: np.ndarray | None = field(default=None, repr=False)
    neutral: np.ndarray | None = field(default=None, repr=False)

    @property
    def num_locations(self) -> int:
        return self.locations.shape[0]

    @property
    def stable(self) -> bool:
        """``spectral_radius < 1``: small perturbations of the fixed point decay."""
        return bool(self.spectral_radius < 1)

    def iterate(self, e0, num_steps: int) -> np.ndarray:
        """Iterate ``J`` from ``(B, e) = (0, e0)``; returns ``e^0..e^T`` of shape ``(T + 1, n, d)``.

        This is the linear prediction of a run started at ``(f*, Y* + e0)``. At a generator's
        fixed point ``e0`` is pulled back to ``t0 = J^+ e0`` (least squares) and ``e = J t``.
        """
        n = self.assignment.size
        d = self.locations.shape[1]
        e0 = np.asarray(e0, dtype=float)
        if e0.shape != (n, d):
            raise ValueError(f"e0 must have shape ({n}, {d}), got {e0.shape}")
        num_steps = V.integer(num_steps, "num_steps", minimum=0)
        size_b = self.num_locations * d
        jac = np.eye(n * d) if self.jacobian is None else self.jacobian
        t0 = e0.ravel() if self.jacobian is None else np.linalg.lstsq(jac, e0.ravel(), rcond=None)[0]
        size = size_b + t0.size
        z0 = np.concatenate([np.zeros(size_b), t0])
        copies = self.matrix.shape[0] // size
        # Optimistic starts from (z0, z_-1 = z0) (F(z_-1) = F(z_0)); momentum from (z0, w0 = 0).
        z = np.concatenate([z0, z0 if self.mode == "optimistic" else np.zeros(size)]) \
            if copies == 2 else z0
        out = np.empty((num_steps + 1, n * d))
        out[0] = e0.ravel() if self.jacobian is None else jac @ t0
        with np.errstate(over="ignore", invalid="ignore"):  # a divergent map may overflow
            for k in range(num_steps):
                z = self.matrix @ z
                out[k + 1] = z[size_b:size] if self.jacobian is None else jac @ z[size_b:size]
        return out.reshape(num_steps + 1, n, d)


def reduced_blocks(gan: KernelGAN, y: np.ndarray, q: np.ndarray):
    """The blocks of the reduced state at a fixed point ``(y, q)`` (module docstring).

    Returns ``(locations (L, d), assignment (n,), blocks)`` with ``blocks`` the dict
    ``C (Ld, nd)``, ``H (nd, nd)`` (``hess f*`` divided by ``lam``; zero at ``lam = 0``),
    ``Q (nd, nd)`` and ``Pb (nd, Ld)`` that :func:`kernelgda.rules.field_matrix` and
    :func:`kernelgda.rules.step_matrix` take. Inputs are trusted (checked by the caller).
    """
    n, d = y.shape
    k = gan.kernel
    locs, index = distinct_locations(y, k.length_scale)
    L = locs.shape[0]
    c = k.pair_mixed(locs, y)  # C_lj = d_u d_v^T K(u_l, y_j), (L, n, d, d)
    C = c.transpose(0, 2, 1, 3).reshape(L * d, n * d)
    if gan.lam > 0:
        hj = fstar_hessians(gan, y, q) / gan.lam
    else:  # lam = 0 needs a perfect match, where f* = 0 (theory section 3)
        hj = np.zeros((n, d, d))
    H = np.zeros((n * d, n * d))
    for j in range(n):
        H[j * d:(j + 1) * d, j * d:(j + 1) * d] = hj[j]
    Q = np.diag(np.repeat(q, d))
    P = np.zeros((n, L))
    P[np.arange(n), index] = 1.0
    Pb = np.kron(P, np.eye(d))
    return locs, index, {"C": C, "H": H, "Q": Q, "Pb": Pb}


def continuous_matrix(gan: KernelGAN, mu: float, blocks: dict) -> np.ndarray:
    """Continuous-time ``A = [[-lam I, -C Q], [mu Q Pb, mu Q H]]`` (theory section 4): the field
    matrix ``M = D A`` of theory section 8 with ``eta_d = 1`` and ``eta_g = mu``."""
    return field_matrix(gan.lam, 1.0, mu, blocks)


def linearize(gan: KernelGAN, eq: Equilibrium, gda: GDA, *, tol: float = DEFAULT_TOL
              ) -> Linearization:
    """Linearize the GDA map at a fixed point (theory section 4).

    Parameters
    ----------
    gan : KernelGAN
    eq : Equilibrium
        A converged fixed point from :func:`find_equilibrium` (any configuration:
        overlapping true points, several generated points per location, any
        mass mismatch, any dimension).
    gda : GDA
    tol : float
        Regime tolerance (theory section 6; default :data:`~kernelgda.regimes.DEFAULT_TOL`).

    Returns
    -------
    Linearization

    Raises
    ------
    ValueError
        If ``eq`` did not converge, or the kernel is not twice differentiable at
        the fixed point (the Laplacian kernel at coincident points).

    Examples
    --------
    >>> import kernelgda as kg
    >>> gan = kg.KernelGAN([[0.0]], 1.0, kg.Gaussian(sigma=1.0), lam=0.5)
    >>> eq = kg.find_equilibrium(gan, [[0.0]], 1.0)
    >>> lin = kg.linearize(gan, eq, kg.GDA(0.1, 0.1))
    >>> lin.matrix.shape, lin.regime
    ((2, 2), 'oscillatory')
    """
    if not isinstance(gan, KernelGAN):
        raise ValueError(f"gan must be a KernelGAN, got {type(gan).__name__}")
    if not isinstance(eq, Equilibrium):
        raise ValueError(f"eq must be an Equilibrium from find_equilibrium, got {type(eq).__name__}")
    if not isinstance(gda, GDA):
        raise ValueError(f"gda must be a GDA, got {type(gda).__name__}")
    if not eq.converged:
        raise ValueError(f"eq is not a fixed point: {eq.message}")
    tol = V.scalar(tol, "tol", positive=True)
    y, q = gan.check_generated(eq.y, eq.q)
    require_smooth(gan.kernel)
    locs, index, blocks = reduced_blocks(gan, y, q)
    jac = None
    if eq.theta is not None:  # a parametric generator: the map on (B, t) (theory section 12)
        check_smooth(eq.generator)
        jac = eq.generator.jacobian(eq.theta)
        blocks = generator_blocks(gan, eq, blocks, jac)
    with np.errstate(over="ignore", invalid="ignore"):
        J = step_matrix(gan.lam, gda.eta_d, gda.eta_g, blocks, gda.mode, beta=gda.beta,
                        d_steps=gda.d_steps)
    overflow = (f"the linearized GDA step overflows float64 at eta_d = {gda.eta_d:g}, eta_g = "
                f"{gda.eta_g:g}, d_steps = {gda.d_steps}: use smaller learning rates (or fewer "
                "discriminator steps)")
    if not np.isfinite(J).all():
        raise ValueError(overflow)
    ev, vecs = np.linalg.eig(J)
    size_b = locs.shape[0] * gan.d
    size = size_b + (y.size if jac is None else jac.shape[1])
    neutral = np.zeros(ev.shape, dtype=bool)
    if jac is None:
        visible = np.linalg.norm(vecs[size_b:size], axis=0) > VISIBLE_TOL
    else:  # e = J t: directions with J t = 0 (reparametrizations) move no point
        seen = np.linalg.norm(jac @ vecs[size_b:size], axis=0)
        visible = seen > VISIBLE_TOL * max(np.linalg.norm(jac), 1.0)  # Frobenius: no SVD
        neutral = ~visible & (np.linalg.norm(vecs[size_b:size], axis=0) > VISIBLE_TOL)
    dom = dominant_eigenvalue(ev, visible)
    with np.errstate(over="ignore", invalid="ignore"):  # a mode beyond float64: inf, divergent
        moduli = np.abs(ev[~neutral])
        spectral_radius = float(max(moduli.max() if moduli.size else 0.0, discriminator_mode(gan.lam, gda)))
    if not np.isfinite(spectral_radius):
        raise ValueError(overflow)
    return Linearization(
        matrix=J, eigenvalues=ev, visible=visible, spectral_radius=spectral_radius,
        generator_rate=float(abs(dom)), dominant=dom, regime=classify(dom, tol),
        continuous=continuous_matrix(gan, gda.mu, blocks), locations=locs, assignment=index,
        blocks=blocks, tol=tol, mode=gda.mode,
        kind=fixed_point_kind(gan, y, q, spectral_radius=spectral_radius),
        jacobian=jac, neutral=neutral)


def generator_blocks(gan: KernelGAN, eq: Equilibrium, blocks: dict, jac: np.ndarray) -> dict:
    """The blocks of theory section 12's map on ``(B, t)`` at a generator's fixed point.

    Adds ``CQJ = C Q J``, ``JQPb = J^T Q Pb``, ``JQHJ = J^T Q H J + M`` (with
    ``M = d/dtheta [J^T v]`` at ``v = Q grad f*``, zero at a perfect-gradient fixed point and for
    an affine generator), ``J`` and ``M`` to the point model's ``blocks``
    (:func:`reduced_blocks`); :func:`kernelgda.rules.field_matrix` then acts on ``(B, t)``.
    """
    C, H, Q, Pb = blocks["C"], blocks["H"], blocks["Q"], blocks["Pb"]
    grad_fstar = stationarity(gan, eq.y, eq.q) / gan.lam if gan.lam > 0 else np.zeros(eq.y.shape)
    m_term = eq.generator.contraction(eq.theta, eq.q[:, None] * grad_fstar)
    qj = Q @ jac
    return dict(blocks, CQJ=C @ qj, JQPb=qj.T @ Pb, JQHJ=qj.T @ H @ jac + m_term, J=jac, M=m_term)


def discriminator_mode(lam: float, gda: GDA) -> float:
    """Modulus of the discriminator modes outside the reduced state (``mu = -eta_d lam``
    mapped through the rule, theory section 8)."""
    a = gda.eta_d * lam
    if gda.mode == "alternating":
        return abs(1 - a) ** gda.d_steps
    return float(np.abs(z_of_mu(-a, gda.mode, gda.beta)).max())


def field_eigenvalues(gan: KernelGAN, eq: Equilibrium, gda: GDA) -> np.ndarray:
    """Eigenvalues ``mu`` of the linearized field ``M = D A`` at a fixed point (theory section 8).

    The rules of theory section 8 other than alternating map each ``mu`` to step
    eigenvalues (:func:`kernelgda.rules.z_of_mu`); the isolated points model has them in
    closed form (:func:`kernelgda.isolated.field_eigenvalues`).

    Parameters
    ----------
    gan : KernelGAN
    eq : Equilibrium
        A fixed point from :func:`~kernelgda.find_equilibrium`.
    gda : GDA
        Only the learning rates ``eta_d``, ``eta_g`` enter.

    Returns
    -------
    complex array ((L + n) d,)

    Examples
    --------
    >>> import kernelgda as kg
    >>> gan = kg.KernelGAN([[0.0]], 1.0, kg.Gaussian(sigma=1.0), lam=0.0)
    >>> eq = kg.find_equilibrium(gan, [[0.0]], 1.0)
    >>> mu = field_eigenvalues(gan, eq, kg.GDA(0.1, 0.1))
    >>> np.round(np.sort(mu.imag), 6).tolist(), bool(np.abs(mu.real).max() < 1e-12)
    ([-0.1, 0.1], True)
    """
    if not isinstance(gan, KernelGAN) or not isinstance(eq, Equilibrium) or not isinstance(gda, GDA):
        raise ValueError("field_eigenvalues(gan, eq, gda) needs a KernelGAN, an Equilibrium and a GDA, "
                         f"got {type(gan).__name__}, {type(eq).__name__}, {type(gda).__name__}")
    _, _, blocks = reduced_blocks(gan, *gan.check_generated(eq.y, eq.q))
    return np.linalg.eigvals(field_matrix(gan.lam, gda.eta_d, gda.eta_g, blocks))


def require_smooth(kernel) -> None:
    """Refuse a kernel that is not differentiable at coincident points (the Laplacian): every
    fixed point has the generated points' own kernel sections in ``f*``, so the Jacobian of
    theory section 4 does not exist there. Raises ``ValueError`` with the reason."""
    if not kernel.smooth:
        raise ValueError(f"the {type(kernel).__name__} kernel is not differentiable at coincident points "
                         "(every fixed point has the generated points' own kernel sections in f*); "
                         "linearization needs a smooth kernel")
