"""Phase diagrams: theory grids against the closed forms, simulated regimes against predicted ones."""

from __future__ import annotations

import numpy as np
import pytest

import kernelgda as kg
from kernelgda import compare, phase_diagram
from kernelgda.phase import RULE_OPTIONS, closed_form_boundaries, for_netcdf, from_netcdf, pair_boundaries
from kernelgda.regimes import REGIMES
from kernelgda.scenario import parse_scenario

SIGMA = np.geomspace(0.05, 1.0, 9)
LAM = np.array([0.0, 0.01, 0.3, 2.0, 9.0])


def _z(ds):
    return ds.dominant_real.values + 1j * ds.dominant_imag.values


def _assert_same_prediction(got, ref, atol, what):
    """Rates, labels and, where no other mode ties with it, the dominant eigenvalue.

    Momentum roots of one field eigenvalue have product beta, so two complex pairs can share
    the modulus sqrt(beta): which one is "dominant" is then a tie.
    """
    for name in ("generator_rate", "spectral_radius"):
        np.testing.assert_allclose(got[name].values, ref[name].values, rtol=0, atol=atol,
                                   err_msg=f"{what}: {name}")
    np.testing.assert_array_equal(got.regime.values, ref.regime.values, err_msg=f"{what}: regime")
    unique = ~(ref.generator_rate.values - ref.runner_up_rate.values <= 1e-6)
    np.testing.assert_allclose(_z(got)[unique], _z(ref)[unique], rtol=0, atol=atol,
                               err_msg=f"{what}: dominant eigenvalue")


# -- theory ------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["alternating", "simultaneous"])
def test_theory_grid_equals_isolated_eigenvalues_cell_by_cell(mode):
    ds = phase_diagram({"sigma": SIGMA, "lam": LAM, "n": [1, 2]},
                       {"eta_d": 0.2, "eta_g": 0.3, "p": 1.0, "q": 0.5, "mode": mode})
    assert ds.regime.dims == ("sigma", "lam", "n")
    for i, sigma in enumerate(SIGMA):
        for j, lam in enumerate(LAM):
            for k, n in enumerate([1, 2]):
                ref = kg.isolated.eigenvalues(p=1.0, q=0.5, n=n, eta_d=0.2, eta_g=0.3, lam=lam,
                                              sigma=sigma, mode=mode)
                msg = f"cell sigma={sigma}, lam={lam}, n={n}: differs from kg.isolated.eigenvalues"
                # The same closed-form expressions, evaluated on arrays instead of scalars:
                # elementwise arithmetic is correctly rounded, so they agree to an ulp or two.
                np.testing.assert_allclose(ds.generator_rate.values[i, j, k], ref.generator_rate,
                                           rtol=1e-14, atol=0, err_msg=msg)
                np.testing.assert_allclose(ds.spectral_radius.values[i, j, k], ref.spectral_radius,
                                           rtol=1e-14, atol=0, err_msg=msg)
                np.testing.assert_allclose(_z(ds)[i, j, k], ref.dominant, rtol=1e-14, atol=0, err_msg=msg)
                assert ds.regime.values[i, j, k] == ref.regime_code, msg


#: Every update rule with its options (theory section 8).
RULES = [("alternating", {"d_steps": 3}), ("simultaneous", {}), ("extragradient", {}), ("optimistic", {}),
         ("momentum", {"beta": -0.3}), ("momentum", {"beta": 0.4})]


@pytest.mark.parametrize("mode, kw", RULES)
def test_every_rule_theory_grid_equals_isolated_eigenvalues_cell_by_cell(mode, kw):
    ds = phase_diagram({"sigma": SIGMA, "lam": LAM, "n": [1, 2]},
                       {"eta_d": 0.2, "eta_g": 0.3, "p": 1.0, "q": 0.5, "mode": mode, **kw})
    ref = kg.isolated.eigenvalues(p=1.0, q=0.5, n=np.array([1, 2]), eta_d=0.2, eta_g=0.3, lam=LAM[:, None],
                                  sigma=SIGMA[:, None, None], mode=mode, **kw)
    msg = f"{mode} {kw}: differs from kg.isolated.eigenvalues (theory section 8)"
    # The same closed-form expressions on differently shaped arrays: an ulp or two.
    np.testing.assert_allclose(ds.generator_rate.values, ref.generator_rate, rtol=1e-14, atol=0, err_msg=msg)
    np.testing.assert_allclose(ds.spectral_radius.values, ref.spectral_radius, rtol=1e-14, atol=0,
                               err_msg=msg)
    np.testing.assert_allclose(_z(ds), ref.dominant, rtol=1e-14, atol=0, err_msg=msg)
    np.testing.assert_array_equal(ds.regime.values, ref.regime_code, err_msg=msg)
    assert ds.attrs["mode"] == mode and all(ds.attrs[k] == v for k, v in kw.items())


def test_rule_options_as_axes_act_on_their_rule_only():
    fixed = {"eta_d": 0.2, "eta_g": 0.3, "lam": 0.5, "q": 0.8}
    # beta as an axis of momentum GDA; d_steps as an axis of alternating GDA
    ds = phase_diagram({"sigma": SIGMA, "beta": [-0.5, 0.0, 0.3]}, {**fixed, "mode": "momentum"})
    for j, beta in enumerate([-0.5, 0.0, 0.3]):
        ref = kg.isolated.eigenvalues(q=0.8, eta_d=0.2, eta_g=0.3, lam=0.5, sigma=SIGMA, mode="momentum",
                                      beta=beta)
        np.testing.assert_allclose(_z(ds)[:, j], ref.dominant, rtol=1e-14, atol=0,
                                   err_msg=f"beta = {beta}: vs kg.isolated.eigenvalues")
    ds = phase_diagram({"sigma": SIGMA, "d_steps": [1, 2, 5]}, fixed)
    assert ds.d_steps.dtype.kind == "i"
    for j, steps in enumerate([1, 2, 5]):
        ref = kg.isolated.eigenvalues(q=0.8, eta_d=0.2, eta_g=0.3, lam=0.5, sigma=SIGMA, d_steps=steps)
        np.testing.assert_allclose(_z(ds)[:, j], ref.dominant, rtol=1e-14, atol=0,
                                   err_msg=f"d_steps = {steps}: vs kg.isolated.eigenvalues")
    # a mode axis with beta and d_steps fixed: each applies to the cells of its rule only
    modes = ["alternating", "simultaneous", "momentum"]
    ds = phase_diagram({"sigma": SIGMA, "mode": modes}, {**fixed, "beta": -0.3, "d_steps": 2})
    for j, mode in enumerate(modes):
        kw = {"alternating": {"d_steps": 2}, "momentum": {"beta": -0.3}}.get(mode, {})
        ref = kg.isolated.eigenvalues(q=0.8, eta_d=0.2, eta_g=0.3, lam=0.5, sigma=SIGMA, mode=mode, **kw)
        np.testing.assert_allclose(_z(ds)[:, j], ref.dominant, rtol=1e-14, atol=0,
                                   err_msg=f"{mode}: vs kg.isolated.eigenvalues")


def test_closed_form_boundaries_are_drawn_for_alternating_only():
    axes = {"sigma": SIGMA, "lam": LAM[1:]}
    fixed = {"eta_d": 0.1, "eta_g": 0.1}
    assert closed_form_boundaries(phase_diagram(axes, fixed))[0] is not None
    for kw in ({"d_steps": 2}, {"mode": "simultaneous"}, {"mode": "momentum", "beta": 0.3},
               {"mode": "extragradient"}, {"mode": "optimistic"}):
        curves, note = closed_form_boundaries(phase_diagram(axes, {**fixed, **kw}))
        assert curves is None and "alternating" in note, f"{kw}: section 5 boundaries drawn"


def test_theory_regions_match_closed_form_boundaries():
    # Alternating, delta = 0: divergent below sigma_div, flipping up to the band, oscillatory
    # inside the band, monotone above it (theory section 5, kg.isolated closed forms).
    sigma = np.geomspace(0.02, 2.0, 80)
    lam = np.geomspace(0.05, 9.0, 60)
    fixed = {"eta_d": 0.1, "eta_g": 0.2, "p": 0.8, "q": 0.8}
    ds = phase_diagram({"sigma": sigma, "lam": lam}, fixed)
    s, lm = np.meshgrid(sigma, lam, indexing="ij")
    low, high = kg.isolated.best_sigma_window(q=0.8, n=1, eta_d=0.1, eta_g=0.2, lam=lm)
    div = kg.isolated.divergence_sigma(q=0.8, n=1, eta_d=0.1, eta_g=0.2, lam=lm)
    expected = np.select([s < div, s < low, s < high], [REGIMES.index("divergent"),
                         REGIMES.index("flipping"), REGIMES.index("oscillatory")],
                         REGIMES.index("monotone"))
    curves = np.stack([div, low, high])
    away = np.all(np.abs(s / curves - 1) > 1e-6, axis=0)
    assert away.sum() > 0.95 * away.size
    np.testing.assert_array_equal(ds.regime.values[away], expected[away],
                                  err_msg="regime regions differ from the closed-form boundaries")
    assert set(np.unique(expected)) == {0, 1, 2, 5}, "the grid should cross every boundary"


def test_pair_boundaries_equal_section5_at_delta_zero_and_solve_the_pair_in_general():
    lam = np.geomspace(0.05, 9.0, 7)
    low, high, div = pair_boundaries(p=0.8, q=0.8, n=1, eta_d=0.1, eta_g=0.2, lam=lam)
    ref_low, ref_high = kg.isolated.best_sigma_window(q=0.8, n=1, eta_d=0.1, eta_g=0.2, lam=lam)
    # Roots of a quadratic against closed forms: a few ulps of cancellation.
    np.testing.assert_allclose(low, ref_low, rtol=1e-10, err_msg="band edge vs best_sigma_window")
    np.testing.assert_allclose(high, ref_high, rtol=1e-10, err_msg="band edge vs best_sigma_window")
    np.testing.assert_allclose(div, kg.isolated.divergence_sigma(q=0.8, n=1, eta_d=0.1, eta_g=0.2, lam=lam),
                               rtol=1e-12, err_msg="divergence line vs divergence_sigma")
    # delta = 0.2: at the band edges the pair is a double root, on the line a root is -1.
    low, high, div = pair_boundaries(p=1.0, q=0.8, n=1, eta_d=0.1, eta_g=0.2, lam=lam)
    for sigma in (low, high):
        ok = np.isfinite(sigma)
        pair = kg.isolated.eigenvalues(p=1.0, q=0.8, eta_d=0.1, eta_g=0.2, lam=lam[ok], sigma=sigma[ok]).rho_c
        # A double root is sqrt-sensitive: 1e-16 relative in tr^2 - 4 det gives 1e-8 in the roots.
        np.testing.assert_allclose(pair[:, 0], pair[:, 1], atol=1e-6, err_msg="band edge: no double root")
    ok = np.isfinite(div)
    pair = kg.isolated.eigenvalues(p=1.0, q=0.8, eta_d=0.1, eta_g=0.2, lam=lam[ok], sigma=div[ok]).rho_c
    np.testing.assert_allclose(np.min(np.abs(pair + 1), axis=1), 0, atol=1e-12,
                               err_msg="divergence line: no root at -1 (Jury condition, section 5)")


def test_closed_form_boundaries_only_for_isolated_sigma_lam():
    ds = phase_diagram({"sigma": SIGMA, "lam": LAM[1:]}, {"eta_d": 0.1, "eta_g": 0.1})
    curves, note = closed_form_boundaries(ds)
    assert curves is not None and "best_lam" in curves, note
    ds = phase_diagram({"sigma": SIGMA, "eta_d": [0.1, 0.2]}, {"lam": 0.5, "eta_g": 0.1})
    assert closed_form_boundaries(ds)[0] is None


def test_theory_dataset_attributes_and_netcdf_round_trip(tmp_path):
    xr = pytest.importorskip("xarray")
    ds = phase_diagram({"sigma": SIGMA, "mode": ["alternating", "simultaneous"]},
                       {"eta_d": 0.1, "eta_g": 0.1, "lam": 0.5, "q": 0.8})
    assert ds.attrs["method"] == "theory" and ds.attrs["q"] == 0.8 and ds.attrs["eta_d"] == 0.1
    assert ds.attrs["kernelgda_version"] == kg.__version__
    assert ds.sigma.attrs["scale"] == "log"
    meanings = ds.regime.attrs["flag_meanings"].split()
    assert meanings[1:] == list(REGIMES) and list(ds.regime.attrs["flag_values"]) == list(range(-1, 6))
    for_netcdf(ds).to_netcdf(tmp_path / "p.nc", engine="scipy")
    with xr.open_dataset(tmp_path / "p.nc", engine="scipy") as back:
        np.testing.assert_array_equal(back.generator_rate.values, ds.generator_rate.values)
        assert list(back.mode.values) == ["alternating", "simultaneous"]
        assert "mode" not in back.attrs and "gda_mode" not in back.attrs, "mode is an axis here"


# -- simulation ---------------------------------------------------------------------------------

def test_simulated_regimes_agree_with_theory_in_all_six_regimes():
    # Alternating and simultaneous, lam = 0 included (cycling), one true point, n = 1:
    # c = 0.09 / sigma^2 and a = 0.3 lam cross every boundary of theory section 5.
    ds = phase_diagram({"mode": ["alternating", "simultaneous"], "lam": [0.0, 0.3, 1.5, 3.0],
                        "sigma": [0.14, 0.21, 0.3, 0.6, 1.0]}, {"eta_d": 0.3, "eta_g": 0.3},
                       method="simulate")
    # n = 2 with delta = 0: the spread mode is neutral (rho_b = 1).
    neutral = phase_diagram({"lam": [0.3, 1.5], "sigma": [0.3, 1.0]},
                            {"eta_d": 0.3, "eta_g": 0.3, "n": 2, "q": 0.5}, method="simulate")
    seen = set()
    for d in (ds, neutral):
        res = compare(d)
        assert res.num_away >= 0.8 * res.num_cells, "too few cells away from a boundary to test"
        assert res.agree_away == 1.0, f"measured regimes differ from theory away from boundaries:\n{res}"
        # Fitted moduli agree with the closed forms to better than 1e-5 in the linear regime.
        assert res.rate_error_max_away < 1e-5 or res.num_converging == 0, res.table()
        seen |= set(REGIMES[c] for c in np.unique(d.regime.values) if c >= 0)
    assert seen == set(REGIMES), f"the grids should span all six regimes, got {sorted(seen)}"


def test_simulated_small_grid_matches_theory_rates():
    ds = phase_diagram({"lam": [0.5, 1.0, 2.0], "sigma": [0.4, 1.0]}, {"eta_d": 0.2, "eta_g": 0.2, "q": 0.8},
                       method="simulate", num_steps=400)
    res = compare(ds)
    assert res.agree_away == 1.0, res.table()
    # theory section 7: the fitted rate of the exact run equals the closed form (1e-3 demanded; the
    # linear window gives ~1e-9)
    np.testing.assert_allclose(ds.measured_rate.values, ds.generator_rate.values, rtol=0, atol=1e-6,
                               err_msg="measured rate vs closed form (isolated eigenvalues)")
    assert (ds.status.values == 0).all() and (ds.truncation_bound.values < 1e-6).all()


@pytest.mark.parametrize("mode, kw", RULES)
def test_every_rule_simulated_grid_agrees_with_theory(mode, kw):
    # Isolated model, n = 1 and n = 2 (a spread mode), regimes on both sides of convergence.
    # (At sigma = 0.25, lam = 0.3, n = 2 optimistic GDA's dominant eigenvalue is the spurious root
    # z ~ mu, which the start z_-1 = z_0 hardly excites: the run shows the runner-up.)
    ds = phase_diagram({"sigma": [0.3, 0.6, 1.2], "lam": [0.3, 2.0], "n": [1, 2]},
                       {"eta_d": 0.2, "eta_g": 0.2, "q": 0.45, "mode": mode, **kw}, method="simulate",
                       num_steps=400)
    res = compare(ds)
    assert res.num_away >= 0.75 * res.num_cells, f"too few cells away from a boundary:\n{res.table()}"
    assert res.agree_away == 1.0, f"{mode}: measured regimes differ from theory away from boundaries:\n" \
        + res.table()
    # theory section 7: the fitted rate of the exact run equals the closed form (1e-5 demanded)
    assert res.num_converging > 0 and res.rate_error_max_away < 1e-5, res.table()


def test_mode_axis_simulated_equals_one_rule_sweeps():
    # All rules in one sweep (chunks mixing rules, simulate_batch grouping them): each rule's
    # slice equals the sweep of that rule alone (the same cells, runs and measurements).
    modes = ["alternating", "simultaneous", "extragradient", "optimistic", "momentum"]
    axes = {"sigma": [0.3, 1.2], "lam": [0.3, 2.0]}
    fixed = {"eta_d": 0.2, "eta_g": 0.2, "q": 0.8, "beta": -0.3, "d_steps": 2}
    ds = phase_diagram({**axes, "mode": modes}, fixed, method="simulate", num_steps=300, chunk_size=7)
    for j, mode in enumerate(modes):
        kw = {k: v for k, v in fixed.items() if RULE_OPTIONS.get(k, mode) == mode}
        one = phase_diagram(axes, {**kw, "mode": mode}, method="simulate", num_steps=300)
        # the same runs, batched with other cells: sums in another order (1e-12, test_batch.py)
        np.testing.assert_allclose(ds.measured_rate.values[..., j], one.measured_rate.values, rtol=1e-9,
                                   err_msg=f"{mode}: mode-axis sweep vs one-rule sweep")
        np.testing.assert_array_equal(ds.measured_regime.values[..., j], one.measured_regime.values)
    assert compare(ds).agree_away == 1.0, compare(ds).table()


def test_cells_without_fixed_point_are_skipped():
    ds = phase_diagram({"lam": [0.0, 0.5]}, {"eta_d": 0.1, "eta_g": 0.1, "sigma": 0.5, "q": 0.8},
                       method="simulate", num_steps=200)
    assert ds.status.values.tolist() == [2, 0], "lam = 0 with delta != 0 has no fixed point"
    assert ds.measured_regime.values[0] == -1 and np.isnan(ds.measured_rate.values[0])


def test_fast_divergence_is_labelled_divergent():
    # c = 36: the error passes 1e-3 sigma within two steps, too fast to fit an eigenvalue.
    ds = phase_diagram({"sigma": [0.05]}, {"eta_d": 0.3, "eta_g": 0.3, "lam": 0.5}, method="simulate",
                       num_steps=100)
    assert ds.regime.values[0] == REGIMES.index("divergent")
    assert ds.measured_regime.values[0] == REGIMES.index("divergent")
    assert np.isnan(ds.measured_rate.values[0])


# -- scenarios ------------------------------------------------------------------------------------

def _scenario(points, p, sigma=0.3, lam=0.5):
    return parse_scenario({"true": {"points": points, "weights": p},
                           "generated": {"on_true": True, "offset": 0.01},
                           "kernel": {"sigma": sigma}, "lam": lam, "gda": {"eta_d": 0.2, "eta_g": 0.2}})


def test_linearize_equals_theory_on_an_isolated_scenario():
    sc = parse_scenario({"true": {"points": [[0.0]]}, "generated": {"on_true": True, "weights": 0.8,
                                                                    "offset": 0.01},
                         "kernel": {"sigma": 0.3}, "lam": 0.5, "gda": {"eta_d": 0.1, "eta_g": 0.1}})
    axes = {"sigma": SIGMA, "lam": LAM}
    lin = phase_diagram(axes, method="linearize", scenario=sc)
    theory = phase_diagram(axes, {"eta_d": 0.1, "eta_g": 0.1, "q": 0.8})
    # General Jacobian (eigensolve of a 2x2 matrix) vs closed form: rounding only.
    np.testing.assert_allclose(_z(lin), _z(theory), rtol=0, atol=1e-11,
                               err_msg="linearize vs isolated closed form")
    np.testing.assert_array_equal(lin.regime.values, theory.regime.values)
    assert np.isnan(lin.generator_rate.values[:, 0]).all(), "lam = 0 with delta = 0.2: no fixed point"


@pytest.mark.parametrize("mode, kw", RULES)
def test_every_rule_linearize_equals_theory_on_an_isolated_scenario(mode, kw):
    sc = parse_scenario({"true": {"points": [[0.0]]}, "generated": {"on_true": True, "weights": 0.8,
                                                                    "offset": 0.01},
                         "kernel": {"sigma": 0.3}, "lam": 0.5, "gda": {"eta_d": 0.1, "eta_g": 0.1}})
    axes = {"sigma": SIGMA, "lam": LAM[1:]}
    lin = phase_diagram(axes, {"mode": mode, **kw}, method="linearize", scenario=sc)
    theory = phase_diagram(axes, {"eta_d": 0.1, "eta_g": 0.1, "q": 0.8, "mode": mode, **kw})
    # General step matrix (eigensolve of a 2x2, 4x4 augmented matrix) vs closed form: rounding,
    # amplified near a double root (sqrt of 1e-16 relative; the grid stays far from them).
    _assert_same_prediction(lin, theory, 1e-9, f"{mode}: linearize (rules.step_matrix) vs closed form")


def test_scenario_rule_options_as_fixed_parameters_and_axes():
    sc = parse_scenario({"true": {"points": [[0.0]]}, "generated": {"on_true": True, "weights": 0.8},
                         "kernel": {"sigma": 0.3},
                         "lam": 0.5, "gda": {"eta_d": 0.1, "eta_g": 0.1, "mode": "momentum", "beta": 0.2}})
    theory = {"eta_d": 0.1, "eta_g": 0.1, "q": 0.8, "lam": 0.5}
    # the scenario's own beta; a beta axis; a mode axis where beta acts on momentum only
    lin = phase_diagram({"sigma": SIGMA}, method="linearize", scenario=sc)
    ref = phase_diagram({"sigma": SIGMA}, {**theory, "mode": "momentum", "beta": 0.2})
    _assert_same_prediction(lin, ref, 1e-9, "scenario beta: linearize vs closed form")
    lin = phase_diagram({"sigma": SIGMA, "beta": [-0.4, 0.4]}, method="linearize", scenario=sc)
    ref = phase_diagram({"sigma": SIGMA, "beta": [-0.4, 0.4]}, {**theory, "mode": "momentum"})
    _assert_same_prediction(lin, ref, 1e-9, "beta axis: linearize vs closed form")
    lin = phase_diagram({"sigma": SIGMA, "mode": ["alternating", "momentum"]}, {"d_steps": 2},
                        method="linearize", scenario=sc)
    ref = phase_diagram({"sigma": SIGMA, "mode": ["alternating", "momentum"]},
                        {**theory, "beta": 0.2, "d_steps": 2})
    _assert_same_prediction(lin, ref, 1e-9, "mode axis: linearize vs closed form")
    with pytest.raises(ValueError, match="beta applies to mode='momentum' only"):
        phase_diagram({"sigma": SIGMA}, {"mode": "optimistic", "beta": 0.1}, method="linearize", scenario=sc)


@pytest.mark.parametrize("mode, kw", [("extragradient", {}), ("optimistic", {}),
                                      ("momentum", {"beta": -0.3})])
def test_rule_on_overlapping_scenario_simulation_follows_linearize(mode, kw):
    # Two true points 0.4 apart (about one sigma): the general step matrix, not the isolated form.
    sc = _scenario([[0.0], [0.4]], [1.0, 0.6])
    axes = {"sigma": [0.35, 0.7], "lam": [0.5, 2.0]}
    lin = phase_diagram(axes, {"mode": mode, **kw}, method="linearize", scenario=sc)
    sim = phase_diagram(axes, {"mode": mode, **kw}, method="simulate", scenario=sc, num_steps=500)
    np.testing.assert_array_equal(sim.generator_rate.values, lin.generator_rate.values,
                                  err_msg="simulate's prediction is the linearization")
    res = compare(sim)
    assert res.num_away == res.num_cells == 4 and res.agree_away == 1.0, res.table()
    # theory section 7: measured rate vs the general linearization (1e-5 demanded; ~1e-6 here)
    assert res.num_converging > 0 and res.rate_error_max < 1e-5, res.table()


def test_linearize_differs_from_theory_when_true_points_are_close_and_simulation_agrees():
    # Two true points at distance 1 with matched generated points (theory section 7,
    # experiment 5): isolated at sigma = 0.08 (12 sigma apart), interacting at sigma = 0.5
    # and 0.9. Strong regularization keeps every cell monotone, where the rate depends on
    # the coupling (in the oscillatory band it is sqrt(1 - eta_d lam) whatever the coupling).
    sc = parse_scenario({"true": {"points": [[0.0], [1.0]], "weights": [1.0, 0.6]},
                         "generated": {"on_true": True, "offset": 0.01}, "kernel": {"sigma": 0.3},
                         "lam": 18.0, "gda": {"eta_d": 0.05, "eta_g": 0.05}})
    axes = {"sigma": [0.08, 0.5, 0.9], "lam": [18.0, 19.0]}
    lin = phase_diagram(axes, method="linearize", scenario=sc)
    sim = phase_diagram(axes, method="simulate", scenario=sc)
    # the isolated closed form: the union of the two clusters' spectra (theory section 5)
    iso = np.maximum(*(phase_diagram(axes, {"eta_d": 0.05, "eta_g": 0.05, "p": w, "q": w})
                       .generator_rate.values for w in (1.0, 0.6)))
    gap = np.abs(lin.generator_rate.values - iso)
    assert gap[0].max() < 1e-12, "12 sigma apart the clusters decouple: linearize = isolated closed form"
    assert gap[1:].min() > 2e-5, "within 2 sigma the isolated closed form should be off"
    # The exact simulation is the oracle: its fitted rate follows the general Jacobian to ~1e-8
    # (allow 1e-6, 20x below the smallest gap), not the isolated closed form.
    np.testing.assert_allclose(sim.measured_rate.values, lin.generator_rate.values, rtol=0, atol=1e-6,
                               err_msg="measured rate vs general linearization")
    assert (np.abs(sim.measured_rate.values - iso)[1:] > 1e-5).all(), "simulation follows the isolated form"
    assert compare(lin, sim).agree_away == 1.0


# -- bad input ----------------------------------------------------------------------------------

@pytest.mark.parametrize("axes, fixed, kwargs, match", [
    ({"sigmaa": [0.1]}, {}, {}, "valid names: p, q, n"),
    ({"sigma": []}, {}, {}, "non-empty"),
    ({"sigma": [0.1, np.nan]}, {"eta_d": 0.1, "eta_g": 0.1, "lam": 1.0}, {}, "finite"),
    ({"sigma": [-0.1]}, {"eta_d": 0.1, "eta_g": 0.1, "lam": 1.0}, {}, "sigma.*> 0"),
    ({"sigma": [0.1]}, {"eta_d": 0.1, "lam": 1.0}, {}, "missing parameter.*eta_g"),
    ({"sigma": [0.1], "lam": [1], "eta_d": [1], "eta_g": [1]}, {}, {}, "1, 2 or 3"),
    ({"sigma": [0.1]}, {"sigma": 0.2}, {}, "both"),
    ({"mode": ["sideways"]}, {"eta_d": 0.1, "eta_g": 0.1, "lam": 1.0, "sigma": 1.0}, {}, "mode"),
    ({"sigma": [0.1]}, {"eta_d": 0.1, "eta_g": 0.1, "lam": 1.0}, {"method": "linearize"}, "scenario"),
    ({"sigma": [0.1]}, {"eta_d": 0.1, "eta_g": 0.1, "lam": 1.0, "mode": "extragradient", "beta": 0.3},
     {"method": "simulate"}, "beta applies to mode='momentum' only"),
    ({"mode": ["simultaneous", "optimistic"]}, {"eta_d": 0.1, "eta_g": 0.1, "lam": 1.0, "sigma": 1.0,
                                                "d_steps": 2}, {}, "d_steps applies to mode='alternating'"),
    ({"beta": [0.1, 0.2]}, {"eta_d": 0.1, "eta_g": 0.1, "lam": 1.0, "sigma": 1.0}, {}, "beta applies"),
    ({"beta": [0.1, 1.0]}, {"eta_d": 0.1, "eta_g": 0.1, "lam": 1.0, "sigma": 1.0, "mode": "momentum"},
     {}, r"beta.*\(-1, 1\)"),
    ({"d_steps": [1, 2.5]}, {"eta_d": 0.1, "eta_g": 0.1, "lam": 1.0, "sigma": 1.0}, {}, "d_steps"),
    ({"sigma": [0.1]}, {"eta_d": 0.1, "eta_g": 0.1, "lam": 1.0}, {"method": "guess"}, "method"),
])
def test_bad_input(axes, fixed, kwargs, match):
    with pytest.raises(ValueError, match=match):
        phase_diagram(axes, fixed, **kwargs)


def test_bad_scenario_axis_lists_valid_names():
    with pytest.raises(ValueError, match="valid names: sigma, alpha, lam, eta_d, eta_g, mode"):
        phase_diagram({"q": [0.5]}, method="linearize", scenario=_scenario([[0.0]], 1.0))


def test_update_rule_attribute_is_mode_and_survives_a_netcdf3_file(tmp_path):
    xr = pytest.importorskip("xarray")
    ds = phase_diagram({"sigma": [0.5, 1.0]}, {"eta_d": 0.1, "eta_g": 0.1, "lam": 0.5, "mode": "momentum",
                                               "beta": -0.3})
    assert ds.attrs["mode"] == "momentum" and "gda_mode" not in ds.attrs
    for_netcdf(ds).to_netcdf(tmp_path / "p.nc", engine="scipy")
    assert ds.attrs["mode"] == "momentum", "for_netcdf leaves the dataset itself alone"
    with xr.open_dataset(tmp_path / "p.nc", engine="scipy") as raw:
        back = from_netcdf(raw.load())
    assert back.attrs["mode"] == "momentum" and "gda_mode" not in back.attrs
    assert back.attrs["beta"] == -0.3
    # datasets written before the rename (attribute gda_mode) read the same way
    old = ds.copy()
    old.attrs = {("gda_mode" if k == "mode" else k): v for k, v in ds.attrs.items()}
    assert from_netcdf(old).attrs["mode"] == "momentum"
    for mode, drawn in (("alternating", True), ("momentum", False)):
        grid = phase_diagram({"sigma": [0.5, 1.0], "lam": [0.5, 1.0]}, {"eta_d": 0.1, "eta_g": 0.1,
                                                                        "mode": mode})
        grid.attrs = {("gda_mode" if k == "mode" else k): v for k, v in grid.attrs.items()}
        assert (closed_form_boundaries(grid)[0] is not None) == drawn, f"old-style {mode} dataset"
