"""Exact nonlinear GDA dynamics of a kernel GAN (theory section 2).

    f^{k+1} = (1 - eta_d lam) f^k + eta_d ( K(., X) p - K(., Y^k) q )            (D)
    simultaneous:  y_j^{k+1} = y_j^k + eta_g q_j grad f^k(y_j^k)
    alternating:   y_j^{k+1} = y_j^k + eta_g q_j grad f^{k+1}(y_j^k)

The discriminator is kept as the exact kernel expansion of
:class:`~kernelgda.discriminator.Expansion`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from . import _validate as V
from .discriminator import Expansion, MultiExpansion
from .features import RandomFeatures
from .game import GDA, KernelGAN
from .measure import Measurement, default_noise_floor, measure_eigenvalues
from .rules import num_delays

__all__ = ["simulate", "Trajectory", "DIVERGENCE_FACTOR"]

#: A run is "diverged" when a coordinate moves further than
#: ``DIVERGENCE_FACTOR * max(sigma, extent)`` from the mean of the true points, where
#: ``extent`` is the largest distance of a true or initial generated coordinate from it.
DIVERGENCE_FACTOR = 1e6


@dataclass(frozen=True, eq=False)
class Trajectory:
    """Result of :func:`simulate`.

    Attributes
    ----------
    y : (K + 1, n, d) array
        Generated points ``Y^0..Y^K``; ``K = num_steps`` unless the run diverged,
        in which case the last row is the last finite configuration.
    status : {"completed", "diverged"}
    message : str
    q : (n,) array
    sigma : float
        The kernel's length scale (sets the linear regime of :meth:`rate`).
    truncation_bound : float
        Largest bound on the discriminator-gradient error caused by history
        truncation over the run (0 for the full history).
    num_slices : int
        History slices held at the end of the run.
    """

    y: np.ndarray
    status: str
    message: str
    q: np.ndarray
    sigma: float
    truncation_bound: float = 0.0
    num_slices: int = 0
    delays: int = field(default=2, repr=False)

    @property
    def num_steps(self) -> int:
        """Number of steps actually taken."""
        return self.y.shape[0] - 1

    def distance(self, y_star) -> np.ndarray:
        """``|Y^k - Y*|`` (Frobenius norm over points and coordinates), shape ``(K + 1,)``."""
        y_star = V.points(y_star, "y_star", d=self.y.shape[2])
        if y_star.shape != self.y.shape[1:]:
            raise ValueError(f"y_star must have shape {self.y.shape[1:]}, got {y_star.shape}")
        return np.sqrt(((self.y - y_star) ** 2).sum(axis=(1, 2)))

    def measure(self, y_star, *, linear_limit: float | None = None,
                noise_floor: float | None = None) -> Measurement:
        """Eigenvalues fitted to the error sequence ``Y^k - Y*`` (theory section 4, "measure").

        ``linear_limit`` defaults to ``1e-3 sigma`` and ``noise_floor`` to
        ``1e5 eps max(1, |Y*|)`` (theory section 7); see :mod:`kernelgda.measure`.
        """
        y_star = V.points(y_star, "y_star", d=self.y.shape[2])
        if y_star.shape != self.y.shape[1:]:
            raise ValueError(f"y_star must have shape {self.y.shape[1:]}, got {y_star.shape}")
        lim = 1e-3 * self.sigma if linear_limit is None else linear_limit
        floor = default_noise_floor(y_star) if noise_floor is None else noise_floor
        err = (self.y - y_star).reshape(self.y.shape[0], -1)
        return measure_eigenvalues(err, linear_limit=lim, noise_floor=floor, delays=self.delays)

    def rate(self, y_star, **kwargs) -> float:
        """Measured generator-visible rate: modulus of the dominant fitted eigenvalue.

        ``nan`` when the run has too few linear, above-noise steps. Keyword
        arguments go to :meth:`measure`.
        """
        return self.measure(y_star, **kwargs).rate


def _initial_expansion(gan, n, capacity, history_tol, start, q, num_funcs=None, features=None):
    if features is not None:  # random features: f = w.phi, no history (kernelgda.features)
        disc = features.build(gan.kernel, gan.x_true, gan.p_true, num_funcs)
    elif num_funcs is None:
        disc = Expansion(gan.kernel, gan.x_true, gan.p_true, n, capacity, history_tol)
    else:  # function 0 is f; the others start at 0 and are set up by the rule's stepper
        disc = MultiExpansion(gan.kernel, gan.x_true, gan.p_true, n, capacity, num_funcs,
                              history_tol)
    first = 1.0 if num_funcs is None else np.eye(num_funcs)[0]
    if start is not None:
        ys = getattr(start, "y", None)
        qs = getattr(start, "q", None)
        if ys is None or qs is None:
            raise ValueError("start must be None (f0 = 0) or an Equilibrium from find_equilibrium")
        ys, qs = gan.check_generated(ys, qs)
        if ys.shape[0] != n:
            raise ValueError(f"start has {ys.shape[0]} generated points but y0 has {n}")
        if gan.lam > 0:  # f* = (K(., X) p - K(., Y*) q) / lam; for lam = 0 (perfect match) f* = 0
            disc.add_true(first / gan.lam)
            disc.add_slice(ys, np.multiply.outer(-qs / gan.lam, first))
    return disc


def _quiet(func):
    """Run ``func`` with floating-point warnings off: a blow-up is reported by ``status``."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return func(*args, **kwargs)
    return wrapper


@_quiet
def simulate(gan: KernelGAN, gda: GDA, y0, q, num_steps: int = 1000, *, start=None,
             history_tol: float | None = None, discriminator: RandomFeatures | None = None,
             divergence_bound: float | None = None) -> Trajectory:
    """Run the exact nonlinear GDA dynamics of a kernel GAN.

    Parameters
    ----------
    gan : KernelGAN
    gda : GDA
    y0 : (n, d) array
        Initial generated points.
    q : (n,) array or scalar
        Generated weights ``q_j > 0``.
    num_steps : int
        Number of GDA steps ``T``.
    start : None or Equilibrium
        ``None`` starts the discriminator at ``f0 = 0``; an equilibrium from
        :func:`find_equilibrium` starts it at that fixed point's ``f*``.
    history_tol : float in (0, 1), optional
        Relative truncation tolerance of the discriminator history; the
        guaranteed bound on the gradient error is reported as
        ``Trajectory.truncation_bound`` (see :mod:`kernelgda.discriminator`).
    discriminator : None or RandomFeatures
        ``None`` keeps the exact kernel expansion; ``kg.RandomFeatures(num_features=D,
        seed=s)`` uses the random-feature discriminator ``f = w.phi`` (cost
        ``O(T D (m + n) d)``, no history; simultaneous and alternating modes;
        see :mod:`kernelgda.features`). ``start=eq`` then sets ``w`` to the
        random-feature ``f*``.
    divergence_bound : float, optional
        Distance from the mean of the true points beyond which the run stops as
        ``"diverged"``; default :data:`DIVERGENCE_FACTOR` ``* max(sigma, extent)``.

    Returns
    -------
    Trajectory

    Notes
    -----
    Cost ``O(T (m + k n) n d)`` per step ``k`` with the full history, so
    ``O(T^2 n^2 d)`` per run (theory section 2).

    Examples
    --------
    >>> import kernelgda as kg
    >>> gan = kg.KernelGAN([[0.0]], 1.0, kg.Gaussian(sigma=1.0), lam=0.5)
    >>> traj = kg.simulate(gan, kg.GDA(0.1, 0.1), [[0.1]], 1.0, num_steps=200)
    >>> traj.status, bool(traj.distance([[0.0]])[-1] < 0.1)
    ('completed', True)
    """
    if not isinstance(gan, KernelGAN):
        raise ValueError(f"gan must be a KernelGAN, got {type(gan).__name__}")
    if not isinstance(gda, GDA):
        raise ValueError(f"gda must be a GDA, got {type(gda).__name__}")
    y, q = gan.check_generated(y0, q)
    num_steps = V.integer(num_steps, "num_steps", minimum=0)
    if history_tol is not None:
        history_tol = V.scalar(history_tol, "history_tol", positive=True)
        if history_tol >= 1:
            raise ValueError(f"history_tol must be in (0, 1), got {history_tol}")
    if discriminator is not None:
        if not isinstance(discriminator, RandomFeatures):
            raise ValueError("discriminator must be None (exact expansion) or "
                             f"kg.RandomFeatures(num_features=..., seed=...), got {discriminator!r}")
        if history_tol is not None:
            raise ValueError("history_tol applies to the exact expansion only; "
                             "leave it unset with discriminator=RandomFeatures(...)")
    center = gan.x_true.mean(axis=0)
    if divergence_bound is None:
        extent = max(np.abs(gan.x_true - center).max(), np.abs(y - center).max())
        divergence_bound = DIVERGENCE_FACTOR * max(gan.kernel.sigma, extent)
    else:
        divergence_bound = V.scalar(divergence_bound, "divergence_bound", positive=True)

    n = y.shape[0]
    per_step = {"extragradient": 2, "alternating": gda.d_steps}.get(gda.mode, 1)
    num_funcs = 2 if gda.mode in ("optimistic", "momentum") else None
    disc = _initial_expansion(gan, n, per_step * num_steps + 2, history_tol, start, q, num_funcs,
                              discriminator)
    stepper = _STEPPERS[gda.mode](gan, gda, q)

    out = np.empty((num_steps + 1, n, y.shape[1]))
    out[0] = y
    bound = 0.0
    status, message, k = "completed", f"completed {num_steps} steps", num_steps
    for k in range(num_steps):
        y = stepper(disc, y)
        bound = max(bound, disc.bound)
        if not np.isfinite(y).all() or np.abs(y - center).max() > divergence_bound:
            status = "diverged"
            message = (f"diverged at step {k + 1}: a generated point left the ball of radius "
                       f"{divergence_bound:.3g} around the true points' mean"
                       if np.isfinite(y).all() else f"diverged at step {k + 1}: non-finite values")
            break
        out[k + 1] = y
    else:
        k = num_steps
    if status == "diverged":
        out = out[:k + 1]
    return Trajectory(y=out, status=status, message=message, q=q, sigma=gan.kernel.sigma,
                      truncation_bound=bound, num_slices=disc.num_slices,
                      delays=num_delays(gda.mode))


# -- one step of each update rule (theory sections 2 and 8) ------------------------------
# Each factory returns ``step(disc, y) -> y_new`` that updates the expansion in place.

def _simultaneous(gan, gda, q):
    decay, step_w, move = 1.0 - gda.eta_d * gan.lam, -gda.eta_d * q, (gda.eta_g * q)[:, None]

    def step(disc, y):
        g = disc.grad(y)
        disc.decay(decay)
        disc.add_true(gda.eta_d)
        disc.add_slice(y, step_w)
        return y + move * g
    return step


def _alternating(gan, gda, q):
    # d_steps discriminator steps with the current Y, then the generator along the new f.
    decay, step_w, move = 1.0 - gda.eta_d * gan.lam, -gda.eta_d * q, (gda.eta_g * q)[:, None]

    def step(disc, y):
        for _ in range(gda.d_steps):
            disc.decay(decay)
            disc.add_true(gda.eta_d)
            disc.add_slice(y, step_w)
        return y + move * disc.grad(y)
    return step


def _extragradient(gan, gda, q):
    # z_half = z + eta F(z); z' = z + eta F(z_half). With a = eta_d lam:
    #   f_half = (1 - a) f + eta_d (K(., X) p - K(., Y) q)
    #   f'     = (1 - a + a^2) f + eta_d (1 - a) K(., X) p + a eta_d K(., Y) q - eta_d K(., Y_half) q
    #   Y_half = Y + eta_g q grad f(Y),   Y' = Y + eta_g q grad f_half(Y_half)
    a = gda.eta_d * gan.lam
    move = (gda.eta_g * q)[:, None]

    def step(disc, y):
        y_half = y + move * disc.grad(y)
        g_half = (1 - a) * disc.grad(y_half) + gda.eta_d * disc.field_grad(y_half, y, q)
        disc.decay(1 - a + a * a)
        disc.add_true(gda.eta_d * (1 - a))
        disc.add_slice(y, a * gda.eta_d * q)
        disc.add_slice(y_half, -gda.eta_d * q)
        return y + move * g_half
    return step


def _optimistic(gan, gda, q):
    # z' = z + eta (2 F(z_k) - F(z_{k-1})), F(z_{-1}) = F(z_0). Functions (f, phi) with
    # phi = F_D(z_{k-1}) and F_D(z) = K(., X) p - K(., Y) q - lam f:
    #   f'   = (1 - 2a) f - eta_d phi + 2 eta_d K(., X) p - 2 eta_d K(., Y^k) q
    #   phi' = -lam f + K(., X) p - K(., Y^k) q
    # and psi = q grad f^{k-1}(Y^{k-1}) for the generator.
    a, lam, eta_d = gda.eta_d * gan.lam, gan.lam, gda.eta_d
    mixing = np.array([[1 - 2 * a, -eta_d], [-lam, 0.0]])
    new_w = np.stack([-2 * eta_d * q, -q], axis=1)
    state = {}

    def step(disc, y):
        g = q[:, None] * disc.grad(y, (1.0, 0.0))
        if not state:  # phi_0 = F_D(z_0), psi_0 = q grad f^0(Y^0)
            disc.mix(np.array([[1.0, 0.0], [-lam, 0.0]]))
            disc.add_true((0.0, 1.0))
            disc.add_slice(y, np.stack([np.zeros_like(q), -q], axis=1))
            state["psi"] = g
        disc.mix(mixing)
        disc.add_true((2 * eta_d, 1.0))
        disc.add_slice(y, new_w)
        y_new = y + gda.eta_g * (2 * g - state["psi"])
        state["psi"] = g
        return y_new
    return step


def _momentum(gan, gda, q):
    # v' = beta v + F(z), z' = z + eta v', v_0 = 0. Functions (f, v_f):
    #   v_f' = beta v_f - lam f + K(., X) p - K(., Y) q
    #   f'   = (1 - a) f + eta_d beta v_f + eta_d K(., X) p - eta_d K(., Y) q
    a, beta, eta_d = gda.eta_d * gan.lam, gda.beta, gda.eta_d
    mixing = np.array([[1 - a, eta_d * beta], [-gan.lam, beta]])
    new_w = np.stack([-eta_d * q, -q], axis=1)
    state = {"v": 0.0}

    def step(disc, y):
        state["v"] = beta * state["v"] + q[:, None] * disc.grad(y, (1.0, 0.0))
        disc.mix(mixing)
        disc.add_true((eta_d, 1.0))
        disc.add_slice(y, new_w)
        return y + gda.eta_g * state["v"]
    return step


_STEPPERS = {"simultaneous": _simultaneous, "alternating": _alternating,
             "extragradient": _extragradient, "optimistic": _optimistic, "momentum": _momentum}
