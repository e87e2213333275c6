"""The generator interface (theory section 12) and the point generator.

A generator maps a flat parameter vector ``theta`` (``P`` float64 numbers) to ``n`` generated
points ``y_j = G(theta, z_j)`` in ``R^d`` with fixed latent codes ``z_j``. The exact dynamics, the
fixed points and the linearization ask a generator for four things:

    points(theta)            Y = G(theta, Z)                              (n, d)
    jacobian(theta)          J = dY / dtheta, rows (j, a) in C order       (n d, P)
    vjp(theta, v)            J^T v for v of shape (n, d)                   (P,)
    contraction(theta, v)    d/dtheta [J(theta)^T v] = sum_ja v_ja d^2 y_ja / dtheta^2   (P, P)

A run never forms ``J``: the generator step of every update rule is ``theta + vjp(theta, delta)``
with ``delta`` the step the rule would give the points (``eta_g q_j grad f(y_j)`` for GDA). The
point generator (``theta = Y``, ``J = I``) is the identity in all four, and its state is the
``(n, d)`` array itself, so the rules run the point model exactly as before (bit for bit).
"""

from __future__ import annotations

import numpy as np

from .. import _validate as V
from ..resources import check_bytes, format_size

__all__ = ["Generator", "Points", "POINTS", "COMPLEX_STEP", "PULL_BACK_RCOND", "check_smooth", "latent_codes",
           "initial_theta", "run_state"]

#: Imaginary step of the complex-step derivatives of :meth:`Generator.contraction`: the
#: truncation error is ``O(h^2)`` (here ~1e-40 of the third derivative, far below float64
#: rounding) and there is no cancellation, so the result is exact to rounding.
COMPLEX_STEP = 1e-20
#: Relative singular-value cut-off of :meth:`Generator.pull_back`.
PULL_BACK_RCOND = 1e-8


class Generator:
    """A parametric generator ``y_j = G(theta, z_j)`` (theory section 12).

    Subclasses set ``n``, ``d``, ``num_params`` and ``theta`` (the parameters the generator
    starts from, a flat float64 vector) and implement :meth:`points` and :meth:`vjp`;
    :meth:`jacobian` and :meth:`contraction` have generic implementations (``P`` vector-Jacobian
    products, complex-step derivatives of :meth:`vjp`) that subclasses replace when they have
    something faster.

    Attributes
    ----------
    n, d : int
        Number of generated points and their dimension.
    num_params : int
        ``P``, the length of ``theta``.
    theta : (P,) array
        The initial parameters.
    smooth : bool
        Whether ``G`` is twice differentiable in ``theta`` (ReLU networks are not): the
        linearization needs it (:func:`check_smooth`).
    """

    n: int
    d: int
    num_params: int
    theta: np.ndarray
    smooth: bool = True

    def points(self, theta) -> np.ndarray:
        """Generated points ``Y = G(theta, Z)``, shape ``(n, d)``."""
        raise NotImplementedError

    def vjp(self, theta, v) -> np.ndarray:
        """``J(theta)^T v`` for ``v`` of shape ``(n, d)``; shape ``(P,)``."""
        raise NotImplementedError

    def jacobian(self, theta) -> np.ndarray:
        """``J = dY / dtheta``, shape ``(n d, P)`` (rows: point ``j``, coordinate ``a``)."""
        theta = self.check_theta(theta)
        eye = np.eye(self.n * self.d)
        return np.stack([self.vjp(theta, row.reshape(self.n, self.d)) for row in eye])

    def contraction(self, theta, v) -> np.ndarray:
        """``d/dtheta [J(theta)^T v]`` for a fixed ``v (n, d)``: the ``P x P`` matrix
        ``sum_{j,a} v_ja d^2 y_ja / dtheta^2`` (symmetric; zero for an affine generator).

        Generic version: complex-step derivatives of :meth:`vjp` (:data:`COMPLEX_STEP`),
        one per parameter, exact to rounding; a generator whose :meth:`vjp` does not take a
        complex ``theta`` overrides it (as :class:`~kernelgda.generators.JaxGenerator` does).
        """
        theta = self.check_theta(theta)
        v = self.check_v(v)
        check_smooth(self, "the contraction d/dtheta [J^T v]")
        out = np.empty((self.num_params, self.num_params))
        for k in range(self.num_params):
            shifted = theta.astype(complex)
            shifted[k] += 1j * COMPLEX_STEP
            out[:, k] = np.imag(self.vjp(shifted, v)) / COMPLEX_STEP
        return 0.5 * (out + out.T)

    def tangent_kernel(self, theta=None) -> np.ndarray:
        """The generator tangent kernel ``Theta = J J^T`` (``n d x n d``) at ``theta``
        (default: :attr:`theta`)."""
        jac = self.jacobian(self.theta if theta is None else theta)
        return jac @ jac.T

    def pull_back(self, theta, e) -> np.ndarray:
        """The parameter perturbation ``t = J^+ e`` that moves the points by ``e (n, d)`` to first
        order (minimum-norm least squares; singular values below :data:`PULL_BACK_RCOND` of the
        largest are cut, so a nearly singular ``J`` does not turn a small ``e`` into a huge ``t``)."""
        theta = self.check_theta(theta)
        e = self.check_v(e, "e")
        return np.linalg.lstsq(self.jacobian(theta), e.ravel(), rcond=PULL_BACK_RCOND)[0]

    def parameter_rows(self, num_rows: int, *, max_memory=None) -> np.ndarray | None:
        """An empty ``(num_rows, P)`` array for the parameters a run records, checked against
        ``max_memory`` before it is allocated (``None`` for the point model: its points are the rows)."""
        nbytes = 8 * num_rows * self.num_params
        check_bytes(nbytes, "recorded generator parameters", limit=max_memory,
                    detail=f"{num_rows} rows x {self.num_params} parameters ({format_size(nbytes)})",
                    hint="record fewer steps (record_every)")
        return np.empty((num_rows, self.num_params))

    def with_theta(self, theta) -> Generator:
        """A copy of this generator that starts from ``theta``."""
        theta = self.check_theta(theta)
        new = object.__new__(type(self))
        new.__dict__.update({k: v for k, v in self.__dict__.items() if k != "_cache"})
        new.theta = theta
        return new

    # -- checks at the public boundary ------------------------------------------------------
    def check_theta(self, theta, name: str = "theta") -> np.ndarray:
        """``theta`` as a float64 vector of length :attr:`num_params` (complex kept for the
        complex-step derivatives); ``ValueError`` naming ``name`` otherwise."""
        if isinstance(theta, np.ndarray) and theta.dtype == complex:
            return theta
        theta = V.array(theta, name)
        if theta.shape != (self.num_params,):
            raise ValueError(f"{name} must be a vector of {self.num_params} parameters, got shape "
                             f"{theta.shape}")
        return theta

    def check_v(self, v, name: str = "v") -> np.ndarray:
        """``v`` as a float64 ``(n, d)`` array."""
        v = V.array(v, name)
        if v.shape != (self.n, self.d):
            raise ValueError(f"{name} must have shape ({self.n}, {self.d}), got {v.shape}")
        return v


def check_smooth(gen: Generator, what: str = "linearization") -> None:
    """Refuse a generator that is not twice differentiable (ReLU) with one line."""
    if not getattr(gen, "smooth", True):
        raise ValueError(f"{what} needs a twice-differentiable generator; {type(gen).__name__} with "
                         "activation 'relu' has a kink (use 'tanh' or 'softplus'), like the Laplacian "
                         "kernel for the point model")


def latent_codes(z, name: str = "z") -> np.ndarray:
    """Latent codes as a float64 ``(n, k)`` array (a vector is ``n`` codes of dimension 1)."""
    z = V.array(z, name)
    if z.ndim == 1:
        z = z[:, None]
    if z.ndim != 2 or z.shape[0] == 0 or z.shape[1] == 0:
        raise ValueError(f"{name} must be an (n, k) array of latent codes, got shape {z.shape}")
    return z


def initial_theta(gen: Generator, theta, seed, draw) -> np.ndarray:
    """``theta`` checked against ``gen.num_params``, or drawn by ``draw(rng)`` from ``seed``."""
    if theta is not None:
        if seed is not None:
            raise ValueError("give theta or seed, not both")
        return gen.check_theta(theta).copy()
    seed = 0 if seed is None else V.integer(seed, "seed", minimum=0)
    return draw(np.random.default_rng(seed))


class Points(Generator):
    """The point generator: every point is its own parameter, ``theta = vec(Y)``, ``J = I``.

    This is the model of theory sections 1-11. Passing ``y0`` to :func:`kernelgda.simulate`
    runs it with the ``(n, d)`` array as its state (:data:`POINTS`); this class also lets the
    point model be used where a generator object is expected.

    Parameters
    ----------
    y0 : (n, d) array
        The initial points.

    Examples
    --------
    >>> gen = Points([[0.0, 1.0], [2.0, 3.0]])
    >>> gen.num_params, gen.points(gen.theta).tolist()
    (4, [[0.0, 1.0], [2.0, 3.0]])
    >>> bool(np.array_equal(gen.jacobian(gen.theta), np.eye(4)))
    True
    """

    def __init__(self, y0=None):
        if y0 is None:  # the stateless identity used by the rules (POINTS)
            self.n = self.d = self.num_params = 0
            self.theta = np.zeros(0)
            return
        y = V.points(y0, "y0")
        self.n, self.d = y.shape
        self.num_params = y.size
        self.theta = y.ravel().copy()

    def points(self, theta):
        # The identity on the rules' state: the (n, d) points (or (B, n, d) for a batch) are
        # returned as they are; a flat theta is reshaped.
        theta = np.asarray(theta)
        return theta.reshape(self.n, self.d) if theta.ndim == 1 else theta

    def vjp(self, theta, v):
        return v if np.ndim(theta) != 1 else np.asarray(v).reshape(-1)

    def jacobian(self, theta):
        self.check_theta(theta)
        return np.eye(self.num_params)

    def contraction(self, theta, v):
        self.check_theta(theta)
        return np.zeros((self.num_params, self.num_params))

    def parameter_rows(self, num_rows, *, max_memory=None):
        return None


def run_state(y0) -> tuple[Generator, np.ndarray | None, object]:
    """``(generator, theta, points)`` a run starts from: ``(POINTS, None, y0)`` for points (the run's
    state is then the checked points; a :class:`Points` generator runs its points too), else the
    generator, a copy of its ``theta`` and its points."""
    if isinstance(y0, Points):
        return POINTS, None, y0.points(y0.theta)
    if isinstance(y0, Generator):
        theta = y0.theta.copy()
        return y0, theta, y0.points(theta)
    return POINTS, None, y0


#: The identity generator that :func:`kernelgda.simulate` and :func:`kernelgda.simulate_batch`
#: use for the point model: its state is the ``(n, d)`` (or ``(B, n, d)``) array of points.
POINTS = Points()
