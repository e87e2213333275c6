"""The update rules compared by the rule figures (``rule-rates``, ``rule-comparison``).

Shared by those experiments so that neither imports the other: the rules and their
colours, the closed-form rates of every rule (theory sections 5 and 8) and the rate
measured from the exact dynamics of one isolated cell (:func:`kernelgda.check_rate`).
"""

from __future__ import annotations

import math

import numpy as np

from ..check import check_rate
from ..equilibrium import find_equilibrium
from ..game import GDA, KernelGAN
from ..isolated import eigenvalues
from ..kernels import Gaussian

__all__ = ["RULESET", "RULE_COLORS", "MAX_MEASURABLE", "theory_rates", "measure_rate"]

#: The rules compared: (label, GDA keyword arguments).
RULESET = (
    ("alternating", {"mode": "alternating"}),
    ("simultaneous", {"mode": "simultaneous"}),
    ("alternating, 3 D-steps", {"mode": "alternating", "d_steps": 3}),
    ("extragradient", {"mode": "extragradient"}),
    ("optimistic", {"mode": "optimistic"}),
    ("momentum, beta = -0.3", {"mode": "momentum", "beta": -0.3}),
)
#: A faster divergence crosses the linear window (1e-6 to 1e-3 sigma) in under 15 steps,
#: too few for a Hankel fit: such cells are not measured (``1000^(1/15)``).
MAX_MEASURABLE = 1000 ** (1 / 15)
#: One colour per rule, shared by the rule figures.
RULE_COLORS = ("#1f77b4", "#d62728", "#17becf", "#2ca02c", "#9467bd", "#8c564b")


def theory_rates(*, p, q, eta_d, eta_g, lam, sigma):
    """Closed-form generator-visible rate and dominant eigenvalue of every rule in :data:`RULESET`,
    stacked on a leading axis."""
    out = [eigenvalues(p=p, q=q, n=1, eta_d=eta_d, eta_g=eta_g, lam=lam, sigma=sigma, **kw)
           for _, kw in RULESET]
    return np.stack([r.generator_rate for r in out]), np.stack([r.dominant for r in out])


def measure_rate(*, p, q, eta_d, eta_g, lam, sigma, rule: dict, predicted: float, rng,
                 max_steps: int = 4000) -> float:
    """Rate measured from the exact dynamics of one isolated cell.

    ``nan`` when the predicted rate is below 1e-3 (no window above rounding) or above
    :data:`MAX_MEASURABLE`.

    The run is long enough for the error to cross the measurement window: from
    ``1e-6 sigma`` down to the rounding floor, or up to the linear limit ``1e-3 sigma``;
    perturbation, run and fit are :func:`kernelgda.check_rate`'s.
    """
    if not np.isfinite(predicted) or predicted < 1e-3 or predicted > MAX_MEASURABLE:
        return float("nan")
    if abs(predicted - 1) < 1e-9:
        steps = 400
    elif predicted < 1:
        steps = math.log(1e5 * np.finfo(float).eps / (1e-6 * sigma)) / math.log(predicted)
    else:
        steps = math.log(1e3) / math.log(predicted)
    steps = int(min(max_steps, 1.3 * steps + 60))
    gan = KernelGAN([[0.0]], p, Gaussian(sigma), lam)
    eq = find_equilibrium(gan, [[0.0]], q)
    e0 = np.array([[1e-6 * sigma * rng.choice([-1.0, 1.0])]])  # d = 1: a random sign
    res = check_rate(gan, eq, GDA(eta_d, eta_g, **rule), num_steps=steps, e0=e0,
                     history_tol=1e-15 if lam > 0 else None)
    return res.measured_rate
