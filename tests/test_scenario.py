"""Scenario files: generators, explicit lists, on_true / per_point, defaults, errors, with_params."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pytest

import kernelgda as kg
from kernelgda.scenario import OVERRIDABLE, Scenario, load_scenario, parse_scenario

pytestmark = pytest.mark.usefixtures("strict_float")

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"

BASE = {
    "true": {"points": [[0.0, 0.0], [1.0, 0.0]], "weights": [1.0, 0.5]},
    "generated": {"on_true": True},
    "kernel": {"kind": "gaussian", "sigma": 0.5},
    "lam": 0.3,
    "gda": {"eta_d": 0.1, "eta_g": 0.2, "mode": "alternating"},
}


def table(**sections):
    """BASE with whole sections replaced (``None`` removes a section)."""
    t = copy.deepcopy(BASE)
    for key, value in sections.items():
        if value is None:
            t.pop(key)
        else:
            t[key] = value
    return t


# -- generators ----------------------------------------------------------------------------

def test_ring_generator_points_on_circle():
    s = parse_scenario(table(true={"kind": "ring", "num": 5, "radius": 2.0, "dim": 3}))
    x = s.gan.x_true
    assert x.shape == (5, 3)
    # Oracle: the definition, angles 2 pi k / num in the first two axes, written out per point.
    expected = np.array([[2.0 * math.cos(2 * math.pi * k / 5), 2.0 * math.sin(2 * math.pi * k / 5), 0.0]
                         for k in range(5)])
    np.testing.assert_allclose(x, expected, rtol=0, atol=1e-15,
                               err_msg="ring points differ from radius (cos, sin) of 2 pi k / num")


def test_grid_generator_centered_lattice():
    s = parse_scenario(table(true={"kind": "grid", "num": 3, "spacing": 0.5, "dim": 2,
                                   "center": [1.0, -1.0]}))
    x = s.gan.x_true
    assert x.shape == (9, 2)
    # Oracle: every pair of offsets in {-0.5, 0, 0.5}, shifted by the center (a double loop).
    expected = {(1.0 + a, -1.0 + b) for a in (-0.5, 0.0, 0.5) for b in (-0.5, 0.0, 0.5)}
    assert {tuple(np.round(p, 12)) for p in x} == expected, "grid is not the centered lattice"


def test_gaussian_generator_seeded_and_reproducible():
    t1 = table(true={"kind": "gaussian", "num": 7, "scale": 0.3, "dim": 4, "seed": 11})
    a, b = parse_scenario(t1).gan.x_true, parse_scenario(copy.deepcopy(t1)).gan.x_true
    assert a.shape == (7, 4)
    np.testing.assert_array_equal(a, b, err_msg="same seed must give the same points")
    # Oracle: numpy's default_rng with the same seed, drawn directly.
    np.testing.assert_allclose(a, 0.3 * np.random.default_rng(11).standard_normal((7, 4)), rtol=0, atol=0)
    other = parse_scenario(table(true={"kind": "gaussian", "num": 7, "scale": 0.3, "dim": 4, "seed": 12}))
    assert not np.allclose(a, other.gan.x_true), "different seeds should give different points"


def test_gaussian_generator_default_seed_is_fixed():
    t = table(true={"kind": "gaussian", "num": 3})
    np.testing.assert_array_equal(parse_scenario(t).gan.x_true, parse_scenario(t).gan.x_true,
                                  err_msg="without a seed the points must still be reproducible (seed 0)")


def test_generated_points_from_a_generator():
    s = parse_scenario(table(true={"kind": "ring", "num": 4}, generated={"kind": "ring", "num": 4,
                                                                         "radius": 1.1}))
    np.testing.assert_allclose(np.linalg.norm(s.y0, axis=1), 1.1, rtol=1e-15,
                               err_msg="generated ring radius")
    np.testing.assert_allclose(s.q, 1.0, rtol=1e-15,
                               err_msg="default generated weights sum(p) / n = 4 / 4")


# -- explicit lists, weights, on_true ------------------------------------------------------

def test_explicit_points_and_weights():
    s = parse_scenario(table(generated={"points": [[0.1, 0.0], [0.9, 0.1], [0.5, 0.5]],
                                        "weights": [0.2, 0.3, 0.4]}))
    assert s.gan.x_true.shape == (2, 2) and s.y0.shape == (3, 2)
    np.testing.assert_array_equal(s.gan.p_true, [1.0, 0.5])
    np.testing.assert_array_equal(s.q, [0.2, 0.3, 0.4])


def test_flat_list_is_one_dimensional():
    s = parse_scenario(table(true={"points": [0.0, 2.0]}, generated={"points": [0.1]}))
    assert s.gan.x_true.shape == (2, 1) and s.y0.shape == (1, 1)


def test_default_weights():
    s = parse_scenario(table(true={"points": [[0.0], [1.0], [2.0]]}, generated={"points": [[0.5], [1.5]]}))
    np.testing.assert_array_equal(s.gan.p_true, [1.0, 1.0, 1.0], err_msg="true weights default to 1")
    np.testing.assert_allclose(s.q, [1.5, 1.5], rtol=1e-15, err_msg="generated default: sum(p) / n")


def test_on_true_per_point_order_and_matched_mass():
    s = parse_scenario(table(generated={"on_true": True, "per_point": 3}))
    x, p = s.gan.x_true, s.gan.p_true
    assert s.y0.shape == (6, 2)
    for i in range(2):
        for r in range(3):
            np.testing.assert_array_equal(s.y0[3 * i + r], x[i], err_msg="y_{ik+r} = x_i")
            assert s.q[3 * i + r] == pytest.approx(p[i] / 3, rel=1e-15), "default q = p_i / k"


def test_on_true_with_weights_and_offset():
    s = parse_scenario(table(generated={"on_true": True, "per_point": 2, "weights": 0.4,
                                        "offset": [0.01, -0.02]}))
    np.testing.assert_array_equal(s.q, np.full(4, 0.4))
    np.testing.assert_allclose(s.y0 - np.repeat(s.gan.x_true, 2, axis=0), np.tile([0.01, -0.02], (4, 1)),
                               rtol=0, atol=1e-15, err_msg="offset added to every generated point")
    scalar = parse_scenario(table(generated={"on_true": True, "offset": 0.1}))
    np.testing.assert_allclose(scalar.y0 - scalar.gan.x_true, 0.1, rtol=0, atol=1e-15)


def test_kernel_and_gda_defaults_and_rational_quadratic():
    s = parse_scenario(table(kernel={"sigma": 0.5}, lam=0, gda={"eta_d": 1, "eta_g": 2}))
    assert s.gan.lam == 0
    assert isinstance(s.gan.kernel, kg.Gaussian) and s.gda.mode == "alternating"
    rq = parse_scenario(table(kernel={"kind": "rational_quadratic", "sigma": 0.5, "alpha": 2.0}))
    assert isinstance(rq.gan.kernel, kg.RationalQuadratic) and rq.gan.kernel.alpha == 2.0
    assert rq.params()["alpha"] == 2.0


def test_params_flat_dict():
    s = parse_scenario(table(generated={"on_true": True, "per_point": 2}), name="two")
    assert s.name == "two"
    assert s.params() == {"kernel": "gaussian", "sigma": 0.5, "lam": 0.3, "eta_d": 0.1, "eta_g": 0.2,
                          "mode": "alternating", "d_steps": 1, "beta": 0.0, "n": 4, "m": 2, "d": 2}


def test_name_from_table_and_source_kept():
    t = table()
    t["name"] = "named"
    s = parse_scenario(t, name="ignored")
    assert s.name == "named"
    assert s.source == t and s.source is not t, "source is a copy of the parsed table"


def test_arrays_are_read_only():
    s = parse_scenario(table())
    with pytest.raises(ValueError):
        s.y0[0, 0] = 1.0


# -- with_params -----------------------------------------------------------------------------

def test_with_params_replaces_and_keeps_original():
    s = parse_scenario(table())
    t = s.with_params(sigma=0.2, lam=0.7, eta_d=0.05, eta_g=0.06, mode="simultaneous")
    assert (t.gan.kernel.sigma, t.gan.lam, t.gda.eta_d, t.gda.eta_g, t.gda.mode) == \
        (0.2, 0.7, 0.05, 0.06, "simultaneous")
    assert (s.gan.kernel.sigma, s.gan.lam, s.gda.mode) == (0.5, 0.3, "alternating"), "original unchanged"
    np.testing.assert_array_equal(t.y0, s.y0)
    np.testing.assert_array_equal(t.gan.x_true, s.gan.x_true)
    assert t.source["kernel"]["sigma"] == 0.2 and t.source["gda"]["mode"] == "simultaneous"
    assert s.source["kernel"]["sigma"] == 0.5
    # The updated source parses back to the same scenario.
    assert parse_scenario(t.source).params() == t.params()


def test_with_params_numpy_scalars_and_alpha():
    rq = parse_scenario(table(kernel={"kind": "rational_quadratic", "sigma": 0.5}))
    t = rq.with_params(sigma=np.float64(0.25), alpha=np.float32(3.0))
    assert t.gan.kernel.sigma == 0.25 and t.gan.kernel.alpha == 3.0


def test_with_params_errors():
    s = parse_scenario(table())
    with pytest.raises(ValueError, match="unknown scenario parameter.*'sigmma'.*valid: sigma, alpha") as e:
        s.with_params(sigmma=1.0)
    for key in OVERRIDABLE:
        assert key in str(e.value)
    with pytest.raises(ValueError, match="alpha applies only to the rational_quadratic"):
        s.with_params(alpha=2.0)
    with pytest.raises(ValueError, match="kernel.sigma must be > 0"):
        s.with_params(sigma=-1.0)
    with pytest.raises(ValueError, match="gda.mode must be one of"):
        s.with_params(mode="sideways")


# -- errors ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("change", "pattern"), [
    (lambda t: t.update(extra=1), r"unknown key 'extra' at the top level"),
    (lambda t: t["kernel"].update(sigmma=1), r"unknown key kernel.'sigmma' in \[kernel\]; expected .*sigma"),
    (lambda t: t["gda"].update(eta=1), r"unknown key gda.'eta' in \[gda\]"),
    (lambda t: t["true"].update(on_true=True), r"unknown key true.'on_true' in \[true\]"),
    (lambda t: t["kernel"].update(sigma="0.5"), r"kernel.sigma must be a number, got str"),
    (lambda t: t["kernel"].update(sigma=True), r"kernel.sigma must be a number, got bool"),
    (lambda t: t["kernel"].update(sigma=0.0), r"kernel.sigma must be > 0"),
    (lambda t: t["kernel"].update(kind="cosine"), r"kernel.kind must be one of"),
    (lambda t: t["kernel"].update(alpha=2.0), r"kernel.alpha applies only to kind = 'rational_quadratic'"),
    (lambda t: t["kernel"].pop("sigma"), r"missing required key kernel.sigma"),
    (lambda t: t["gda"].pop("eta_g"), r"missing required key gda.eta_g"),
    (lambda t: t.update(lam=-1), r"lam must be >= 0"),
    (lambda t: t.pop("lam"), r"missing required key lam"),
    (lambda t: t["gda"].update(lam=0.3), r"lam is given both at the top level and as gda.lam"),
    (lambda t: t["gda"].update(mode="sideways"), r"gda.mode must be one of"),
    (lambda t: t["gda"].update(mode=3), r"gda.mode must be a string"),
    (lambda t: t["gda"].update(d_steps=2, mode="simultaneous"), r"gda.d_steps applies to mode"),
    (lambda t: t["gda"].update(beta=0.5), r"gda.beta applies to mode = 'momentum'"),
    (lambda t: t.pop("gda"), r"missing required table \[gda\]"),
    (lambda t: t.update(kernel=0.5), r"kernel must be a table"),
    (lambda t: t.update(true={"weights": 1.0}), r"\[true\] needs points or kind"),
    (lambda t: t.update(true={"points": [[0.0], [1.0, 2.0]]}), r"true.points must be a rectangular array"),
    (lambda t: t.update(true={"points": [["a"]]}), r"true.points must be a number, got str"),
    (lambda t: t.update(true={"points": [[0.0]], "kind": "ring"}), r"either true.points or true.kind"),
    (lambda t: t.update(true={"points": [[0.0]], "num": 3}), r"true.num only applies to a generator"),
    (lambda t: t.update(true={"kind": "spiral", "num": 3}), r"true.kind must be one of"),
    (lambda t: t.update(true={"kind": "ring"}), r"missing required key true.num"),
    (lambda t: t.update(true={"kind": "ring", "num": 3, "dim": 1}), r"true.dim must be >= 2"),
    (lambda t: t.update(true={"kind": "ring", "num": 2.5}), r"true.num must be an integer"),
    (lambda t: t.update(true={"kind": "ring", "num": 3, "seed": 1}), r"true.seed does not apply to"),
    (lambda t: t.update(true={"kind": "grid", "num": 2, "center": [0.0]}), r"true.center must be a list"),
    (lambda t: t["true"].update(weights=[1.0]), r"true.weights must have shape \(2,\)"),
    (lambda t: t["true"].update(weights=-1.0), r"true.weights must be > 0"),
    (lambda t: t.update(generated={}), r"\[generated\] needs points, kind .* or on_true"),
    (lambda t: t.update(generated={"on_true": "yes"}), r"generated.on_true must be true or false"),
    (lambda t: t.update(generated={"on_true": True, "points": [[0.0, 0.0]]}), r"either generated.on_true or "
                                                                            r"generated.points"),
    (lambda t: t.update(generated={"points": [[0.0, 0.0]], "per_point": 2}), r"generated.per_point only "
                                                                           r"applies with generated.on_true"),
    (lambda t: t.update(generated={"on_true": True, "per_point": 0}), r"generated.per_point must be >= 1"),
    (lambda t: t.update(generated={"points": [[0.0, 0.0, 0.0]]}), r"generated points have dimension 3"),
    (lambda t: t.update(generated={"on_true": True, "offset": [1.0, 2.0, 3.0]}), r"generated.offset must be"),
    (lambda t: t.update(generated={"on_true": True, "weights": [1.0, 2.0, 3.0]}),
     r"generated.weights must have shape \(2,\)"),
    (lambda t: t.update(name=5), r"name must be a string"),
])
def test_parse_errors_name_the_key(change, pattern):
    t = table()
    change(t)
    with pytest.raises(ValueError, match=pattern):
        parse_scenario(t)


def test_parse_refuses_non_table():
    with pytest.raises(ValueError, match="a scenario must be a table"):
        parse_scenario([1, 2])


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(ValueError, match=r"cannot read scenario file '.*missing.toml'"):
        load_scenario(tmp_path / "missing.toml")
    with pytest.raises(ValueError, match=r"cannot read scenario file"):
        load_scenario(tmp_path)  # a directory
    bad = tmp_path / "bad.toml"
    bad.write_text("[kernel\nsigma = 0.5\n")
    with pytest.raises(ValueError, match=r"scenario file '.*bad.toml' is not valid TOML"):
        load_scenario(bad)
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ValueError, match=r"scenario file '.*binary.toml'"):
        load_scenario(binary)
    wrong = tmp_path / "wrong.toml"
    wrong.write_text("lam = 0.1\n[true]\npoints = [[0.0]]\n[generated]\non_true = true\n[kernel]\n"
                     "sigma = -1\n[gda]\neta_d = 0.1\neta_g = 0.1\n")
    with pytest.raises(ValueError, match=r"scenario file '.*wrong.toml': kernel.sigma must be > 0"):
        load_scenario(wrong)


def test_load_uses_file_stem_as_default_name(tmp_path):
    f = tmp_path / "my_case.toml"
    f.write_text("lam = 0.1\n[true]\npoints = [[0.0]]\n[generated]\non_true = true\n[kernel]\n"
                 "sigma = 1\n[gda]\neta_d = 0.1\neta_g = 0.1\n")
    assert load_scenario(f).name == "my_case"


def test_lam_in_its_old_place_loads_with_a_deprecation_warning(tmp_path):
    new = parse_scenario(table())
    old_table = table()
    old_table["gda"]["lam"] = old_table.pop("lam")
    with pytest.warns(DeprecationWarning, match="gda.lam is deprecated"):
        old = parse_scenario(old_table)
    assert old.params() == new.params() and old.gan.lam == 0.3
    # with_params moves lam to the top level: the new source parses without a warning
    moved = old.with_params(sigma=0.2)
    assert "lam" not in moved.source["gda"] and moved.source["lam"] == 0.3
    assert parse_scenario(moved.source).params() == moved.params()
    f = tmp_path / "old.toml"
    f.write_text("[true]\npoints = [[0.0]]\n[generated]\non_true = true\n[kernel]\nsigma = 1\n"
                 "[gda]\nlam = 0.1\neta_d = 0.1\neta_g = 0.1\n")
    with pytest.warns(DeprecationWarning, match="write it at the top level"):
        assert load_scenario(f).gan.lam == 0.1


# -- shipped scenarios -------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["isolated", "overlap", "ring"])
def test_shipped_scenarios_load_and_converge(name):
    s = load_scenario(SCENARIOS / f"{name}.toml")
    assert isinstance(s, Scenario) and s.name == name
    eq = kg.find_equilibrium(s.gan, s.y0, s.q)
    assert eq.converged, eq.message
    # Oracle: the stationarity condition itself, grad f*(y_j) = 0 (theory section 3), evaluated
    # with the kernel's public gradient; 1e-10 is far above rounding (~1e-15) and far below the
    # offsets the scenarios start from (>= 1e-2).
    k = s.gan.kernel
    lam_grad = (np.einsum("jid,i->jd", k.grad(eq.y, s.gan.x_true), s.gan.p_true)
                - np.einsum("jld,l->jd", k.grad(eq.y, eq.y), eq.q))
    np.testing.assert_allclose(lam_grad, 0.0, rtol=0, atol=1e-10, err_msg="stationarity grad f* = 0")


def test_isolated_scenario_fixed_point_is_the_true_point():
    s = load_scenario(SCENARIOS / "isolated.toml")
    eq = kg.find_equilibrium(s.gan, s.y0, s.q)
    np.testing.assert_allclose(eq.y, s.gan.x_true, rtol=0, atol=1e-12,
                               err_msg="isolated fixed point sits on the true point (theory section 5)")


def test_module_docstring_example_parses():
    """The layout documented in kernelgda.scenario is itself a valid scenario."""
    import textwrap
    import tomllib

    import kernelgda.scenario as module

    block = module.__doc__.split("::\n", 1)[1].split("\nDefaults of the weights")[0]
    s = parse_scenario(tomllib.loads(textwrap.dedent(block)))
    assert s.name == "overlap" and s.params()["n"] == 2
    np.testing.assert_allclose(s.y0, [[0.05, 0.0], [0.35, 0.0]], rtol=0, atol=1e-15,
                               err_msg="true points plus the documented offset")
