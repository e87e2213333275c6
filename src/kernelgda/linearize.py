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

from dataclasses import dataclass

import numpy as np

from . import _validate as V
from .equilibrium import Equilibrium, fstar_hessians
from .game import GDA, KernelGAN
from .regimes import DEFAULT_TOL, classify, dominant_eigenvalue
from .rules import field_matrix, step_matrix, z_of_mu

__all__ = ["Linearization", "linearize", "require_smooth", "distinct_locations", "reduced_blocks",
           "field_eigenvalues", "discriminator_mode", "FixedPointKind", "fixed_point_kind", "VISIBLE_TOL",
           "MERGE_TOL", "ASSIGN_RADIUS", "FIT_TOL", "KINDS"]

#: An eigenvector "reaches the e block" when its e part has norm above this (eigenvectors
#: have unit norm; a mode the generator cannot see has an e part at rounding level).
VISIBLE_TOL = 1e-8
#: Generated points closer than ``MERGE_TOL * sigma`` share one location ``u_l``.
#: Newton places coincident points to ~1e-12 sigma of each other.
MERGE_TOL = 1e-8
#: A generated point belongs to the nearest true point within ``ASSIGN_RADIUS`` length
#: scales. One length scale is where a Gaussian section ``K(., x_i)`` stops being concave
#: (``hess_u K = K (r r^T / sigma^2 - I) / sigma^2`` is negative definite exactly for
#: ``|r| < sigma``): inside it the true point's own pull holds the point, beyond it the pull
#: fades. The straddling collapse of theory section 10 sits ~0.7 sigma from its true point.
ASSIGN_RADIUS = 1.0
#: A perfect fit has every generated point within ``FIT_TOL`` length scales of its true
#: point and, per true point, generated mass equal to the true mass to ``FIT_TOL`` of
#: ``sum p`` (Newton places points to ~1e-12 length scales).
FIT_TOL = 1e-6
#: The kinds :func:`fixed_point_kind` reports, in the order in which they are tested.
KINDS = ("collapse", "spurious", "partial fit", "perfect fit", "fit")


def distinct_locations(y: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Merge coincident points.

    Returns the locations ``(L, d)`` and the index ``(n,)`` of each point's location.
    """
    locs: list[np.ndarray] = []
    index = np.empty(y.shape[0], dtype=int)
    for j, yj in enumerate(y):
        for l, u in enumerate(locs):
            if np.linalg.norm(yj - u) <= MERGE_TOL * scale:
                index[j] = l
                break
        else:
            index[j] = len(locs)
            locs.append(yj)
    return np.array(locs), index


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

    @property
    def num_locations(self) -> int:
        return self.locations.shape[0]

    @property
    def stable(self) -> bool:
        """``spectral_radius < 1``: small perturbations of the fixed point decay."""
        return bool(self.spectral_radius < 1)

    def iterate(self, e0, num_steps: int) -> np.ndarray:
        """Iterate ``J`` from ``(B, e) = (0, e0)``; returns ``e^0..e^T`` of shape ``(T + 1, n, d)``.

        This is the linear prediction of a run started at ``(f*, Y* + e0)``.
        """
        n = self.assignment.size
        d = self.locations.shape[1]
        e0 = np.asarray(e0, dtype=float)
        if e0.shape != (n, d):
            raise ValueError(f"e0 must have shape ({n}, {d}), got {e0.shape}")
        num_steps = V.integer(num_steps, "num_steps", minimum=0)
        size_b = self.num_locations * d
        size = size_b + n * d
        z0 = np.concatenate([np.zeros(size_b), e0.ravel()])
        copies = self.matrix.shape[0] // size
        # Optimistic starts from (z0, z_-1 = z0) (F(z_-1) = F(z_0)); momentum from (z0, w0 = 0).
        z = np.concatenate([z0, z0 if self.mode == "optimistic" else np.zeros(size)]) \
            if copies == 2 else z0
        out = np.empty((num_steps + 1, n * d))
        out[0] = e0.ravel()
        with np.errstate(over="ignore", invalid="ignore"):  # a divergent map may overflow
            for k in range(num_steps):
                z = self.matrix @ z
                out[k + 1] = z[size_b:size]
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
    size = size_b + y.size
    visible = np.linalg.norm(vecs[size_b:size], axis=0) > VISIBLE_TOL
    dom = dominant_eigenvalue(ev, visible)
    with np.errstate(over="ignore", invalid="ignore"):  # a mode beyond float64: inf, divergent
        spectral_radius = float(max(np.abs(ev).max(), discriminator_mode(gan.lam, gda)))
    if not np.isfinite(spectral_radius):
        raise ValueError(overflow)
    return Linearization(
        matrix=J, eigenvalues=ev, visible=visible, spectral_radius=spectral_radius,
        generator_rate=float(abs(dom)), dominant=dom, regime=classify(dom, tol),
        continuous=continuous_matrix(gan, gda.mu, blocks), locations=locs, assignment=index,
        blocks=blocks, tol=tol, mode=gda.mode,
        kind=fixed_point_kind(gan, y, q, spectral_radius=spectral_radius))


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


@dataclass(frozen=True, eq=False)
class FixedPointKind:
    """What a fixed point is: which true point each generated point fits, and its stability.

    Attributes
    ----------
    kind : str
        One of :data:`KINDS`: ``"collapse"`` (several generated points share a true point
        and some true point has no generated mass: mode collapse, theory section 10),
        ``"spurious"`` (some generated point is near no true point, e.g. halfway between
        two: theory section 3), ``"partial fit"`` (a true point has no generated mass, none
        is shared), ``"perfect fit"`` (``Y* = X`` with matching masses, so ``f* = 0``) or
        ``"fit"`` (every true point has generated mass nearby, with a mass mismatch or a
        spread).
    owner : (n,) int array
        The true point each generated point is assigned to (the nearest within
        :data:`ASSIGN_RADIUS` length scales; coincident true points count as one, the
        first of them), or ``-1``.
    empty : tuple of int
        True points with no generated point assigned (no generated mass).
    shared : tuple of (int, tuple of int)
        ``(i, (j, ...))`` for every true point ``i`` that two or more generated points share.
    unassigned : tuple of int
        Generated points near no true point.
    stable : bool or None
        ``spectral_radius < 1`` (None when no spectral radius was given).
    """

    kind: str
    owner: np.ndarray
    empty: tuple
    shared: tuple
    unassigned: tuple
    stable: bool | None = None

    @property
    def local_minimum(self) -> bool:
        """A stable fixed point: GDA started close enough stays there (theory section 10)."""
        return bool(self.stable)

    @property
    def description(self) -> str:
        """One sentence, e.g. ``collapse fixed point: 2 generated points (0, 1) share true
        point 1; true point 0 has no generated mass; stable: a local minimum``."""
        parts = []
        for i, js in self.shared:
            parts.append(f"{len(js)} generated points ({', '.join(map(str, js))}) share true point {i}")
        if self.empty:
            which = ", ".join(map(str, self.empty))
            parts.append(f"true point{'s' if len(self.empty) > 1 else ''} {which} "
                         f"{'have' if len(self.empty) > 1 else 'has'} no generated mass")
        if self.unassigned:
            which = ", ".join(map(str, self.unassigned))
            parts.append(f"generated point{'s' if len(self.unassigned) > 1 else ''} {which} "
                         f"{'are' if len(self.unassigned) > 1 else 'is'} near no true point")
        if self.stable is not None:
            if self.kind == "perfect fit":
                parts.append("stable: the global minimum" if self.stable
                             else "not stable (spectral radius >= 1)")
            else:
                parts.append("stable: a local minimum" if self.stable
                             else "not stable (spectral radius >= 1): not a local minimum")
        return f"{self.kind} fixed point" + (": " + "; ".join(parts) if parts else "")


def fixed_point_kind(gan: KernelGAN, y, q, *, spectral_radius: float | None = None) -> FixedPointKind:
    """Name a fixed point ``(Y*, q)`` for what it is (theory sections 3 and 10).

    Each generated point is assigned to the nearest true point within
    :data:`ASSIGN_RADIUS` times the kernel's ``length_scale``; a true point with no
    generated point assigned has no generated mass. Mode collapse (theory section 10)
    is a fixed point where several generated points share one true point and another
    true point has no generated mass; when it is stable (``spectral_radius < 1``) it is
    a local minimum of GDA.

    Parameters
    ----------
    gan : KernelGAN
    y : (n, d) array
        The fixed point ``Y*`` (e.g. ``Equilibrium.y``).
    q : (n,) array or scalar
        Generated weights.
    spectral_radius : float, optional
        From :func:`linearize`; sets ``stable``.

    Returns
    -------
    FixedPointKind

    Examples
    --------
    >>> import kernelgda as kg
    >>> gan = kg.KernelGAN([[-1.0], [1.0]], 0.5, kg.Gaussian(sigma=0.4), lam=1.0)
    >>> k = fixed_point_kind(gan, [[0.73], [1.27]], 0.5, spectral_radius=0.99)
    >>> k.kind, k.empty, k.shared, k.local_minimum
    ('collapse', (0,), ((1, (0, 1)),), True)
    >>> fixed_point_kind(gan, [[-1.0], [1.0]], 0.5).kind
    'perfect fit'
    """
    if not isinstance(gan, KernelGAN):
        raise ValueError(f"gan must be a KernelGAN, got {type(gan).__name__}")
    y, q = gan.check_generated(y, q)
    if spectral_radius is not None:
        spectral_radius = V.scalar(spectral_radius, "spectral_radius", nonnegative=True)
    scale = gan.kernel.length_scale
    x, p = gan.x_true, gan.p_true
    sites, site_of = distinct_locations(x, scale)  # coincident true points are one site
    first = np.array([int(np.flatnonzero(site_of == s)[0]) for s in range(sites.shape[0])])
    diff = y[:, None, :] - sites[None, :, :]
    dist = np.sqrt((diff * diff).sum(-1)) / scale
    nearest = dist.argmin(axis=1)
    near = dist[np.arange(y.shape[0]), nearest] <= ASSIGN_RADIUS
    site = np.where(near, nearest, -1)
    owner = np.where(near, first[nearest], -1)
    members = [np.flatnonzero(site == s) for s in range(sites.shape[0])]
    empty = tuple(int(i) for s, js in enumerate(members) if js.size == 0
                  for i in np.flatnonzero(site_of == s))
    shared = tuple((int(first[s]), tuple(int(j) for j in js)) for s, js in enumerate(members) if js.size > 1)
    unassigned = tuple(int(j) for j in np.flatnonzero(~near))
    if shared and empty:
        kind = "collapse"
    elif unassigned:
        kind = "spurious"
    elif empty:
        kind = "partial fit"
    else:
        on_site = bool(np.all(dist[np.arange(y.shape[0]), nearest] <= FIT_TOL))
        mass = np.array([q[js].sum() - p[site_of == s].sum() for s, js in enumerate(members)])
        kind = "perfect fit" if on_site and np.abs(mass).max() <= FIT_TOL * p.sum() else "fit"
    return FixedPointKind(kind=kind, owner=owner, empty=empty, shared=shared, unassigned=unassigned,
                          stable=None if spectral_radius is None else bool(spectral_radius < 1))


def require_smooth(kernel) -> None:
    """Refuse a kernel that is not differentiable at coincident points (the Laplacian): every
    fixed point has the generated points' own kernel sections in ``f*``, so the Jacobian of
    theory section 4 does not exist there. Raises ``ValueError`` with the reason."""
    if not kernel.smooth:
        raise ValueError(f"the {type(kernel).__name__} kernel is not differentiable at coincident points "
                         "(every fixed point has the generated points' own kernel sections in f*); "
                         "linearization needs a smooth kernel")
