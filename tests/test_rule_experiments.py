"""The update-rule experiments (issue 6): quick runs checked against independent oracles."""

from __future__ import annotations

import numpy as np
import pytest

import kernelgda as kg
from kernelgda.experiments import rule_comparison, rule_rates, stability_regions


def _general_rate(sigma, lam, rule, p=1.0, q=1.0, eta_d=0.1, eta_g=0.1):
    """Oracle: generator-visible rate from the general Jacobian of an isolated GAN (section 4/8)."""
    gan = kg.KernelGAN([[0.0]], p, kg.Gaussian(sigma), lam)
    eq = kg.find_equilibrium(gan, [[0.0]], q)
    return kg.linearize(gan, eq, kg.GDA(eta_d, eta_g, **rule)).generator_rate


def test_stability_regions_mu_curves_match_general_field():
    res = stability_regions.compute(stability_regions.QUICK)
    cfg = res.config
    for k in (0, len(cfg.lams) - 1):
        for j in (0, 40, 79):
            sigma, lam = res["sigma"][j], res["lam"][k]
            gan = kg.KernelGAN([[0.0]], cfg.p, kg.Gaussian(sigma), lam)
            eq = kg.find_equilibrium(gan, [[0.0]], cfg.q)
            mu = kg.field_eigenvalues(gan, eq, kg.GDA(cfg.eta_d, cfg.eta_g))
            # Closed-form mu vs eigenvalues of the assembled M = D A (rounding ~1e-13).
            for z in res["mu"][k, j]:
                assert np.min(np.abs(mu - z)) < 1e-9, "field eigenvalues: closed form vs M = D A"
    # The shaded region is where every step root is inside the unit circle: check a few grid
    # points against the roots of the rule polynomial computed with numpy.roots.
    re, im = res["re_mu"], res["im_mu"]
    for i, (_, mode, beta) in enumerate(stability_regions.PANELS):
        for a, b in [(10, 30), (60, 60), (100, 20)]:
            mu = re[b] + 1j * im[a]
            coeffs = {"simultaneous": [1, -(1 + mu)], "extragradient": [1, -(1 + mu + mu * mu)],
                      "optimistic": [1, -(1 + 2 * mu), mu],
                      "momentum": [1, -(1 + mu + beta), beta]}[mode]
            np.testing.assert_allclose(res["max_modulus"][i, a, b], np.abs(np.roots(coeffs)).max(),
                                       rtol=1e-10, err_msg=f"{mode}: polynomial roots")


@pytest.mark.slow  # ~1.5 s
def test_rule_rates_theory_and_measurement():
    res = rule_rates.compute(rule_rates.QUICK)
    cfg = res.config
    for i, (_, rule) in enumerate(rule_rates.RULESET):
        for j in (5, 50, 95):
            expect = _general_rate(res["sigma"][j], cfg.lam, rule, cfg.p, cfg.q, cfg.eta_d, cfg.eta_g)
            np.testing.assert_allclose(res["rate"][i, j], expect, atol=1e-9,
                                       err_msg="closed form vs general Jacobian")
    meas, pred = res["measured_rate"], res["predicted_measured"]
    ok = np.isfinite(meas)
    assert ok.sum() >= 0.7 * ok.size
    # Exact simulation vs linear prediction: the runs stay linear, 1e-5 demanded.
    np.testing.assert_allclose(meas[ok], pred[ok], atol=1e-5, err_msg="simulated vs predicted rate")


@pytest.mark.slow
def test_rule_comparison_winner():
    res = rule_comparison.compute(rule_comparison.QUICK)
    best = res["best"]
    rng = np.random.default_rng(0)
    for _ in range(6):
        i, j = rng.integers(0, best.shape[0]), rng.integers(0, best.shape[1])
        rates = [_general_rate(res["sigma"][j], res["lam"][i], rule) for _, rule in rule_rates.RULESET]
        expect = int(np.argmin(rates)) if min(rates) < 1 else -1
        if sorted(rates)[1] - sorted(rates)[0] > 1e-9:
            assert best[i, j] == expect, "fastest rule vs general Jacobians"
    assert res.summary["winner_agreement_clear_cells"] == 1.0, "measured winner vs predicted"
