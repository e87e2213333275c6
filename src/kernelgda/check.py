"""Checking a predicted rate against the exact dynamics (theory section 7, experiment 1).

The protocol, shared by ``kernelgda analyze --check``, simulated phase diagrams and the
experiments that compare predicted with measured rates:

1. *perturb*: start at ``(f*, Y* + e0)`` with ``|e0| = e0_scale sigma`` (default
   :data:`E0_SCALE` ``= 1e-6``) in a random unit direction drawn from a seed;
2. *run*: the exact nonlinear dynamics from the fixed point's discriminator
   (:func:`kernelgda.simulate`, or :func:`kernelgda.simulate_batch` for many cells);
3. *fit*: the dominant eigenvalue of the error sequence ``Y^k - Y*``
   (:mod:`kernelgda.measure`; theory section 7);
4. *label*: the regime of the fitted eigenvalue (theory section 6) at tolerance
   :data:`MEASURED_TOL` ``= 1e-3``; a run that leaves the linear regime (error above
   :data:`LINEAR_LIMIT` ``sigma``) too fast for a fit is labelled divergent.

Why ``1e-3`` for measured labels rather than the ``1e-6`` of predicted ones: a fitted
eigenvalue is only as good as the run's linear window. In a 1000-step run a modulus
within ``1e-3`` of 1 cannot be told from 1, and the fit of a finite, rounded trajectory
agrees with the Jacobian to about 3-4 digits (theory section 4), so a tighter tolerance
would call a measured neutral mode ``0.9999`` monotone, or a real root measured with a
``1e-5`` imaginary part oscillatory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from . import _validate as V
from .batch import simulate_batch
from .dynamics import simulate
from .linearize import Linearization, linearize
from .measure import Measurement
from .regimes import REGIMES, classify_codes
from .status import Status

__all__ = ["check_rate", "check_rates", "RateCheck", "BatchRateCheck", "perturbation",
           "default_steps", "measured_codes", "MEASURED_TOL", "E0_SCALE", "LINEAR_LIMIT"]

#: Regime tolerance of measured eigenvalues (module docstring).
MEASURED_TOL = 1e-3
#: Size of the initial perturbation, in units of sigma (theory section 7).
E0_SCALE = 1e-6
#: A run whose error ``|Y^k - Y*|`` exceeds this many sigma has left the linear regime
#: (theory section 7); one that does so too fast to fit an eigenvalue is labelled divergent.
LINEAR_LIMIT = 1e-3


def perturbation(shape, size: float, seed=0) -> np.ndarray:
    """A perturbation ``e0`` of norm ``size`` in a random direction.

    The direction is ``g / |g|`` for ``g`` standard normal of shape ``shape`` drawn
    from ``numpy.random.default_rng(seed)`` (``seed`` may be a ``Generator``, which
    is advanced).

    Examples
    --------
    >>> e0 = perturbation((2, 1), 1e-6, seed=0)
    >>> e0.shape, bool(np.isclose(np.linalg.norm(e0), 1e-6, rtol=1e-12))
    ((2, 1), True)
    """
    g = np.random.default_rng(seed).standard_normal(shape)
    return g * (size / np.linalg.norm(g))


def default_steps(rate: float) -> int:
    """Run length for a check: enough for the error to change by 3 decades at ``rate``.

    From ``1e-6 sigma`` the error needs 3 decades to reach the linear limit ``1e-3 sigma``
    (growing) or to come within a decade or two of the rounding floor (decaying);
    ``ceil(3 ln 10 / |ln rate|) + 50`` steps, clipped to ``[200, 4000]``; 1000 for a
    rate within ``1e-4`` of one (neutral or cycling: nothing decays).

    Examples
    --------
    >>> default_steps(0.5), default_steps(1.0), default_steps(float("nan"))
    (200, 1000, 200)
    """
    if not math.isfinite(rate) or rate <= 0:
        return 200
    lr = abs(math.log(rate))
    if lr < 1e-4:
        return 1000
    return int(min(max(math.ceil(3 * math.log(10) / lr) + 50, 200), 4000))


def measured_codes(dominant, escaped, tol: float = MEASURED_TOL) -> np.ndarray:
    """Regime codes of measured eigenvalues (step 4 of the module docstring).

    :func:`kernelgda.regimes.classify_codes` at ``tol``; where no eigenvalue could be
    fitted (``nan``) and the run left the linear regime (``escaped``): divergent;
    otherwise ``nan`` gives -1 (undetermined).
    """
    dominant = np.asarray(dominant, dtype=complex)
    return np.where(np.isnan(dominant.real) & np.asarray(escaped, dtype=bool),
                    REGIMES.index("divergent"), classify_codes(dominant, tol)).astype(np.int8)


@dataclass(frozen=True, eq=False)
class RateCheck:
    """A predicted rate checked against the exact dynamics (see :func:`check_rate`).

    Attributes
    ----------
    predicted : Linearization
        The prediction (theory section 4).
    measured : Measurement
        The eigenvalues fitted to the run (:mod:`kernelgda.measure`).
    measured_regime : str
        Label of the measured dominant eigenvalue at tolerance ``tol`` (``"undetermined"``
        when nothing could be fitted and the run stayed linear).
    tol : float
        Tolerance of the measured label.
    e0 : (n, d) array
        The initial perturbation.
    num_steps : int
        Steps requested.
    escaped : bool
        Whether the run left the linear regime (:data:`LINEAR_LIMIT`).
    status : Status
        The run's status (:class:`kernelgda.Trajectory`).
    message : str
        The run's message.
    trajectory : Trajectory
        The run itself.

    Examples
    --------
    >>> import kernelgda as kg
    >>> gan = kg.KernelGAN([[0.0]], 1.0, kg.Gaussian(sigma=0.3), lam=0.5)
    >>> gda = kg.GDA(0.1, 0.1)
    >>> chk = kg.check_rate(gan, kg.find_equilibrium(gan, [[0.0]], 0.8), gda, num_steps=300)
    >>> chk.measured_regime, bool(abs(chk.measured.rate - chk.predicted.generator_rate) < 1e-3)
    ('oscillatory', True)
    """

    predicted: Linearization
    measured: Measurement
    measured_regime: str
    tol: float
    e0: np.ndarray = field(repr=False)
    num_steps: int
    escaped: bool
    status: Status
    message: str
    trajectory: object = field(repr=False)

    @property
    def predicted_rate(self) -> float:
        """Generator-visible rate of the prediction."""
        return float(self.predicted.generator_rate)

    @property
    def measured_rate(self) -> float:
        """Modulus of the measured dominant eigenvalue (``nan`` if none)."""
        return float(self.measured.rate)

    @property
    def difference(self) -> float:
        """``|measured rate - predicted rate|`` (``nan`` if nothing was measured)."""
        return abs(self.measured_rate - self.predicted_rate)


def check_rate(gan, eq, gda, *, num_steps: int | None = None, e0=None, seed=0,
               e0_scale: float = E0_SCALE, linear_limit: float | None = None,
               noise_floor: float | None = None, history_tol: float | None = None,
               tol: float = MEASURED_TOL, linearization: Linearization | None = None) -> RateCheck:
    """Perturb a fixed point, run the exact dynamics, fit the dominant eigenvalue, label it.

    Parameters
    ----------
    gan : KernelGAN
    eq : Equilibrium
        A converged fixed point (:func:`kernelgda.find_equilibrium`).
    gda : GDA
    num_steps : int, optional
        Run length; default :func:`default_steps` of the predicted rate.
    e0 : (n, d) array, optional
        The perturbation; default :func:`perturbation` of norm ``e0_scale sigma`` from ``seed``.
    seed : int or numpy.random.Generator
        Seed of the direction of ``e0``.
    e0_scale : float
        ``|e0| / sigma`` when ``e0`` is not given.
    linear_limit, noise_floor : float, optional
        Window of the fit (:meth:`kernelgda.Trajectory.measure`; defaults ``1e-3 sigma``
        and ``1e5 eps max(1, |Y*|)``).
    history_tol : float, optional
        History truncation of the run (:func:`kernelgda.simulate`; default: none).
    tol : float
        Tolerance of the measured label (default :data:`MEASURED_TOL`).
    linearization : Linearization, optional
        The prediction, when already computed; default ``linearize(gan, eq, gda)``.

    Returns
    -------
    RateCheck

    Examples
    --------
    >>> import kernelgda as kg
    >>> gan = kg.KernelGAN([[0.0]], 1.0, kg.Gaussian(sigma=1.0), lam=0.5)
    >>> eq = kg.find_equilibrium(gan, [[0.0]], 1.0)
    >>> res = kg.check_rate(gan, eq, kg.GDA(0.1, 0.1), num_steps=300)
    >>> res.measured_regime, res.predicted.regime, bool(res.difference < 1e-6)
    ('oscillatory', 'oscillatory', True)
    """
    tol = V.scalar(tol, "tol", positive=True)
    lin = linearize(gan, eq, gda) if linearization is None else linearization
    sigma = gan.kernel.length_scale
    if num_steps is None:
        num_steps = default_steps(lin.generator_rate)
    num_steps = V.integer(num_steps, "num_steps", minimum=1)
    if e0 is None:
        e0 = perturbation(eq.y.shape, V.scalar(e0_scale, "e0_scale", positive=True) * sigma, seed)
    else:
        e0 = np.asarray(e0, dtype=float)
        if e0.shape != eq.y.shape:
            raise ValueError(f"e0 must have the shape {eq.y.shape} of eq.y, got {e0.shape}")
    start = eq.y + e0
    if eq.theta is not None:  # a generator: the perturbation pulled back, t0 = J^+ e0 (theory section 12)
        t0 = eq.generator.pull_back(eq.theta, e0)
        e0 = (eq.generator.jacobian(eq.theta) @ t0).reshape(e0.shape)
        start = eq.generator.with_theta(eq.theta + t0)
    traj = simulate(gan, gda, start, eq.q, num_steps, start=eq, history_tol=history_tol)
    meas = traj.measure(eq.y, linear_limit=linear_limit, noise_floor=noise_floor)
    with np.errstate(invalid="ignore"):
        size = np.nanmax(traj.distance(eq.y))
    escaped = bool(size > LINEAR_LIMIT * sigma)
    code = int(measured_codes(meas.dominant, escaped, tol))
    label = REGIMES[code] if code >= 0 else "undetermined"
    return RateCheck(predicted=lin, measured=meas, measured_regime=label, tol=tol, e0=e0,
                     num_steps=num_steps, escaped=escaped, status=traj.status,
                     message=traj.message, trajectory=traj)


@dataclass(frozen=True, eq=False)
class BatchRateCheck:
    """Measured eigenvalues of many runs (see :func:`check_rates`); arrays of shape ``(B,)``.

    Attributes
    ----------
    dominant : complex array
        Fitted dominant eigenvalue (``nan`` where the window was too short).
    regime : int8 array
        Measured regime codes (:func:`measured_codes`).
    status : int8 array
        :class:`kernelgda.status.Status` codes (completed or diverged).
    num_taken : int array
        Steps each run took.
    truncation_bound : float array
        Certified bound on the discriminator-gradient error from history truncation.
    escaped : bool array
        Whether each run left the linear regime.
    """

    dominant: np.ndarray
    regime: np.ndarray
    status: np.ndarray
    num_taken: np.ndarray
    truncation_bound: np.ndarray
    escaped: np.ndarray


def check_rates(gans, gdas, eqs, num_steps: int, *, e0=None, seed=0, e0_scale: float = E0_SCALE,
                linear_limit=None, noise_floor=None, history_tol: float | None = None,
                tol: float = MEASURED_TOL) -> BatchRateCheck:
    """:func:`check_rate` for many cells at once, through :func:`kernelgda.simulate_batch`.

    All cells share ``n`` and ``d`` (and :func:`kernelgda.simulate_batch`'s other
    requirements). Without ``e0`` every cell is perturbed along the same unit direction
    (:func:`perturbation` from ``seed``), scaled by ``e0_scale`` times its own ``sigma``.
    ``linear_limit`` and ``noise_floor`` (floats or ``(B,)`` arrays) bound the fitted
    window as in :meth:`kernelgda.batch.BatchTrajectory.measure`. No prediction is made
    here: the caller has it.

    Returns
    -------
    BatchRateCheck

    Examples
    --------
    >>> import kernelgda as kg
    >>> gans = [kg.KernelGAN([[0.0]], 1.0, kg.Gaussian(sigma=1.0), lam=lam) for lam in (0.5, 1.0)]
    >>> eqs = [kg.find_equilibrium(g, [[0.0]], 1.0) for g in gans]
    >>> res = check_rates(gans, kg.GDA(0.1, 0.1), eqs, 300)
    >>> [REGIMES[c] for c in res.regime]
    ['oscillatory', 'oscillatory']
    """
    eqs = list(eqs)
    y_star = np.stack([eq.y for eq in eqs])
    gans = list(gans)
    sigma = np.array([g.kernel.length_scale for g in gans])
    if e0 is None:
        direction = perturbation(y_star.shape[1:], 1.0, seed)
        e0 = V.scalar(e0_scale, "e0_scale", positive=True) * sigma[:, None, None] * direction
    else:
        e0 = np.asarray(e0, dtype=float)
        if e0.shape != y_star.shape:
            raise ValueError(f"e0 must have shape {y_star.shape}, got {e0.shape}")
    runs = simulate_batch(gans, gdas, y_star + e0, np.stack([eq.q for eq in eqs]), num_steps,
                          start=eqs, history_tol=history_tol)
    meas = runs.measure(y_star, linear_limit=linear_limit, noise_floor=noise_floor)
    with np.errstate(invalid="ignore"):
        size = np.sqrt(np.nanmax(((runs.y - y_star[:, None]) ** 2).sum(axis=(2, 3)), axis=1))
    escaped = size > LINEAR_LIMIT * sigma
    status = np.array([Status.from_label(str(s)).code for s in runs.status], dtype=np.int8)
    return BatchRateCheck(dominant=np.asarray(meas.dominant, dtype=complex),
                          regime=measured_codes(meas.dominant, escaped, tol), status=status,
                          num_taken=np.asarray(runs.num_taken, dtype=np.int64),
                          truncation_bound=np.asarray(runs.truncation_bound, dtype=float),
                          escaped=escaped)

