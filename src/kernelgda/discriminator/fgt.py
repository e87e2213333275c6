"""The fast Gauss transform of the discriminator history (theory section 2, "Fast Gauss transform").

With a Gaussian kernel ``K(u, v) = exp(-|u - v|^2 / h^2)``, ``h = sqrt(2) sigma``, the history
part of the discriminator, ``sum_s w_s K(., z_s)``, is kept as truncated Hermite expansions on
a sparse grid of boxes of side ``b = sigma`` (Greengard and Strain, 1991): a centre ``z`` in the
box of centre ``c`` contributes

    K(t, z) = prod_i sum_{a >= 0} (rho_i^a / a!) h_a(x_i),     rho = (z - c) / h,  x = (t - c) / h,

``h_a(x) = (-1)^a d^a/dx^a exp(-x^2)`` the Hermite functions, and the box keeps the moments
``C_alpha = sum_z w_z rho^alpha / alpha!`` for ``alpha_i < p`` (``p^d`` numbers). A new slice
adds its centres to their boxes' moments; the decay ``f <- a f`` is one multiplication; the
gradient at ``t`` sums the boxes within ``R`` of ``t``:

    grad_i f(t) = -(1 / h) sum_boxes sum_alpha C_alpha h_{alpha_i + 1}(x_i) prod_{j != i} h_{alpha_j}(x_j).

A step costs ``O(n B p^d)`` with ``B`` the boxes near the points, whatever the length of the
history, for every ``lam`` (including 0).

Certified error
---------------
Cramer's inequality, ``|h_a(x)| <= k 2^(a/2) sqrt(a!) exp(-x^2 / 2)`` with ``k = 1.086435``
(used for this purpose by Baxter and Roussos, 2002), bounds every term of the series for a
centre in its box (``|rho_i| <= b / (2 h)``, ``r = sqrt(2) b / (2 h)``)::

    |(rho^a / a!) h_a(x)|             <= k r^a / sqrt(a!)                    (function)
    |(rho^a / a!) h_{a+1}(x)| / h     <= (k sqrt(2) / h) r^a sqrt(a + 1) / sqrt(a!)   (derivative)

With ``A, E`` the kept sum and the tail (``a >= p``) of the first majorant and ``A', E'`` those of
the second, the error of the tensor-truncated gradient of one unit-weight centre is, per
coordinate, at most ``(A' + E') (A + E)^(d-1) - A' A^(d-1)`` (the difference of two products of
series with non-negative majorants), and its Euclidean norm at most ``sqrt(d)`` times that.
Boxes further than ``R`` from a point are skipped; a centre at distance ``>= R >= sigma`` has
gradient at most ``(R / sigma^2) exp(-R^2 / (2 sigma^2))``. The order ``p`` is the smallest for
which the sum of the two, ``eps``, is at most ``tol`` times ``grad_bound = exp(-1/2) / sigma``, and::

    |grad f_transform(t) - grad f_exact(t)| <= eps D        at every point t,

with ``D`` the absolute coefficient mass absorbed into the boxes (decayed and mixed like the
expansion; :meth:`~kernelgda.discriminator.TruncationTracker.absorb`): :attr:`GaussTransform.bound`,
reported as ``Trajectory.truncation_bound``. It bounds the truncation of the series; floating-point
rounding (about ``1e-16`` of ``grad_bound D``) is not included, as for history truncation. A
multiscale kernel ``sum_l c_l exp(-|r|^2 / (2 sigma_l^2))`` keeps one grid per width and its
bound is ``sum_l c_l eps_l D``.

The true-point term and any centre that does not fit in the box budget (memory limit; a run whose
points spread over very many boxes) are summed exactly by an
:class:`~kernelgda.discriminator.Expansion` held inside.

References: L. Greengard and J. Strain, The fast Gauss transform, SIAM J. Sci. Stat. Comput. 12
(1991) 79-94; B. J. C. Baxter and G. Roussos, A new error estimate of the fast Gauss transform,
SIAM J. Sci. Comput. 24 (2002) 257-259.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import _validate as V
from ..kernels import Gaussian, Kernel, Multiscale
from ..resources import ITEMSIZE, default_limit, parse_size
from .expansion import Expansion, MultiExpansion
from .history import RESCALE_BELOW
from .interface import Discriminator, DiscriminatorSpec
from .truncation import TruncationTracker

__all__ = ["FastGaussTransform", "GaussTransform", "transform_order", "CRAMER", "MAX_ORDER", "MIN_TOL",
           "BOX_SIDE", "MAX_DIM"]

#: Cramer's constant: ``|H_a(x)| exp(-x^2 / 2) <= CRAMER 2^(a/2) sqrt(a!)`` for every ``a`` and ``x``.
CRAMER = 1.086435
#: Box side in units of the Gaussian's ``sigma`` (about the bandwidth, as Greengard and Strain).
BOX_SIDE = 1.0
#: Highest expansion order; with boxes of one ``sigma`` it certifies about ``1e-30``.
MAX_ORDER = 40
#: Smallest tolerance accepted: below it rounding (``~1e-16 grad_bound D``) dominates the bound.
MIN_TOL = 1e-15
#: Dimensions the transform serves (``p^d`` moments per box).
MAX_DIM = 3
#: Share of the memory limit the boxes' moments may take before centres are summed exactly.
BOX_MEMORY_SHARE = 0.25


def _majorants(order: int, r: float):
    """``(A, E, A', E')`` of the module docstring (without ``k``, ``sqrt(2)`` and ``1 / h``)."""
    a = np.arange(order + 400, dtype=float)
    logfact = np.array([math.lgamma(v + 1.0) for v in a])
    with np.errstate(divide="ignore", under="ignore"):
        term = np.exp(a * math.log(r) - 0.5 * logfact) if r > 0 else (a == 0).astype(float)
    dterm = term * np.sqrt(a + 1.0)
    return (float(term[:order].sum()), float(term[order:].sum()),
            float(dterm[:order].sum()), float(dterm[order:].sum()))


def _cutoff(tol_share: float) -> float:
    """Smallest ``R / sigma >= 1`` with ``R exp(-R^2 / 2) <= tol_share exp(-1/2)`` (``sigma = 1``)."""
    target = tol_share * math.exp(-0.5)
    lo, hi = 1.0, 1.0
    while hi * math.exp(-0.5 * hi * hi) > target:
        hi *= 2.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if mid * math.exp(-0.5 * mid * mid) > target else (lo, mid)
    return hi


def transform_order(tol: float, d: int, box_side: float = BOX_SIDE) -> tuple[int, float, float]:
    """Order ``p``, cutoff ``R / sigma`` and certified relative error for one Gaussian width.

    The error of the gradient of one unit-weight centre is at most ``rel * grad_bound`` with
    ``grad_bound = exp(-1/2) / sigma`` and ``rel <= tol`` (module docstring): 99 % of ``tol``
    goes to the series truncation, 1 % to the skipped far boxes.

    Examples
    --------
    >>> p, cut, rel = transform_order(1e-10, 2)
    >>> p, round(cut, 2), bool(rel <= 1e-10)
    (16, 7.77, True)
    """
    r = math.sqrt(2.0) * box_side / (2.0 * math.sqrt(2.0))  # sqrt(2) |rho|_max, sigma = 1
    h = math.sqrt(2.0)
    grad_bound = math.exp(-0.5)
    cut = _cutoff(0.01 * tol)
    cut_err = cut * math.exp(-0.5 * cut * cut)
    for p in range(1, MAX_ORDER + 1):
        A, E, A1, E1 = _majorants(p, r)
        k = CRAMER
        dA, dE = k * math.sqrt(2.0) / h * A1, k * math.sqrt(2.0) / h * E1
        # (dA + dE) (A + E)^m - dA A^m = dE (A + E)^m + dA sum_{j >= 1} C(m, j) A^(m-j) E^j with
        # m = d - 1 (k included): positive terms only, no cancellation
        m = d - 1
        grow = sum(math.comb(m, j) * (k * A) ** (m - j) * (k * E) ** j for j in range(1, m + 1))
        per_coord = dE * (k * (A + E)) ** m + dA * grow
        err = math.sqrt(d) * per_coord + cut_err
        if err <= tol * grad_bound:
            return p, cut, err / grad_bound
    raise ValueError(f"tol {tol:g} needs an expansion order above {MAX_ORDER}")


@dataclass(frozen=True)
class FastGaussTransform(DiscriminatorSpec):
    """Fast Gauss transform of the discriminator history, for ``simulate(..., discriminator=...)``.

    Gaussian and multiscale Gaussian kernels, ``d <= 3``, every update rule. The gradient error
    at every point is certified to at most ``tol`` times ``grad_bound`` times the absolute
    coefficient mass of the history (relative like ``history_tol``); the bound is reported as
    ``Trajectory.truncation_bound`` (module :mod:`kernelgda.discriminator.fgt`).

    Parameters
    ----------
    tol : float
        Relative tolerance in ``[1e-15, 0.1]``.

    Examples
    --------
    >>> import kernelgda as kg
    >>> gan = kg.KernelGAN([[0.0, 0.0]], 1.0, kg.Gaussian(sigma=1.0), lam=0.0)
    >>> fast = kg.simulate(gan, kg.GDA(0.1, 0.1), [[0.3, 0.1]], 1.0, num_steps=200,
    ...                    discriminator=kg.FastGaussTransform(tol=1e-10))
    >>> exact = kg.simulate(gan, kg.GDA(0.1, 0.1), [[0.3, 0.1]], 1.0, num_steps=200)
    >>> bool(abs(fast.y - exact.y).max() < 1e-10), bool(0 < fast.truncation_bound < 1e-8)
    (True, True)
    """

    tol: float = 1e-10

    def __post_init__(self):
        tol = V.scalar(self.tol, "tol", positive=True)
        if not MIN_TOL <= tol <= 0.1:
            raise ValueError(f"tol must be in [{MIN_TOL:g}, 0.1], got {tol:g}")
        object.__setattr__(self, "tol", tol)

    def check(self, kernel: Kernel, d: int) -> None:
        """``ValueError`` (one line) unless ``kernel`` is Gaussian or multiscale and ``d <= 3``."""
        if type(kernel) not in (Gaussian, Multiscale):
            raise ValueError(f"discriminator=FastGaussTransform(...) needs a gaussian or multiscale "
                             f"kernel, got {kernel.name!r}")
        if d > MAX_DIM:
            raise ValueError(f"discriminator=FastGaussTransform(...) needs d <= {MAX_DIM} "
                             f"({BOX_SIDE:g}-sigma boxes of p^d moments), got d = {d}")

    def build(self, kernel: Kernel, x: np.ndarray, p: np.ndarray, n: int, num_funcs: int | None = None,
              *, max_memory=None) -> GaussTransform:
        """The discriminator ``f = 0`` over the true points ``x (m, d)`` with weights ``p``."""
        self.check(kernel, x.shape[1])
        return GaussTransform(kernel, x, p, n, self.tol, num_funcs, max_memory=max_memory)

    def setup(self, gan, gda, n, num_funcs=None, *, max_memory=None) -> GaussTransform:
        """:meth:`build` for ``gan`` (every rule; :meth:`check` refuses other kernels and ``d > 3``)."""
        return self.build(gan.kernel, gan.x_true, gan.p_true, n, num_funcs, max_memory=max_memory)


class _Grid:
    """The boxes of one Gaussian width: moments ``(F, boxes, p^d)`` and box centres."""

    def __init__(self, sigma, weight, origin, tol, num_funcs, max_boxes):
        d = origin.shape[0]
        self.d, self.sigma, self.weight, self.origin = d, sigma, weight, origin
        self.order, cut, rel = transform_order(tol, d)
        self.cut = cut * sigma
        self.side = BOX_SIDE * sigma
        self.h = math.sqrt(2.0) * sigma
        self.eps = rel * math.exp(-0.5) / sigma  # gradient error per unit coefficient mass
        self.size = self.order**d
        self.max_boxes = max_boxes
        self.keys: dict = {}
        self.moments = np.zeros((num_funcs, 16, self.size))
        self.centres = np.zeros((16, d))

    @property
    def num_boxes(self) -> int:
        return len(self.keys)

    @property
    def nbytes(self) -> int:
        return self.moments.nbytes + self.centres.nbytes

    def rows(self, y) -> np.ndarray:
        """Box rows of the points ``y`` (new boxes opened); ``-1`` where the budget is spent."""
        scaled = np.floor((y - self.origin) / self.side)
        huge = ~(np.abs(scaled) < 2.0**62).all(axis=1)  # beyond int64 box labels: summed exactly
        idx = np.where(huge[:, None], 0.0, scaled).astype(np.int64)
        out = np.empty(len(y), dtype=np.int64)
        for j, key in enumerate(map(tuple, idx.tolist())):
            if huge[j]:
                out[j] = -1
                continue
            row = self.keys.get(key)
            if row is None:
                row = len(self.keys)
                if row >= self.max_boxes:
                    out[j] = -1
                    continue
                if row == self.centres.shape[0]:
                    grow = min(2 * row, self.max_boxes)
                    moments = np.zeros((self.moments.shape[0], grow, self.size))
                    moments[:, :row] = self.moments
                    centres = np.zeros((grow, self.d))
                    centres[:row] = self.centres
                    self.moments, self.centres = moments, centres
                self.keys[key] = row
                self.centres[row] = self.origin + (np.array(key) + 0.5) * self.side
            out[j] = row
        return out

    def add(self, y, rows, w):
        """Add the centres ``y`` (in boxes ``rows``) with stored coefficients ``w (F, n)``."""
        rho = (y - self.centres[rows]) / self.h  # (n, d), |rho_i| <= 1 / (2 sqrt(2))
        steps = np.empty(rho.shape + (self.order,))
        steps[..., 0] = 1.0
        steps[..., 1:] = rho[..., None] / np.arange(1, self.order)
        mono = np.cumprod(steps, axis=-1)  # (n, d, p): rho^a / a! = prod_{k <= a} rho / k
        prod = mono[:, 0]
        for i in range(1, self.d):
            prod = (prod[:, :, None] * mono[:, i, None, :]).reshape(len(y), -1)
        uniq, inverse = np.unique(rows, return_inverse=True)
        onehot = np.zeros((len(uniq), len(y)))
        onehot[inverse, np.arange(len(y))] = 1.0
        for f in range(w.shape[0]):  # summed per box by one product (a box may get many centres)
            self.moments[f, uniq] += onehot @ (w[f, :, None] * prod)

    def grad(self, y, moments):
        """``sum_boxes`` gradient of the expansions with ``moments (boxes, p^d)`` at ``y (n, d)``."""
        n, d, p = y.shape[0], self.d, self.order
        nb = self.num_boxes
        diff = y[:, None, :] - self.centres[None, :nb]  # (n, B, d)
        gap = np.maximum(np.abs(diff) - 0.5 * self.side, 0.0)
        near = np.nonzero((np.einsum("nbd,nbd->nb", gap, gap) <= self.cut**2).any(axis=0))[0]
        if near.size == 0:
            return np.zeros((n, d))
        xt = np.moveaxis(diff[:, near], 0, -1) / self.h  # (B', d, n)
        nb = len(near)
        herm = np.empty((d, p + 1, nb, n))  # h_a(x_i): coordinate, order, box, point
        tmp = np.empty((nb, n))
        for i in range(d):  # h_0 = exp(-x^2), h_1 = 2 x h_0, h_(a+1) = 2 x h_a - 2 a h_(a-1)
            x2 = 2.0 * xt[:, i]
            np.multiply(xt[:, i], xt[:, i], out=tmp)
            np.negative(tmp, out=tmp)
            np.exp(tmp, out=herm[i, 0])
            np.multiply(x2, herm[i, 0], out=herm[i, 1])
            for a in range(1, p):
                np.multiply(x2, herm[i, a], out=herm[i, a + 1])
                np.multiply(herm[i, a - 1], 2.0 * a, out=tmp)
                herm[i, a + 1] -= tmp
        herm = np.moveaxis(herm, 1, 2)  # (d, B', p + 1, n)
        # d/dx h_a = -h_(a+1): the sign is applied once at the end
        plain, shift = herm[:, :, :p], herm[:, :, 1:]
        c = moments[near].reshape(nb, -1, p)  # last axis: coordinate d - 1
        last = (np.matmul(c, plain[d - 1]), np.matmul(c, shift[d - 1]))  # (B', p^(d-1), n)
        out = np.empty((n, d))
        for i in range(d):
            t = last[1] if i == d - 1 else last[0]
            for j in range(d - 2, -1, -1):  # contract the remaining coordinates, last first
                v = shift[j] if j == i else plain[j]
                t = np.einsum("bkan,ban->bkn", t.reshape(nb, -1, p, n), v)
            out[:, i] = t.reshape(nb, n).sum(axis=0)
        out *= -self.weight / self.h
        return out


class GaussTransform(Discriminator):
    """The discriminator of :class:`FastGaussTransform`: boxes for the history, the rest exact.

    The interface of :class:`~kernelgda.discriminator.Expansion` (``grad``, ``field_grad``,
    ``decay``, ``add_true``, ``add_slice``, ``bound``, ``num_slices``, ``nbytes``) and, with
    ``num_funcs`` functions, of :class:`~kernelgda.discriminator.MultiExpansion` (``mix``).

    Parameters
    ----------
    kernel : Gaussian or Multiscale
    x, p : (m, d), (m,)
        True points and weights.
    n : int
        Generated points per slice.
    tol : float
        Relative tolerance (:class:`FastGaussTransform`).
    num_funcs : int, optional
        Functions sharing the centres (two for optimistic and momentum GDA); ``None`` for one.
    max_memory : int or str, optional
        Limit whose :data:`BOX_MEMORY_SHARE` the boxes may take; centres beyond it are summed exactly.
    """

    def __init__(self, kernel, x, p, n, tol, num_funcs=None, *, max_memory=None):
        self.kernel, self.n, self.tol = kernel, n, tol
        self.num_funcs = num_funcs
        funcs = 1 if num_funcs is None else num_funcs
        # The true-point term and centres beyond the box budget: exact (full history).
        self.exact = (Expansion(kernel, x, p, n, 16) if num_funcs is None
                      else MultiExpansion(kernel, x, p, n, 16, num_funcs))
        origin = x.mean(axis=0)
        widths = ((kernel.sigma, 1.0),) if isinstance(kernel, Gaussian) else \
            tuple(zip(kernel.sigmas, kernel.scale_weights, strict=True))
        limit = default_limit() if max_memory is None else parse_size(max_memory)
        self.grids = []
        for sigma, weight in widths:
            size = transform_order(tol, x.shape[1])[0] ** x.shape[1]
            max_boxes = max(16, int(BOX_MEMORY_SHARE * limit / len(widths) / (ITEMSIZE * size * funcs)))
            self.grids.append(_Grid(sigma, weight, origin, tol, funcs, max_boxes))
        self.scale = 1.0  # one function: moments stored divided by the running decay product
        self._tracker = TruncationTracker(None, 1, funcs)
        self._first = np.eye(funcs)[0]

    @property
    def num_slices(self) -> int:
        """History slices held exactly (those whose centres did not fit in the box budget)."""
        return self.exact.num_slices

    @property
    def num_boxes(self) -> int:
        """Boxes holding moments, over all widths."""
        return sum(g.num_boxes for g in self.grids)

    @property
    def nbytes(self) -> int:
        """Bytes held by the boxes and the exact part."""
        return sum(g.nbytes for g in self.grids) + self.exact.nbytes

    @property
    def absorbed(self) -> float:
        """Bound on the absolute coefficient mass held in the boxes (of any ``sum_i b_i f_i``,
        ``|b_i| <= 1``, with several functions)."""
        if self.num_funcs is None:
            return float(self._tracker.dropped(self.scale)[0])
        return float(self._tracker.dropped()[0])

    @property
    def bound(self) -> float:
        """Certified bound on ``|grad f_transform - grad f_exact|`` at any point (module docstring)."""
        absorbed = self.absorbed
        return sum(g.weight * g.eps for g in self.grids) * absorbed if absorbed else 0.0

    def decay(self, factor: float) -> None:
        """``f <- factor f``: one multiplication of the stored scale."""
        self.exact.decay(factor)
        if factor == 1.0:
            return
        self.scale *= factor
        if factor == 0.0 or abs(self.scale) < RESCALE_BELOW:
            for g in self.grids:
                g.moments *= self.scale
            self._tracker.rescale(slice(None), self.scale)
            self.scale = 1.0

    def mix(self, t) -> None:
        """``f_i <- sum_j t_ij f_j`` (several functions)."""
        t = np.asarray(t, dtype=float)
        self.exact.mix(t)
        for g in self.grids:
            nb = g.num_boxes
            g.moments[:, :nb] = np.tensordot(t, g.moments[:, :nb], axes=1)
        self._tracker.mix(t[None])

    def add_true(self, amount) -> None:
        """``f_i += amount_i K(., X) p`` (exact)."""
        self.exact.add_true(amount)

    def add_slice(self, y: np.ndarray, w: np.ndarray) -> None:
        """``f_i += K(., y) w[..., i]``: the centres' moments join their boxes."""
        w = np.asarray(w, dtype=float)
        stored = (w / self.scale)[None] if self.num_funcs is None else w.T  # (F, n)
        rows = [g.rows(y) for g in self.grids]
        inside = np.logical_and.reduce([r >= 0 for r in rows])
        if inside.any():
            for g, r in zip(self.grids, rows, strict=True):
                g.add(y[inside], r[inside], stored[:, inside])
        if not inside.all():  # beyond the box budget: these centres are summed exactly
            self.exact.add_slice(y, np.where(inside if w.ndim == 1 else inside[:, None], 0.0, w))
            stored = np.where(inside[None], stored, 0.0)
        self._tracker.absorb(stored)

    def grad(self, y: np.ndarray, combo=None) -> np.ndarray:
        """``grad f(y)`` at the rows of ``y`` (of ``sum_i combo[i] f_i`` with several functions)."""
        if self.num_funcs is None:
            g = self.exact.grad(y)
            for grid in self.grids:
                g += self.scale * grid.grad(y, grid.moments[0, :grid.num_boxes])
            return g
        combo = self._first if combo is None else np.asarray(combo, dtype=float)
        g = self.exact.grad(y, combo)
        for grid in self.grids:
            g += grid.grad(y, np.tensordot(combo, grid.moments[:, :grid.num_boxes], axes=1))
        return g

    def field_grad(self, y: np.ndarray, z: np.ndarray, q: np.ndarray) -> np.ndarray:
        """Gradient at ``y`` of the field term ``K(., X) p - K(., z) q`` (exact, not stored)."""
        return self.exact.field_grad(y, z, q)
