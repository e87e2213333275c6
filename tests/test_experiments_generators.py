"""The generator experiments of theory section 12, each against an independent check.

Configurations are shrunk to run in seconds; checks are the closed forms written here, exact runs,
and the definitions (W2 by optimal assignment for equal weights).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from kernelgda.experiments import digits_generator as dgen
from kernelgda.experiments import generator_kernel as gk
from kernelgda.experiments import parametric_minima as pm


def test_generator_kernel_band_and_rates():
    cfg = dataclasses.replace(gk.QUICK, kappas=(1.0, 1e3), num_eta=21)
    res = gk.compute(cfg)
    a = cfg.eta_d * cfg.lam
    s = np.sqrt(1 - a)
    assert abs(res.summary["band_ratio"] - ((1 + s) / (1 - s)) ** 2) < 1e-9, "band ratio, theory section 12"
    # below the band ratio the best rate is the point model's sqrt(1 - eta_d lam)
    np.testing.assert_allclose(res["closed_form"], s, atol=1e-9, err_msg="theory section 12, inside the band")
    np.testing.assert_allclose(res["measured"], res["linearized"], atol=1e-4,
                               err_msg="exact runs against the linearization on (B, t)")
    fig = gk.plot(res)
    assert len(fig.axes) == 2


@pytest.mark.slow
def test_parametric_minima_runs_agree_with_the_spectral_radius():
    res = pm.compute(pm.QUICK)
    assert res.summary["num_fixed_points"] >= 3
    for row in res.table:
        if abs(np.log(row["spectral_radius"])) * pm.QUICK.num_steps > 2 * np.log(pm.QUICK.leave_factor):
            assert row["run"] == row["predicted"], row
        assert (row["run"] == "leaves") == (row["spectral_radius"] > 1) or \
            abs(row["spectral_radius"] - 1) < 0.02, row
    pm.plot(res)


@pytest.mark.slow
def test_digits_generator_w2_and_local_rate():
    cfg = dataclasses.replace(dgen.QUICK, num_steps=60, snapshots=(0, 60), max_check_steps=1500)
    res = dgen.compute(cfg)
    from kernelgda.experiments._data import load_targets
    from kernelgda.generators import MLP
    x = load_targets()[0][:cfg.num_digits]
    rng = np.random.default_rng(cfg.seed)
    gen = MLP(rng.standard_normal((cfg.num_digits, cfg.latent_dim)), 64, cfg.hidden, "tanh", seed=cfg.seed)
    y0 = gen.points(gen.theta)
    cost = ((y0[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    r, c = linear_sum_assignment(cost)
    w2 = cost[r, c].mean()  # equal weights 1/n: W2^2 is the optimal assignment's mean cost
    assert abs(res["w2_generator"][0] - w2) < 1e-10 * w2
    assert abs(res["w2_points"][0] - w2) < 1e-10 * w2
    assert np.isfinite(res.summary["predicted_rate"]), res.summary
    assert res.summary["abs_rate_difference"] < 1e-3, "exact run against the linearization at the end"
    dgen.plot(res)
