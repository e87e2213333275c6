"""The NNGP half of the digits experiment (theory section 10): a depth / bias scan.

The authors' MNIST notebook trained ten free generated points against ten images with a
depth-2 NNGP discriminator kernel. Here the same is done with the bundled 8 x 8 digits
(:func:`kernelgda.experiments._data.load_targets`) for the ReLU NNGP kernel of every
``depth`` and ``bias`` of the scan, from the same noisy start as the Gaussian sweep:

- the linearization's verdict at the perfect fit ``Y* = X`` (``p = q``, ``f* = 0``): the
  same reduction to the spectrum of the coupling matrix ``C`` of mixed derivatives as for
  the Gaussian (:func:`~kernelgda.experiments.digits.perfect_fit_dominant`; the NNGP is not
  translation invariant, but with ``H = 0`` only ``C`` enters, theory section 4), and the
  outcome it predicts after ``T`` steps;
- the exact run (alternating GDA from ``f0 = 0``, :func:`kernelgda.simulate`), its distance
  to the data and its ``W2^2`` curve (:meth:`kernelgda.Trajectory.wasserstein2`), and the
  observed outcome by the same rules as the Gaussian sweep.

The NNGP kernel has no bandwidth: ``S_0 = u.v / d`` sets the unit, and the digits' pixels in
``[0, 1]`` give ``S_0(x, x) = |x|^2 / 64`` of about 0.2-0.4.
"""

from __future__ import annotations

import numpy as np

from ..dynamics import simulate
from ..equilibrium import find_equilibrium
from ..game import GDA, KernelGAN
from ..kernels import NNGP
from ..regimes import classify

__all__ = ["scan"]


def scan(x, y0, config, gda: GDA, *, outcomes, predicted_outcome, observed_outcome, dominant_of,
         decay_rate, regime_code, progress):
    """Run the NNGP scan of ``config`` (``nngp_depths x nngp_biases``); returns
    ``(data, coords, table rows, summary)`` to merge into the digits result."""
    pairs = [(int(L), float(b)) for L in config.nngp_depths for b in config.nngp_biases]
    num, steps = len(pairs), config.nngp_steps
    dominant = np.empty(num, dtype=complex)
    code = np.empty(num, dtype=np.int8)
    dist = np.full((num, steps + 1), np.nan)
    w2_steps = None
    w2 = []
    final = np.empty((num,) + x.shape)
    measured = np.empty(num)
    bound = np.empty(num)
    predicted, observed = [], []
    for i, (depth, bias) in enumerate(progress(pairs, total=num, desc="digits nngp")):
        gan = KernelGAN(x, 1.0, NNGP(depth=depth, bias=bias), lam=config.lam)
        eq = find_equilibrium(gan, x, 1.0)
        if not (eq.converged and np.array_equal(eq.y, x)):  # p = q: Y* = X exactly (section 3)
            raise RuntimeError(f"expected the perfect fit Y* = X as fixed point: {eq.message}")
        dominant[i] = dominant_of(gan, gda, q=1.0)
        code[i] = regime_code(classify(dominant[i]))
        traj = simulate(gan, gda, y0, 1.0, steps, history_tol=config.history_tol)
        taken = traj.num_taken
        dist[i, :taken + 1] = traj.distance(x)
        final[i] = traj.y[-1]
        bound[i] = traj.truncation_bound
        at, values = traj.wasserstein2(x, 1.0, every=config.w2_every)
        if w2_steps is None or at.size > w2_steps.size:
            w2_steps = at
        w2.append(values)
        floor = max(1e5 * np.finfo(float).eps, 1e3 * bound[i])
        measured[i] = decay_rate(dist[i], 1e-3 * gan.kernel.length_scale, floor)
        predicted.append(predicted_outcome(abs(dominant[i]), steps, config.converge_ratio))
        observed.append(observed_outcome(dist[i, 0], dist[i, taken], taken < steps, config))
    w2_all = np.full((num, w2_steps.size), np.nan)
    for i, values in enumerate(w2):
        w2_all[i, :values.size] = values
    dims = ("nngp",)
    data = {
        "nngp_depth": (dims, np.array([L for L, _ in pairs])),
        "nngp_bias": (dims, np.array([b for _, b in pairs])),
        "nngp_predicted": (dims, dominant), "nngp_predicted_regime": (dims, code),
        "nngp_measured_rate": (dims, measured),
        "nngp_predicted_outcome": (dims, np.array([outcomes.index(o) for o in predicted], dtype=np.int8)),
        "nngp_observed_outcome": (dims, np.array([outcomes.index(o) for o in observed], dtype=np.int8)),
        "nngp_distance": (("nngp", "nngp_step"), dist),
        "nngp_w2": (("nngp", "nngp_w2_step"), w2_all),
        "nngp_final": (("nngp", "point", "pixel"), final),
        "nngp_truncation_bound": (dims, bound),
    }
    coords = {"nngp": np.arange(num), "nngp_step": np.arange(steps + 1), "nngp_w2_step": w2_steps}
    rate = np.abs(dominant)
    table = [{
        "kernel": f"nngp depth {L}, bias {b:g}", "predicted regime": classify(dominant[i]),
        "predicted rate": float(rate[i]), "measured rate": float(measured[i]),
        "predicted outcome": predicted[i], "observed outcome": observed[i],
        "agree": "yes" if predicted[i] == observed[i] else "NO",
        "final distance / initial": float(dist[i, np.flatnonzero(np.isfinite(dist[i]))[-1]] / dist[i, 0]),
        "final W2^2 / initial": float(w2[i][-1] / w2[i][0]),
    } for i, (L, b) in enumerate(pairs)]
    agree = np.array([p == o for p, o in zip(predicted, observed, strict=True)])
    best = int(np.argmin([v[-1] for v in w2]))
    summary = {
        "nngp_agreement": f"{int(agree.sum())}/{agree.size}",
        "nngp_rate_range": f"{rate.min():.4f} - {rate.max():.4f}",
        "nngp_best_final_w2": f"{w2[best][-1]:.3g} (depth {pairs[best][0]}, bias {pairs[best][1]:g}; "
                              f"from {w2[best][0]:.3g})",
        "nngp_max_truncation_bound": float(bound.max()),
    }
    return data, coords, table, summary
