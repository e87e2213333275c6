"""The authors' Laplacian gradient with its row-zeroing, reproduced for ``local-minima`` (theory section 10).

The authors' kernel code (as described in issue 19) computes the gradient of a Laplacian section
as ``grad_u K(u, v) = -K(u, v) (u - v) / (sigma r)``, ``r = |u - v|``, sums it over the centres
of a block (the true points; the generated history) and passes the sum through ``nan_to_num``.
At ``r = 0`` the pair term is ``0 / 0 = nan``, so the *whole row* of a generated point that
coincides with any centre of the block is zeroed, not only that pair's term. In alternating GDA
the discriminator that moves the generator already holds the current configuration ``Y^k`` as
a centre, so every generated point coincides with a centre of the generated history at every
step: its history gradient is always zeroed, and the points only climb toward the true points.

:func:`run` is that simulator (``zero_rows=True``) or the correct one (``zero_rows=False``: the
coincident pair's term only is 0, the subgradient :mod:`kernelgda.kernels` uses). The correct one
is checked against :func:`kernelgda.simulate` (the experiment reports the largest difference).
This is experiment code, not a library option: the row-zeroing is a bug, shown so that the
reader sees where the published picture came from.
"""

from __future__ import annotations

import math

import numpy as np

from ..wasserstein import wasserstein2_series
from ._collapse import classify_runs

__all__ = ["run", "artifact", "WEIGHT_FLOOR", "AGREE"]

#: History slices older than where ``(1 - eta_d lam)^age`` falls below this are left out: their
#: weight is below rounding next to the true points' coefficient (``~1 / lam``).
WEIGHT_FLOOR = 1e-18
#: The correct reimplementation agrees with ``kg.simulate`` while their largest difference is at
#: most this (the issue's 1e-11).
AGREE = 1e-11


def _block_grad(y, centres, weights, sigma, zero_rows):
    """``sum_c w_c grad_u K(y_j, z_c)`` for the Laplacian, per point: ``y (S, n, d)``,
    ``centres (S, C, d)``, ``weights (S, C)``, ``sigma (S,)``."""
    diff = y[:, :, None, :] - centres[:, None, :, :]                    # (S, n, C, d)
    r = np.sqrt((diff * diff).sum(-1))                                   # (S, n, C)
    k = np.exp(-r / sigma[:, None, None])
    with np.errstate(invalid="ignore", divide="ignore"):
        pair = -(k * weights[:, None, :] / (sigma[:, None, None] * r))[..., None] * diff
    if not zero_rows:
        return np.where((r == 0)[..., None], 0.0, pair).sum(2)          # subgradient 0 at r = 0
    return np.nan_to_num(pair.sum(2), nan=0.0)                          # a nan anywhere: row 0


def run(x, p, q, sigmas, lam, eta_d, eta_g, y0, num_steps, *, zero_rows: bool) -> np.ndarray:
    """Alternating GDA from ``f0 = 0`` with the Laplacian kernel, one run per width.

    Parameters
    ----------
    x : (m, d) array
        True points; ``p (m,)`` their weights, ``q (n,)`` the generated weights.
    sigmas : (S,) array
        Kernel widths.
    lam, eta_d, eta_g : float
    y0 : (n, d) array
        The start of every run.
    num_steps : int
    zero_rows : bool
        ``True``: the authors' row-zeroing; ``False``: the correct subgradient.

    Returns
    -------
    (S, T + 1, n, d) array
        The generated points at every step.
    """
    sigmas = np.asarray(sigmas, dtype=float)
    num, (n, d), m = sigmas.size, np.shape(y0), len(p)
    a = eta_d * lam
    window = num_steps + 1 if a == 0 else min(num_steps + 1, int(math.log(WEIGHT_FLOOR) / math.log1p(-a)) + 1)
    out = np.empty((num, num_steps + 1, n, d))
    out[:, 0] = y0
    xs = np.broadcast_to(np.asarray(x, dtype=float), (num, m, d))
    px = np.broadcast_to(np.asarray(p, dtype=float), (num, m))
    for k in range(num_steps):
        # f^{k+1} = c K(., X) p - sum_{s <= k} eta_d (1 - a)^{k - s} K(., Y^s) q (theory section 2)
        c = eta_d * (k + 1) if lam == 0 else (1.0 - (1.0 - a) ** (k + 1)) / lam
        first = max(0, k + 1 - window)
        ages = k - np.arange(first, k + 1)
        hist = out[:, first:k + 1].reshape(num, -1, d)                   # (S, (k + 1 - first) n, d)
        w = -(eta_d * (1.0 - a) ** ages)[:, None] * np.asarray(q)[None, :]
        w = np.broadcast_to(w.ravel(), (num, w.size))
        y = out[:, k]
        grad = c * _block_grad(y, xs, px, sigmas, zero_rows) + _block_grad(y, hist, w, sigmas, zero_rows)
        out[:, k + 1] = y + eta_g * np.asarray(q)[None, :, None] * grad
    return out


def artifact(config, steps, lap_y):
    """The Laplacian runs of (a) with the authors' row-zeroing (:mod:`._rowzero`): W2^2 series,
    end points and outcomes; and the steps over which the correct reimplementation follows the
    library's runs ``lap_y (S, T + 1, 2, 1)`` within :data:`AGREE`, and their largest gap."""
    q, x, sigmas = np.array(config.q), np.array(config.x)[:, None], np.array(config.curve_sigmas)
    args = (x, np.array(config.p), q, sigmas, config.lam, config.eta_d, config.eta_g,
            np.array(config.start, dtype=float)[:, None], config.curve_steps)
    zeroed = run(*args, zero_rows=True)
    gap = np.abs(run(*args, zero_rows=False) - lap_y).max(axis=(2, 3))  # (S, T + 1)
    within = np.where((gap > AGREE).any(axis=1), np.argmax(gap > AGREE, axis=1) - 1,
                      config.curve_steps)
    w2 = np.full((sigmas.size, steps.size), np.nan)
    for j, y in enumerate(zeroed):
        st, vals = wasserstein2_series(y, q, x, config.p, every=config.curve_every)
        on_grid = np.isin(st, steps)
        w2[j, np.searchsorted(steps, st[on_grid])] = vals[on_grid]
    outcome = classify_runs(zeroed, ["completed"] * sigmas.size, x[:, 0], sigmas)
    return w2, zeroed[:, -1, :, 0], outcome, within, gap.max(axis=1)
