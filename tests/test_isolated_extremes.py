"""The isolated closed forms and ``kernelgda rates`` at extreme parameters (theory sections 5 and 8).

Property tests over log-uniform parameters from 1e-300 to 1e300, every rule: no
floating-point warning, no exception but a one-line ``ValueError`` (exit code 2
through the CLI), no nan beside finite values, and the generator-visible rate and
spectral radius equal to a 2,000-digit decimal evaluation of the characteristic
polynomials (:func:`tests.oracles.isolated_moduli_decimal`).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
import warnings
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kernelgda as kg
from kernelgda.cli import main
from kernelgda.rules import RULES

from . import oracles

FMAX = Decimal(float(np.finfo(float).max))


def _log_uniform(lo=-300, hi=300):
    return st.floats(min_value=lo, max_value=hi).map(lambda e: float(10.0**e))


def _wide(lo=-300, hi=300):
    """Log-uniform over the whole range, near 1 more often (where the regimes change)."""
    return st.one_of(_log_uniform(lo, hi), _log_uniform(-2, 2))


@st.composite
def isolated_cases(draw):
    mode = draw(st.sampled_from(RULES))
    n = draw(st.one_of(st.integers(1, 4), st.integers(1, 10**12)))
    q = draw(_wide())
    # p: zero (a lone point), the matched mass n q, or anything.
    p = draw(st.one_of(st.just(0.0), st.just(n * q), _wide()))
    lam = draw(st.one_of(st.just(0.0), _wide()))
    case = dict(p=p, q=q, n=n, eta_d=draw(_wide()), eta_g=draw(_wide()), lam=lam, sigma=draw(_wide()),
                mode=mode)
    if mode == "momentum":
        case["beta"] = draw(st.floats(-0.99, 0.99))
    if mode == "alternating":
        case["d_steps"] = draw(st.integers(1, 3000))
    return case


def _assume_finite_inputs(case):
    return all(math.isfinite(case[k]) for k in ("p", "q", "eta_d", "eta_g", "lam", "sigma"))


def _one_line(msg: str) -> bool:
    return bool(msg) and "\n" not in msg


def _oracle(case):
    kw = {k: v for k, v in case.items()}
    kw.setdefault("beta", 0.0)
    kw.setdefault("d_steps", 1)
    return oracles.isolated_moduli_decimal(**kw)


def _out_of_range(ref, mode, margin=Decimal(10) ** 4, squares_mu=True):
    """Whether some quantity is near or past the float64 range (``squares_mu``: or ``|mu|``
    past 1e150 for the rules whose ``z_of_mu`` squares it)."""
    values = ref["params"] + ref["pair"] + ref["spread"] + ref["disc"]
    out = max(values) > FMAX / margin
    if squares_mu and mode not in ("alternating", "simultaneous"):
        out = out or (bool(ref["mu"]) and max(ref["mu"]) > Decimal(10) ** 150)
    return out


@pytest.mark.slow  # ~250 cases with a 2,000-digit oracle: several seconds
@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(isolated_cases())
def test_eigenvalues_at_extremes_no_warning_no_nan_and_match_decimal_oracle(case):
    ref = _oracle(case)
    args = {k: v for k, v in case.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            r = kg.isolated.eigenvalues(**args)
        except ValueError as exc:
            assert _one_line(str(exc)), "refusals are one line"
            assert _out_of_range(ref, case["mode"]), \
                f"refused although the decimal oracle is inside float64: {exc}"
            return
    if not ref["fixed"]:  # lam = 0 with a mismatch: no fixed point, every value nan, regime undetermined
        assert r.regime == "undetermined" and np.isnan(r.generator_rate) and np.isnan(r.spectral_radius)
        return
    assert not _out_of_range(ref, case["mode"], margin=Decimal(1) - Decimal(10) ** -9, squares_mu=False), \
        "a case past the float64 range must be refused, not answered"
    assert np.all(np.isfinite(r.rho_c)) and np.all(np.isfinite(r.rho_a)), "no nan beside finite values"
    assert np.isfinite(r.dominant) and r.regime != "undetermined"
    if case["n"] > 1:
        assert np.all(np.isfinite(r.rho_b))
    # Tolerance: near a double root the roots of a quadratic move by sqrt(eps) ~ 1.5e-8 of its scale
    # (the largest coefficient magnitude); 1e-6 of that scale is far above it.
    scale = max([Decimal(1)] + ref["params"] + ref["pair"] + ref["spread"] + ref["disc"])
    if case["mode"] != "alternating":
        scale = max(scale, max(ref["mu"]) ** 2)
    rate = max(ref["pair"] + ref["spread"])
    radius = max(rate, max(ref["disc"]))
    tol = float(scale) * 1e-6 if scale < FMAX / 10**7 else math.inf
    assert abs(float(r.generator_rate) - float(rate)) <= max(tol, 1e-6 * float(rate)), \
        f"generator rate {float(r.generator_rate)!r} vs decimal oracle {float(rate)!r}"
    assert abs(float(r.spectral_radius) - float(radius)) <= max(tol, 1e-6 * float(radius)), \
        "spectral radius vs decimal oracle"


def _rates_argv(case, extra=()):
    argv = ["rates"]
    for key in ("p", "q", "n", "eta_d", "eta_g", "lam", "sigma", "mode", "beta", "d_steps"):
        if key in case:
            argv += [f"--{key.replace('_', '-')}", repr(case[key]) if isinstance(case[key], float)
                     else str(case[key])]
    return argv + list(extra)


def _run_cli(argv):
    out, err = io.StringIO(), io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        warnings.simplefilter("error")
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


#: Boundaries that are nan (JSON null) by definition, with the condition under which they are.
_UNDEFINED = {"oscillation_band_c": lambda r: r["a"] > 1, "best_sigma_window": lambda r: r["a"] > 1,
              "best_lam_for_c": lambda r: r["c"] >= 1, "best_rate_for_c": lambda r: r["c"] >= 1}


@pytest.mark.slow  # ~120 cases through the whole CLI, twice each
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(isolated_cases())
def test_rates_cli_at_extremes_answers_or_refuses_in_one_line(case):
    from kernelgda.cli.rates import compute

    code, out, err = _run_cli(_rates_argv(case, ["--json"]))
    if code == 2:
        assert out == "" and _one_line(err.strip()) and err.startswith("kernelgda: error: "), err
        return
    assert code == 0 and err == "", err
    json.loads(out)  # strict JSON
    res = compute(**{k: v for k, v in case.items()})
    undefined = res["note"] is not None  # lam = 0 with a mismatch: no fixed point
    for key in ("kappa", "generator_rate", "spectral_radius"):
        assert undefined or not math.isnan(res[key]), f"{key} is nan beside finite values"
    assert undefined or not any(math.isnan(abs(z)) for z in res["rho_a"] + res["rho_c"] + [res["dominant"]])
    for key, value in res["boundaries"].items():
        if key in ("assumes", "applies"):
            continue
        vals = value if isinstance(value, list) else [value]
        if any(math.isnan(v) for v in vals):
            ok = _UNDEFINED.get(key, lambda r: False)(res) or (key == "divergence_threshold_c" and undefined)
            assert ok, f"boundary {key} is nan without a reason ({res['a']=}, {res['c']=})"
    code, out, err = _run_cli(_rates_argv(case))
    assert code == 0 and err == "" and not re.search(r"\bnan\b", out), "the table prints no nan"


# -- the reported cases ------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", RULES)
def test_rates_eta_d_lam_above_one_prints_no_warning(mode):
    """eta_d lam = 1.5 > 1 used to print numpy RuntimeWarnings from the boundaries."""
    code, out, err = _run_cli(["rates", "--eta-d", "3", "--eta-g", "0.1", "--lam", "0.5", "--sigma", "0.3",
                               "--mode", mode])
    assert code == 0 and err == ""
    assert "none (a > 1" in out, "the oscillation band does not exist for a > 1 and says so"


def test_rates_huge_sigma_is_answered():
    """sigma = 1e308: c = 1e-618 underflows to 0 exactly as it should; the pair is {1, 1 - a}
    (closed form, theory section 5, with c = kappa = 0)."""
    code, out, err = _run_cli(["rates", "--eta-d", "0.1", "--eta-g", "0.1", "--lam", "0.5", "--sigma",
                               "1e308", "--json"])
    assert code == 0 and err == ""
    res = json.loads(out)
    pair = sorted(complex(*z).real for z in res["rho_c"])
    np.testing.assert_allclose(pair, [0.95, 1.0], rtol=1e-15, err_msg="c = 0: pair {1 - a, 1}")


def test_rates_tiny_sigma_is_refused_in_one_line():
    code, out, err = _run_cli(["rates", "--eta-d", "0.1", "--eta-g", "0.1", "--lam", "0.5", "--sigma",
                               "1e-200"])
    assert code == 2 and out == "" and _one_line(err.strip()) and "float64 range" in err


def test_huge_p_with_finite_kappa_is_answered():
    """p = 1e308, eta_g = 0.01: kappa = 2.2e307 fits; tr^2 would overflow, the scaled roots do not.
    Oracle: the roots of z^2 - tr z + det by hand (their product is det, the small one ~ (1 - a))."""
    r = kg.isolated.eigenvalues(p=1e308, q=1.0, n=1, eta_d=0.1, eta_g=0.01, lam=0.5, sigma=0.3)
    kappa = 0.01 * 1e308 / (0.5 * 0.09)  # delta = p - q rounds to p
    a, c = 0.05, 0.1 * 0.01 / 0.09
    tr = 2 - a - kappa - c
    big = tr  # the large root ~ tr (|tr| >> 1); small = det / big
    small = (1 - a) * (1 - kappa) / big
    np.testing.assert_allclose(sorted(r.rho_c.real), sorted([big, small]), rtol=1e-12)
    assert r.regime == "divergent"


def test_small_a_geometric_sum_keeps_its_digits():
    """d_steps = 10, a = 1e-17: s_k = sum_{i<k} (1 - a)^i = 10 to rounding (the naive (1 - (1-a)^k) / a
    gives 0). Oracle: tr = (1-a)^k + 1 - kappa - c s_k with s_k = k, delta = 0."""
    r = kg.isolated.eigenvalues(p=1.0, q=1.0, n=1, eta_d=1e-17, eta_g=0.1, lam=1.0, sigma=1.0, d_steps=10)
    c = 1e-17 * 0.1
    tr, det = 2 - 10 * c, 1.0
    # roots of z^2 - tr z + 1: a complex pair on the unit circle with real part tr / 2
    np.testing.assert_allclose(r.rho_c.real, [tr / 2, tr / 2], rtol=0, atol=1e-16)
    np.testing.assert_allclose(np.abs(r.rho_c.imag), math.sqrt(det - tr * tr / 4), rtol=1e-6)


@pytest.mark.parametrize("mode", RULES)
def test_rho_a_is_the_signed_discriminator_eigenvalue(mode):
    """One convention: rho_a is the step eigenvalue of mu = -a, signed (theory section 8 maps):
    a = 1.5 gives 1 - a = -0.5 for alternating and simultaneous, 1 - a + a^2 = 1.75 for extragradient,
    the roots of z^2 - (1 - 2a) z - a for optimistic, of z^2 - (1 - a + beta) z + beta for momentum."""
    kw = {"beta": 0.2} if mode == "momentum" else {}
    r = kg.isolated.eigenvalues(eta_d=3.0, eta_g=0.1, lam=0.5, sigma=0.3, mode=mode, **kw)
    a = 1.5
    want = {"alternating": [1 - a], "simultaneous": [1 - a], "extragradient": [1 - a + a * a],
            "optimistic": np.roots([1, -(1 - 2 * a), -a]),
            "momentum": np.roots([1, -(1 - a + 0.2), 0.2])}[mode]
    got = np.atleast_1d(r.rho_a)
    assert oracles.match_eigenvalues(got, want) < 1e-12, f"{mode}: rho_a {got} vs {want}"
    np.testing.assert_allclose(r.spectral_radius, max(np.abs(want).max(), r.generator_rate), rtol=1e-12)
    if mode in ("alternating", "simultaneous"):
        assert float(r.rho_a) < 0, "a > 1: the discriminator flips, and the sign says so"


def test_huge_integer_n_is_a_value_error():
    with pytest.raises(ValueError, match="n must be finite"):
        kg.isolated.eigenvalues(n=10**400, eta_d=0.1, eta_g=0.1, lam=0.5, sigma=0.3)
