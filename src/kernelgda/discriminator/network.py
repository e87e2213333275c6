"""A finite-width two-layer network discriminator, trained in parameter space (theory section 13).

The discriminator is ``f_theta(u) = (1/sqrt(h)) sum_r a_r phi(w_r . u + b_r)``,
``theta = (a, W, b)``, with the antisymmetric initialization ``theta0`` of
:func:`kernelgda.kernels.tangent.initial_parameters` (``f_theta0 = 0``). Network GDA is

    theta^{k+1} = theta^k + eta_d ( sum_i p_i grad_theta f(x_i) - sum_j q_j grad_theta f(y_j^k)
                                    - lam (theta^k - theta0) )

with the payoff gradients at ``theta^k``. The update rules (:mod:`kernelgda.rules`) drive a
discriminator through ``decay``, ``mix``, ``add_true``, ``add_slice`` and ``grad``; here each
function is a parameter-space vector (function 0 is ``theta - theta0``; the second function of
optimistic and momentum GDA is the previous field or the velocity, also parameter vectors):

    decay(a)         theta - theta0 <- a (theta - theta0)
    mix(t)           the functions' parameter vectors <- t applied to them
    add_true(c)      function i += c_i sum_i p_i grad_theta f_ref(x_i)
    add_slice(y, w)  function i += sum_j w_ji grad_theta f_ref(y_j)
    grad(y)          grad_y f_theta(y) at the current parameters

Every rule starts a discriminator step with ``decay`` or ``mix`` before it adds payoff terms,
so ``decay`` and ``mix`` first keep the parameters they find as ``theta_ref``: the payoff
gradients of that step are taken there, at ``theta^k``, as network GDA requires (they are
linear in the kernel game, not here). With this, simultaneous, alternating (any ``d_steps``),
optimistic and momentum GDA are exactly their parameter-space versions (tested against a
hand-written network loop); extragradient is refused: its half step needs the gradient of
``f`` at parameters that the rule composes linearly (``field_grad``), which a network is not.

**Fixed points.** For fixed generated points ``Y`` the discriminator's fixed point solves
``lam (theta - theta0) = sum p grad_theta f_theta(X) - sum q grad_theta f_theta(Y)``; it is found
by the fixed-point iteration of that equation (the discriminator run alone with step
``1 / lam``, a contraction in the lazy regime). :meth:`NetworkDiscriminator.equilibrium` adds
Newton's method on ``Y`` for ``grad_y f_theta*(Y)(Y) = 0`` with a central-difference Jacobian
(``n d`` unknowns), each residual with the inner iteration warm-started.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from .. import _validate as V
from ..kernels import Kernel
from ..kernels.ntk import NTK
from ..kernels.tangent import (
    EmpiricalNTK,
    activation_derivatives,
    checked_network,
    initial_parameters,
    tangent_gram,
)
from ..resources import check_bytes
from ..status import Status
from ..threads import THREADS
from .interface import Discriminator, DiscriminatorSpec

__all__ = ["NetworkDiscriminator", "NetworkModel", "NetworkEquilibrium", "NETWORK_RULES"]

#: Update rules whose discriminator operations are exactly network GDA (module docstring).
NETWORK_RULES = ("simultaneous", "alternating", "optimistic", "momentum")
#: The discriminator's fixed-point iteration stops when a step changes ``theta`` by less than
#: this fraction of ``|theta - theta0|`` (plus the same fraction of ``|theta0|``, for ``theta ~ theta0``).
SOLVE_RTOL = 1e-15
#: Iterations of the discriminator's fixed-point iteration before it is reported as failing.
SOLVE_MAX_ITER = 10_000


def _one_blas(method):
    """Run ``method`` with BLAS on one thread: the products here are thin (``(n, h) x (h, d)``),
    where BLAS threads cost more than they save, far more on shared cores (measured 1.4 ms
    against 5 us for a ``1 x 16384 x 1`` product with two busy cores)."""
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        with THREADS.one_blas_thread():
            return method(*args, **kwargs)
    return wrapper


@dataclass(frozen=True)
class NetworkEquilibrium:
    """A fixed point of network GDA from :meth:`NetworkDiscriminator.equilibrium`.

    ``y`` and ``q`` as in :class:`kernelgda.Equilibrium` (so ``simulate(..., start=eq)``
    accepts it), ``theta`` the flat parameters ``(a, W.ravel(), b)`` at the fixed point,
    ``residual = max |grad_y f_theta(y_j)|``, ``status`` ``CONVERGED`` or ``NOT_CONVERGED``,
    ``network`` the :class:`NetworkDiscriminator` it belongs to (a start with another network's
    parameters is refused).
    """

    y: np.ndarray
    q: np.ndarray
    theta: np.ndarray
    residual: float
    iterations: int
    status: Status
    message: str
    network: NetworkDiscriminator | None = None

    @property
    def converged(self) -> bool:
        return self.status == Status.CONVERGED


@dataclass(frozen=True)
class NetworkDiscriminator(DiscriminatorSpec):
    """Two-layer network discriminator for ``kg.simulate(..., discriminator=...)`` (theory section 13).

    ``f(u) = (1/sqrt(width)) sum_r a_r phi(w_r . u + b_r)`` with ``w_r ~ N(0, sigma_w^2 I)``,
    ``b_r ~ N(0, sigma_b^2)``, ``a_r ~ N(0, 1)`` in antisymmetric pairs (``f = 0`` at the start),
    trained by gradient ascent on the payoff with weight decay ``lam (theta - theta0)``
    (``lam`` of the game). Rules: :data:`NETWORK_RULES`. The game's kernel only sets the run's
    length scale and escape test; use :meth:`tangent_kernel` there.

    Parameters
    ----------
    width : int
        Even number of neurons ``h`` (pairs).
    activation : {"erf", "relu"}
    sigma_w, sigma_b : float
        Standard deviations of the input weights and biases at initialization.
    seed : int
        Seed of the initialization (the same seed gives the same network).
    track_movement : bool
        Record ``|Theta_t - Theta_0| / |Theta_0|`` (Frobenius norms of the tangent kernel's
        Gram matrix on the true and generated points) at every recorded step, as
        ``Trajectory.kernel_movement``; it costs two ``(m + n)^2 width`` products per row.

    Examples
    --------
    >>> import kernelgda as kg
    >>> net = kg.NetworkDiscriminator(width=256, activation="erf", sigma_w=1.0, sigma_b=0.5, seed=0)
    >>> gan = kg.KernelGAN([[0.3]], 1.0, net.tangent_kernel(), lam=2.0)
    >>> traj = kg.simulate(gan, kg.GDA(0.2, 0.05), [[0.35]], 1.0, num_steps=300, discriminator=net)
    >>> bool(abs(traj.y[-1, 0, 0] - 0.3) < 1e-3), bool(traj.kernel_movement[-1] < 1e-3)
    (True, True)
    """

    width: int = 1024
    activation: str = "erf"
    sigma_w: float = 1.0
    sigma_b: float = 0.0
    seed: int = 0
    track_movement: bool = True

    def __post_init__(self):
        for name, value in checked_network(self).items():
            object.__setattr__(self, name, value)
        if not isinstance(self.track_movement, bool):
            raise ValueError(f"track_movement must be True or False, got {self.track_movement!r}")

    def tangent_kernel(self) -> EmpiricalNTK:
        """The network's empirical tangent kernel ``Theta_h`` at initialization, as a kernel."""
        return EmpiricalNTK(self.width, self.activation, self.sigma_w, self.sigma_b, self.seed)

    def analytic_kernel(self) -> NTK:
        """The infinite-width limit of :meth:`tangent_kernel` (:class:`kernelgda.NTK`)."""
        return NTK(self.activation, self.sigma_w, self.sigma_b)

    def check_rule(self, mode: str) -> None:
        """Refuse an update rule that is not exactly network GDA here (module docstring)."""
        if mode not in NETWORK_RULES:
            raise ValueError(f"mode={mode!r} is not available with a network discriminator (its half "
                             "step composes discriminators linearly); use one of "
                             f"{', '.join(NETWORK_RULES)}")

    def build(self, kernel: Kernel, x: np.ndarray, p: np.ndarray, num_funcs: int | None = None,
              max_memory=None) -> NetworkModel:
        """The network at its initialization over true points ``x (m, d)`` with weights ``p``
        (``num_funcs`` parameter vectors for optimistic and momentum GDA); ``kernel`` is unused."""
        funcs = 1 if num_funcs is None else num_funcs
        size = self.width * (x.shape[1] + 2)
        check_bytes(8 * size * (funcs + 4), "network discriminator parameters", limit=max_memory,
                    detail=f"{size} parameters x {funcs + 4} copies", hint="use a smaller width")
        return NetworkModel(self, x, p, num_funcs)

    def setup(self, gan, gda, n, num_funcs=None, *, max_memory=None) -> NetworkModel:
        """:meth:`check_rule`, then :meth:`build` over ``gan``'s true points."""
        self.check_rule(gda.mode)
        return self.build(gan.kernel, gan.x_true, gan.p_true, num_funcs, max_memory=max_memory)

    def equilibrium(self, gan, y0, q, *, tol: float = 1e-12, max_iter: int = 30) -> NetworkEquilibrium:
        """The fixed point ``(theta*, Y*)`` of network GDA near ``y0`` (module docstring).

        Parameters
        ----------
        gan : KernelGAN
            True points, weights and ``lam > 0`` (its kernel is not used).
        y0 : (n, d) array
            Starting guess, e.g. the fixed point of the tangent kernel from ``kg.find_equilibrium``.
        q : (n,) array or scalar
        tol : float
            Newton stops when ``max |grad_y f_theta*(y_j)| <= tol``.
        max_iter : int

        Examples
        --------
        >>> import kernelgda as kg
        >>> net = kg.NetworkDiscriminator(width=64, sigma_b=0.5, seed=1)
        >>> gan = kg.KernelGAN([[0.3]], 1.0, net.tangent_kernel(), lam=2.0)
        >>> eq = net.equilibrium(gan, [[0.3]], 0.8)
        >>> eq.converged, bool(abs(eq.y[0, 0] - 0.3) < 0.1), bool(eq.residual <= 1e-12)
        (True, True, True)
        """
        y, q = gan.check_generated(y0, q)
        tol = V.scalar(tol, "tol", positive=True)
        max_iter = V.integer(max_iter, "max_iter", minimum=1)
        if not gan.lam > 0:
            raise ValueError("the network's fixed point needs lam > 0 (with lam = 0 only a perfect "
                             "fit y = x, q = p is one, with theta = theta0)")
        model = self.build(gan.kernel, gan.x_true, gan.p_true)
        step = 1e-6 * max(1.0 / self.sigma_w, float(np.abs(y).max()))
        state = {"delta": np.zeros_like(model.theta0)}

        def residual(yy):
            state["delta"] = model.solve(yy, q, gan.lam, state["delta"])
            return model.grad_at(model.theta0 + state["delta"], yy)

        r = residual(y)
        res, it = float(np.abs(r).max()), 0
        # Newton until the residual is below tol and then while it still halves: a rate fitted
        # down to 1e-11 needs Y* to rounding, not to tol.
        while it < max_iter and np.isfinite(res):
            it += 1
            base = state["delta"]
            jac = np.empty((y.size, y.size))
            for i in range(y.size):
                e = np.zeros(y.size)
                e[i] = step
                state["delta"] = base
                plus = residual(y + e.reshape(y.shape))
                state["delta"] = base
                minus = residual(y - e.reshape(y.shape))
                jac[:, i] = (plus - minus).ravel() / (2 * step)
            state["delta"] = base
            y_new = y - np.linalg.lstsq(jac, r.ravel(), rcond=None)[0].reshape(y.shape)
            r_new = residual(y_new)
            res_new = float(np.abs(r_new).max())
            if res <= tol and not res_new < 0.5 * res:
                state["delta"] = base
                break
            y, r, res = y_new, r_new, res_new
        state["delta"] = model.solve(y, q, gan.lam, state["delta"])
        ok = res <= tol
        msg = (f"converged in {it} Newton steps (max |grad f| = {res:.2g})" if ok else
               f"not converged after {max_iter} Newton steps (max |grad f| = {res:.2g})")
        return NetworkEquilibrium(y=y, q=q, theta=model.theta0 + state["delta"], residual=res,
                                  iterations=it, status=Status.CONVERGED if ok else Status.NOT_CONVERGED,
                                  message=msg, network=self)


class NetworkModel(Discriminator):
    """The parameter-space discriminator a :class:`NetworkDiscriminator` builds (module docstring).

    The rules' interface (``decay``, ``mix``, ``add_true``, ``add_slice``, ``grad``) plus
    ``bound = 0`` and ``num_slices = 0`` (no history), ``nbytes``, ``value``, ``record`` (the
    kernel movement at a recorded step) and ``start_at`` (a fixed-point start).
    """

    bound = 0.0
    num_slices = 0

    def __init__(self, spec: NetworkDiscriminator, x, p, num_funcs=None):
        self.spec, self.x, self.p = spec, x, p
        self.h, self.d = spec.width, x.shape[1]
        a, W, b = initial_parameters(spec.width, self.d, spec.sigma_w, spec.sigma_b, spec.seed)
        self.theta0 = np.concatenate([a, W.ravel(), b])
        size = self.theta0.size
        self.delta = np.zeros(size if num_funcs is None else (size, num_funcs))
        self._ref = None       # theta of the current discriminator step (None: the current one)
        self._theta = None     # (delta, theta0 + delta[:, 0]) for the current delta
        self._cache = {}       # activation derivatives at (theta, points), the last few
        self.movement = [] if spec.track_movement else None

    @property
    def nbytes(self) -> int:
        return 8 * self.theta0.size * (2 + (1 if self.delta.ndim == 1 else self.delta.shape[1]))

    def theta(self) -> np.ndarray:
        """Current parameters of function 0 (the discriminator ``f``); the same array object
        until ``delta`` changes (every operation replaces ``delta``, never edits it)."""
        if self._theta is None or self._theta[0] is not self.delta:
            delta = self.delta if self.delta.ndim == 1 else self.delta[:, 0]
            self._theta = (self.delta, self.theta0 + delta)
        return self._theta[1]

    def _unpack(self, theta):
        h, d = self.h, self.d
        return theta[:h], theta[h:h + h * d].reshape(h, d), theta[h + h * d:]

    def _derivs(self, theta, y, values: bool = True):
        """``[phi, phi']`` (``[None, phi']`` without ``values``) of the pre-activations ``(n, h)``.

        A step asks for the same ``(theta, Y)`` in ``grad`` and ``add_slice``, so the last few
        are kept (keyed by the ``theta`` object); ``phi`` (an erf) is computed only when a
        payoff gradient needs it, the generator's gradient needs ``phi'`` alone.
        """
        key = (id(theta), y.shape)
        c = self._cache.get(key)
        if c is None or c[0] is not theta or not np.array_equal(c[1], y):
            _, W, b = self._unpack(theta)
            if len(self._cache) >= 4:
                self._cache.clear()
            z = y @ W.T + b
            c = [theta, np.array(y, copy=True), z, None, activation_derivatives(self.spec.activation, z, 1,
                                                                                skip_value=True)[1]]
            self._cache[key] = c
        if values and c[3] is None:
            c[3] = activation_derivatives(self.spec.activation, c[2], 0)[0]
        return c[3], c[4]

    def payoff_grad(self, theta, y, w) -> np.ndarray:
        """``sum_j w_j grad_theta f_theta(y_j)`` as a flat parameter vector (``w`` of shape ``(n,)``)."""
        a, _, _ = self._unpack(theta)
        phi, dphi = self._derivs(theta, y)
        s = 1.0 / np.sqrt(self.h)
        # row-vector products (w @ phi, not phi.T @ w): BLAS is far faster on contiguous rows
        gW = ((w[:, None] * y).T @ dphi) * (a * s)          # (d, h)
        return np.concatenate([s * (w @ phi), gW.T.ravel(), (a * s) * (w @ dphi)])

    def grad_at(self, theta, y) -> np.ndarray:
        """``grad_y f_theta`` at the rows of ``y``, ``(n, d)``."""
        a, W, _ = self._unpack(theta)
        _, dphi = self._derivs(theta, y, values=False)
        return ((dphi * a) @ W) / np.sqrt(self.h)

    # -- the rules' interface (kernelgda.rules) -------------------------------------------
    def _begin_step(self):
        self._ref = self.theta()

    def decay(self, factor) -> None:
        """``theta - theta0 <- factor (theta - theta0)``; keeps ``theta`` for the step's payoff terms."""
        self._begin_step()
        if factor != 1.0:
            self.delta = self.delta * factor

    def mix(self, t) -> None:
        """``f_i <- sum_j t_ij f_j`` on the parameter vectors; keeps ``theta`` for the payoff terms."""
        self._begin_step()
        self.delta = self.delta @ np.asarray(t).T

    def _ref_theta(self):
        return self.theta() if self._ref is None else self._ref

    @_one_blas
    def add_true(self, amount) -> None:
        """Function ``i`` += ``amount_i sum_i p_i grad_theta f_ref(x_i)``."""
        g = self.payoff_grad(self._ref_theta(), self.x, self.p)
        self.delta = self.delta + (np.multiply.outer(g, amount) if self.delta.ndim == 2 else amount * g)

    @_one_blas
    def add_slice(self, y, w) -> None:
        """Function ``i`` += ``sum_j w_ji grad_theta f_ref(y_j)`` (``w`` of shape ``(n,)`` or ``(n, F)``)."""
        ref = self._ref_theta()
        if self.delta.ndim == 1:
            self.delta = self.delta + self.payoff_grad(ref, y, w)
        else:
            cols = [self.payoff_grad(ref, y, w[:, i]) for i in range(self.delta.shape[1])]
            self.delta = self.delta + np.stack(cols, axis=1)

    def field_grad(self, y, z, q):  # pragma: no cover - refused before a run (check_rule)
        raise ValueError("a network discriminator has no linear field term (extragradient)")

    @_one_blas
    def grad(self, y) -> np.ndarray:
        """``grad_y f`` at the rows of ``y`` with the current parameters."""
        return self.grad_at(self.theta(), y)

    @_one_blas
    def value(self, y) -> np.ndarray:
        """``f(y)`` at the rows of ``y``."""
        a, _, _ = self._unpack(self.theta())
        phi, _ = self._derivs(self.theta(), y)
        return phi @ a / np.sqrt(self.h)

    # -- fixed points and diagnostics ------------------------------------------------------
    @_one_blas
    def solve(self, y, q, lam, delta0=None) -> np.ndarray:
        """``theta* - theta0`` for fixed generated points: the iteration
        ``lam (theta - theta0) = sum p grad_theta f(X) - sum q grad_theta f(Y)`` (module docstring)."""
        delta = np.zeros_like(self.theta0) if delta0 is None else delta0
        scale = np.abs(self.theta0).max()
        for _ in range(SOLVE_MAX_ITER):
            theta = self.theta0 + delta
            new = (self.payoff_grad(theta, self.x, self.p) - self.payoff_grad(theta, y, q)) / lam
            change = np.abs(new - delta).max()
            delta = new
            if not np.isfinite(change):
                break
            if change <= SOLVE_RTOL * (np.abs(delta).max() + scale):
                return delta
        raise ValueError("the network discriminator's fixed point was not found (its fixed-point "
                         f"iteration did not converge in {SOLVE_MAX_ITER} steps): lam is too small for "
                         "this width, or the generated points are far from a fixed point")

    @_one_blas
    def start_at(self, gan, y, q, start, num_funcs=None) -> None:
        """Start at a fixed point: ``start.theta`` when it has one (:class:`NetworkEquilibrium`),
        else the discriminator's own fixed point for the generated points ``y`` (``lam > 0``;
        with ``lam = 0`` ``theta0``, the fixed point of a perfect fit)."""
        theta = getattr(start, "theta", None)
        source = getattr(start, "network", None)
        if source is not None and source.tangent_kernel() != self.spec.tangent_kernel():  # same theta0?
            raise ValueError(f"start is the fixed point of {source!r}, not of {self.spec!r}")
        if theta is not None:
            theta = np.asarray(theta, dtype=float)
            if theta.shape != self.theta0.shape:
                raise ValueError(f"start.theta has shape {theta.shape}, this network has "
                                 f"{self.theta0.shape} parameters")
            delta = theta - self.theta0
        elif gan.lam > 0:
            delta = self.solve(y, q, gan.lam)
        else:
            return
        if self.delta.ndim == 1:
            self.delta = delta
        else:
            self.delta = np.column_stack([delta, self.delta[:, 1:]])

    @_one_blas
    def record(self, y) -> None:
        """Append ``|Theta_t - Theta_0|_F / |Theta_0|_F`` on the true points and ``y``."""
        if self.movement is None:
            return
        z = np.concatenate([self.x, y])
        a0, W0, b0 = self._unpack(self.theta0)
        base = tangent_gram(a0, W0, b0, self.spec.activation, z, z)
        now = tangent_gram(*self._unpack(self.theta()), self.spec.activation, z, z)
        self.movement.append(float(np.linalg.norm(now - base) / np.linalg.norm(base)))
