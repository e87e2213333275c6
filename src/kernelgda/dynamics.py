"""Exact nonlinear GDA dynamics of a kernel GAN (theory section 2).

    f^{k+1} = (1 - eta_d lam) f^k + eta_d ( K(., X) p - K(., Y^k) q )            (D)
    simultaneous:  y_j^{k+1} = y_j^k + eta_g q_j grad f^k(y_j^k)
    alternating:   y_j^{k+1} = y_j^k + eta_g q_j grad f^{k+1}(y_j^k)

and the other rules of theory section 8. :func:`simulate` is a driver: the update rule's
step is :meth:`kernelgda.rules.Rule.step` (written once, shared with
:func:`kernelgda.simulate_batch`); the discriminator is the exact kernel expansion of
:class:`~kernelgda.discriminator.Expansion` (or random features). A run reports a
:class:`~kernelgda.status.Status`: completed, diverged (left the divergence ball) or
escaped (:func:`escaped`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from . import _validate as V
from .discriminator.expansion import exact_expansion
from .discriminator.interface import DiscriminatorSpec
from .discriminator.truncation import history_tolerance
from .game import GDA, KernelGAN
from .generators.base import run_state
from .kernels import sqdist
from .measure import Measurement, default_noise_floor, measure_eigenvalues
from .resources import check_trajectory
from .rules import StepConstants, get_rule
from .status import Status
from .wasserstein import wasserstein2_series

__all__ = ["simulate", "Trajectory", "DIVERGENCE_FACTOR", "ESCAPE_RTOL", "escaped", "recorded_steps",
           "measure_recorded"]

#: A run is "diverged" when a coordinate moves further than
#: ``DIVERGENCE_FACTOR * max(sigma, extent)`` from the mean of the true points, where
#: ``extent`` is the largest distance of a true or initial generated coordinate from it and
#: ``sigma`` the kernel's ``length_scale`` (its bandwidth for a radial kernel).
DIVERGENCE_FACTOR = 1e6
#: A run that ends with a generated point ``y_j`` whose kernel values to the true points are
#: all below rounding, ``sum_i p_i K(y_j, x_i) <= ESCAPE_RTOL K(0) sum_i p_i``, has *escaped*:
#: the true points no longer act on it (its discriminator gradient, of order ``K / sigma``,
#: is below rounding as well), so it has stalled far away, not converged (theory section 10).
#: Kernel values, not gradients, are compared: a gradient also vanishes *at* a true point.
#: A kernel that is not radial has no ``K(0)``: there ``sum_i p_i |K(y_j, x_i)|`` is compared
#: with its Cauchy-Schwarz bound ``sqrt(K(y_j, y_j)) sum_i p_i sqrt(K(x_i, x_i))``.
ESCAPE_RTOL = float(np.finfo(float).eps)


def escaped(gan: KernelGAN, y: np.ndarray) -> bool:
    """Whether a generated point of ``y (n, d)`` has escaped (see :data:`ESCAPE_RTOL`).

    Examples
    --------
    >>> import kernelgda as kg
    >>> gan = kg.KernelGAN([[0.0]], 1.0, kg.Gaussian(sigma=0.3), lam=0.1)
    >>> escaped(gan, np.array([[331.0]])), escaped(gan, np.array([[0.0]]))
    (True, False)
    """
    kernel = gan.kernel
    if not kernel.radial:
        # Any kernel: |K(y, x)| <= sqrt(K(y, y) K(x, x)) (Cauchy-Schwarz); for a radial kernel
        # this is the test below, whose K(0) is the diagonal.
        reach = np.abs(kernel.pair_value(y, gan.x_true)) @ gan.p_true
        diag_x = np.sqrt(np.abs(np.diagonal(kernel.pair_value(gan.x_true, gan.x_true))))
        diag_y = np.sqrt(np.abs(np.array([kernel.pair_value(row[None], row[None])[0, 0] for row in y])))
        return bool(np.any(reach <= ESCAPE_RTOL * diag_y * float(diag_x @ gan.p_true)))
    origin = gan.x_true.mean(axis=0)  # the matrix-product distances keep their digits near it
    reach = kernel.profile(sqdist(y - origin, gan.x_true - origin)) @ gan.p_true  # O(n m) memory
    top = float(kernel.profile(0.0)) * float(gan.p_true.sum())
    return bool(np.any(reach <= ESCAPE_RTOL * top))


def recorded_steps(num_taken: int, record_every: int) -> np.ndarray:
    """Steps kept with ``record_every = s``: ``0, s, 2s, ...`` and the last step ``num_taken``."""
    steps = np.arange(0, num_taken + 1, record_every)
    return steps if steps[-1] == num_taken else np.append(steps, num_taken)


@dataclass(frozen=True, eq=False)
class Trajectory:
    """Result of :func:`simulate`.

    Attributes
    ----------
    y : (R, n, d) array
        Generated points ``Y^k`` at the recorded steps :attr:`steps` (every step,
        ``Y^0..Y^K``, by default); ``K = num_steps`` unless the run diverged, in which
        case the last row is the last finite configuration.
    status : Status
        ``Status.COMPLETED``, ``Status.DIVERGED`` or ``Status.ESCAPED`` (the run
        completed with a generated point whose gradient is below rounding;
        :func:`escaped`). ``str(status)`` is its label.
    message : str
    q : (n,) array
    sigma : float
        The kernel's length scale (sets the linear regime of :meth:`rate`).
    truncation_bound : float
        Largest certified bound on the discriminator-gradient error caused by history
        truncation (or by the fast Gauss transform) over the run; 0 for the full history
        (``history_tol=0``), at most ``2^-53`` of the gradient's scale by default.
    num_slices : int
        History slices held at the end of the run.
    record_every : int
        Stride ``s`` of the recorded steps (:func:`recorded_steps`).
    theta : (R, P) array or None
        A parametric generator's parameters at the recorded steps (theory section 12);
        ``None`` for the point model.
    kernel_movement : (R,) array or None
        With a :class:`~kernelgda.NetworkDiscriminator`: ``|Theta_t - Theta_0|_F / |Theta_0|_F``,
        the tangent kernel's Gram matrix on the true and generated points at each recorded
        step relative to its initial one (how far the run left the lazy regime, theory
        section 13); with a :class:`~kernelgda.LearnedMetric` the same for the kernel with
        the current metric; ``None`` otherwise.

    Examples
    --------
    >>> import kernelgda as kg
    >>> gan = kg.KernelGAN([[0.0]], 1.0, kg.Gaussian(sigma=1.0), lam=1.0)
    >>> traj = kg.simulate(gan, kg.GDA(0.1, 0.1), [[0.5]], 1.0, num_steps=10)
    >>> traj.y.shape, str(traj.status), int(traj.steps[-1])
    ((11, 1, 1), 'completed', 10)
    """

    y: np.ndarray
    status: Status
    message: str
    q: np.ndarray
    sigma: float
    truncation_bound: float = 0.0
    num_slices: int = 0
    delays: int = field(default=2, repr=False)
    record_every: int = 1
    num_taken: int | None = field(default=None, repr=False)
    theta: np.ndarray | None = field(default=None, repr=False)
    kernel_movement: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self):
        if self.num_taken is None:
            object.__setattr__(self, "num_taken", (self.y.shape[0] - 1) * self.record_every)

    @property
    def num_steps(self) -> int:
        """Number of steps actually taken."""
        return self.num_taken

    @property
    def steps(self) -> np.ndarray:
        """The step ``k`` of every row of :attr:`y`."""
        return recorded_steps(self.num_taken, self.record_every)

    def distance(self, y_star) -> np.ndarray:
        """``|Y^k - Y*|`` (Frobenius norm over points and coordinates) at the recorded steps."""
        y_star = V.points(y_star, "y_star", d=self.y.shape[2])
        if y_star.shape != self.y.shape[1:]:
            raise ValueError(f"y_star must have shape {self.y.shape[1:]}, got {y_star.shape}")
        return np.sqrt(((self.y - y_star) ** 2).sum(axis=(1, 2)))

    def wasserstein2(self, x, p, *, every: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """``W2^2`` between the generated measure ``sum_j q_j delta_{y_j^k}`` and the true one.

        Delegates to :func:`kernelgda.wasserstein.wasserstein2_series` on the recorded
        configurations :attr:`y` with the run's weights :attr:`q` (both normalised to mass 1).

        Parameters
        ----------
        x : (m, d) array
            True points.
        p : (m,) array or scalar
            True weights.
        every : int >= 1
            Evaluate every ``every``-th *recorded* configuration and the last one. With
            ``record_every = s`` the rows of :attr:`y` are steps ``0, s, 2 s, ...`` (and the
            last step), so the evaluated steps are ``0, every s, 2 every s, ...`` and the last.

        Returns
        -------
        steps : (L,) int array
            The GDA steps ``k`` evaluated (entries of :attr:`steps`).
        values : (L,) array
            ``W2^2(Q^k, P)`` at those steps.

        Examples
        --------
        >>> import kernelgda as kg
        >>> gan = kg.KernelGAN([[0.0]], 1.0, kg.Gaussian(sigma=1.0), lam=0.5)
        >>> traj = kg.simulate(gan, kg.GDA(0.1, 0.1), [[0.5]], 1.0, num_steps=10, record_every=2)
        >>> steps, w2 = traj.wasserstein2([[0.0]], 1.0, every=2)
        >>> steps.tolist(), bool(np.isclose(w2[0], 0.25)), bool(w2[-1] < w2[0])
        ([0, 4, 8, 10], True, True)
        """
        rows, values = wasserstein2_series(self.y, self.q, x, p, every=every)
        return self.steps[rows], values

    def measure(self, y_star, *, linear_limit: float | None = None,
                noise_floor: float | None = None) -> Measurement:
        """Eigenvalues fitted to the error sequence ``Y^k - Y*`` (theory section 4, "measure").

        ``linear_limit`` defaults to ``1e-3 sigma`` and ``noise_floor`` to
        ``1e5 eps max(1, |Y*|)`` (theory section 7); see :mod:`kernelgda.measure`.

        Resolution: the fit needs equally spaced rows. With ``record_every = s > 1`` it
        uses the rows ``Y^0, Y^s, ...`` (a last, shorter interval is left out), whose
        linear map is the ``s``-th power of the step's, and reports per-step
        eigenvalues ``|z|^(1/s) exp(i arg(z) / s)``: the modulus (the rate) is exact,
        the argument only when the per-step rotation is below ``pi / s``; ``window``
        is in steps. The fit also needs ``delays + 1`` rows in the linear window, so a
        fast decay needs ``s`` small enough to leave that many rows there.
        """
        y_star = V.points(y_star, "y_star", d=self.y.shape[2])
        if y_star.shape != self.y.shape[1:]:
            raise ValueError(f"y_star must have shape {self.y.shape[1:]}, got {y_star.shape}")
        lim = 1e-3 * self.sigma if linear_limit is None else linear_limit
        floor = default_noise_floor(y_star) if noise_floor is None else noise_floor
        return measure_recorded(self.y, y_star, linear_limit=lim, noise_floor=floor, delays=self.delays,
                                record_every=self.record_every, num_taken=self.num_taken)

    def rate(self, y_star, **kwargs) -> float:
        """Measured generator-visible rate: modulus of the dominant fitted eigenvalue.

        ``nan`` when the run has too few linear, above-noise steps. Keyword
        arguments go to :meth:`measure`.
        """
        return self.measure(y_star, **kwargs).rate


def measure_recorded(y, y_star, *, linear_limit: float, noise_floor: float, delays: int,
                     record_every: int, num_taken: int) -> Measurement:
    """Per-step eigenvalues fitted to the recorded rows ``y`` of a run (:meth:`Trajectory.measure`).

    With ``record_every = s > 1`` the equally spaced rows (steps ``0, s, 2s, ...``) are fitted,
    giving the eigenvalues ``z^s`` of ``s`` steps, reported as ``|z^s|^(1/s) exp(i arg(z^s) / s)``
    with ``window`` in steps.
    """
    s = record_every
    rows = y if s == 1 or num_taken % s == 0 else y[:-1]
    err = (rows - y_star).reshape(rows.shape[0], -1)
    meas = measure_eigenvalues(err, linear_limit=linear_limit, noise_floor=noise_floor, delays=delays)
    if s == 1:
        return meas

    def root(z):
        return np.abs(z) ** (1.0 / s) * np.exp(1j * np.angle(z) / s)
    dom = complex(root(meas.dominant)) if np.isfinite(meas.dominant) else meas.dominant
    return Measurement(root(meas.eigenvalues), dom, float(abs(dom)),
                       (meas.window[0] * s, meas.window[1] * s))


def _initial_discriminator(gan, gda, n, capacity, history_tol, start, num_funcs, spec, max_memory):
    """The run's discriminator (the exact expansion, or what ``spec`` builds), at ``f*`` of ``start``."""
    if spec is None:
        disc = exact_expansion(gan, n, capacity, history_tol, num_funcs, max_memory=max_memory)
    else:
        disc = spec.setup(gan, gda, n, num_funcs, max_memory=max_memory)
    if start is not None:
        ys = getattr(start, "y", None)
        qs = getattr(start, "q", None)
        if ys is None or qs is None:
            raise ValueError("start must be None (f0 = 0) or an Equilibrium from find_equilibrium")
        ys, qs = gan.check_generated(ys, qs)
        if ys.shape[0] != n:
            raise ValueError(f"start has {ys.shape[0]} generated points but y0 has {n}")
        disc.start_at(gan, ys, qs, start, num_funcs)
    return disc


class _Rows:
    """The recorded rows of a run: the points, a generator's parameters (``thetas``, or ``None``)
    and, through :meth:`Discriminator.record`, the discriminator's kernel movement."""

    def __init__(self, num_rows, y, s, thetas, disc):
        self.y = np.empty((num_rows, *y.shape))
        self.thetas = thetas
        self.disc = disc
        self.count = 0
        self.add(y, s)

    def add(self, y, s):
        self.y[self.count] = y
        if self.thetas is not None:
            self.thetas[self.count] = s
        self.disc.record(y)
        self.count += 1


def _quiet(func):
    """Run ``func`` with floating-point warnings off: a blow-up is reported by ``status``."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return func(*args, **kwargs)
    return wrapper


@_quiet
def simulate(gan: KernelGAN, gda: GDA, y0, q, num_steps: int = 1000, *, start=None,
             history_tol: float | None = None, discriminator: DiscriminatorSpec | None = None,
             divergence_bound: float | None = None, record_every: int = 1,
             max_memory=None) -> Trajectory:
    """Run the exact nonlinear GDA dynamics of a kernel GAN.

    Parameters
    ----------
    gan : KernelGAN
    gda : GDA
    y0 : (n, d) array or Generator
        Initial generated points, or a parametric generator
        (:mod:`kernelgda.generators`) started from its ``theta``: the generator step is then
        ``theta <- theta + eta_g J^T (q grad f(Y))`` for GDA, and every other rule acts on
        ``theta`` the same way (theory section 12); the discriminator is unchanged.
    q : (n,) array or scalar
        Generated weights ``q_j > 0``.
    num_steps : int
        Number of GDA steps ``T``.
    start : None or Equilibrium
        ``None`` starts the discriminator at ``f0 = 0``; an equilibrium from
        :func:`find_equilibrium` starts it at that fixed point's ``f*``.
    history_tol : float in [0, 1), optional
        Relative truncation tolerance of the discriminator history; the
        guaranteed bound on the gradient error is reported as
        ``Trajectory.truncation_bound`` (see :mod:`kernelgda.discriminator`). The
        default is lossless: ``2^-53``, float64 rounding of the gradient's scale
        (:data:`kernelgda.discriminator.truncation.LOSSLESS_TOL`), which gives the full
        history's numbers to rounding at ``O(T / (eta_d lam))`` cost; ``0`` keeps every slice.
    discriminator : None or DiscriminatorSpec
        ``None`` keeps the exact kernel expansion; otherwise a discriminator spec
        (:class:`~kernelgda.discriminator.interface.DiscriminatorSpec`), each documented with its
        cost and the rules it runs: ``kg.RandomFeatures(num_features=D, seed=s)`` (random
        features ``f = w.phi``, no history), ``kg.FastGaussTransform(tol=...)`` (the history as
        Hermite expansions in boxes, certified bound in ``Trajectory.truncation_bound``),
        ``kg.NetworkDiscriminator(width, ...)`` (a two-layer network in parameter space; ``start``
        may be its own fixed point) or ``kg.LearnedMetric(every=k)`` (the authors' learned
        Gaussian metric). ``start=eq`` starts each at its ``f*``.
    divergence_bound : float, optional
        Distance from the mean of the true points beyond which the run stops as
        ``Status.DIVERGED``; default :data:`DIVERGENCE_FACTOR` ``* max(sigma, extent)``.
    record_every : int >= 1
        Keep every ``record_every``-th configuration and the last one
        (:func:`recorded_steps`), so that long or large runs do not store every
        step; see :meth:`Trajectory.measure` for the resolution a rate needs.
    max_memory : int or str, optional
        Limit on the bytes of the stored trajectory and, separately, of the discriminator's
        history or random features (``"2G"``, see
        :func:`kernelgda.resources.parse_size`), checked before anything is allocated;
        ``None`` is :func:`kernelgda.resources.default_limit`.

    Returns
    -------
    Trajectory

    Raises
    ------
    ValueError
        When the stored trajectory would exceed ``max_memory`` (the message names the
        ``record_every`` that fits).

    Notes
    -----
    Cost ``O(T (m + k n) n d)`` per step ``k`` with the full history, so
    ``O(T^2 n^2 d)`` per run (theory section 2); the lossless default keeps at most about
    ``37 / (eta_d lam)`` slices, so ``O(T n^2 d / (eta_d lam))`` when ``lam > 0``. The step is the rule's
    :meth:`kernelgda.rules.Rule.step`, the same code that :func:`kernelgda.simulate_batch`
    runs on many cells.

    Examples
    --------
    >>> import kernelgda as kg
    >>> gan = kg.KernelGAN([[0.0]], 1.0, kg.Gaussian(sigma=1.0), lam=0.5)
    >>> traj = kg.simulate(gan, kg.GDA(0.1, 0.1), [[0.1]], 1.0, num_steps=200)
    >>> str(traj.status), bool(traj.distance([[0.0]])[-1] < 0.1)
    ('completed', True)
    """
    if not isinstance(gan, KernelGAN):
        raise ValueError(f"gan must be a KernelGAN, got {type(gan).__name__}")
    if not isinstance(gda, GDA):
        raise ValueError(f"gda must be a GDA, got {type(gda).__name__}")
    gen, s, y0 = run_state(y0)
    y, q = gan.check_generated(y0, q)
    s = y if s is None else s
    num_steps = V.integer(num_steps, "num_steps", minimum=0)
    if discriminator is None:
        history_tol = history_tolerance(history_tol)
    else:
        if not isinstance(discriminator, DiscriminatorSpec):
            raise ValueError("discriminator must be None (exact expansion), "
                             "kg.RandomFeatures(num_features=..., seed=...), kg.FastGaussTransform(tol=...), "
                             "kg.NetworkDiscriminator(width=...) or kg.LearnedMetric(every=...), "
                             f"got {discriminator!r}")
        if history_tol is not None:
            raise ValueError("history_tol applies to the exact expansion only; "
                             f"leave it unset with discriminator={type(discriminator).__name__}(...)")
    center = gan.x_true.mean(axis=0)
    if divergence_bound is None:
        extent = max(np.abs(gan.x_true - center).max(), np.abs(y - center).max())
        divergence_bound = DIVERGENCE_FACTOR * max(gan.kernel.length_scale, extent)
    else:
        divergence_bound = V.scalar(divergence_bound, "divergence_bound", positive=True)

    record_every = V.integer(record_every, "record_every", minimum=1)
    check_trajectory(num_steps, y.shape[0], y.shape[1], record_every, limit=max_memory)
    num_rows = len(recorded_steps(num_steps, record_every))
    thetas = gen.parameter_rows(num_rows, max_memory=max_memory)

    n = y.shape[0]
    rule = get_rule(gda.mode)
    num_funcs = None if rule.state_copies == 1 else rule.state_copies
    capacity = rule.slices_per_step(gda.d_steps) * num_steps + 2
    disc = _initial_discriminator(gan, gda, n, capacity, history_tol, start, num_funcs, discriminator,
                                  max_memory)
    consts = rule.constants(StepConstants.make(gan.lam, gda.eta_d, gda.eta_g, gda.beta, q,
                                               gda.d_steps))
    state = rule.init(consts, disc, s, gen)

    rows = _Rows(num_rows, y, s, thetas, disc)
    last, last_s = y, s
    bound = 0.0
    status, message, k = Status.COMPLETED, f"completed {num_steps} steps", num_steps
    for k in range(num_steps):
        s, state = rule.step(consts, state, disc, s, gen)
        y = gen.points(s)
        bound = max(bound, disc.bound)
        finite = np.isfinite(y).all() and (s is y or np.isfinite(s).all())
        if not finite or np.abs(y - center).max() > divergence_bound:
            status = Status.DIVERGED
            message = (f"diverged at step {k + 1}: a generated point left the ball of radius "
                       f"{divergence_bound:.3g} around the true points' mean"
                       if finite else f"diverged at step {k + 1}: non-finite values")
            break
        last, last_s = y, s
        if (k + 1) % record_every == 0:
            rows.add(y, s)
    else:
        k = num_steps
    if k % record_every:  # the last configuration, off the stride
        rows.add(last, last_s)
    if status == Status.COMPLETED and escaped(gan, last):
        status = Status.ESCAPED
        message = f"escaped: completed {num_steps} steps, but {Status.ESCAPED.description}"
    return Trajectory(y=rows.y[:rows.count], status=status,
                      message=message, q=q, sigma=gan.kernel.length_scale, truncation_bound=bound,
                      num_slices=disc.num_slices, delays=rule.num_delays,
                      record_every=record_every, num_taken=k,
                      theta=None if thetas is None else thetas[:rows.count],
                      kernel_movement=disc.kernel_movement())
