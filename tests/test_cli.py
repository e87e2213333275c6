"""The command-line interface: ``kernelgda rates`` and ``kernelgda analyze``."""

from __future__ import annotations

import cmath
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import kernelgda as kg
from kernelgda.cli import main

pytestmark = pytest.mark.usefixtures("strict_float")

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
SHIPPED = ["isolated", "overlap", "ring"]
RATES_ARGS = ["rates", "--p", "1", "--q", "0.8", "--n", "1", "--eta-d", "0.1", "--eta-g", "0.1",
              "--lam", "0.5", "--sigma", "0.3", "--mode", "alternating"]


def _strict_json(text: str):
    """Parse JSON, refusing the NaN / Infinity extensions that strict JSON does not allow."""
    def refuse(name):
        raise AssertionError(f"output is not strict JSON: contains {name}")
    return json.loads(text, parse_constant=refuse)


def _complex(pair) -> complex:
    return complex(pair[0], pair[1])


def _run(capsys, argv):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _assert_one_line_error(code, err, *needles):
    assert code == 2, f"bad input must exit with code 2, got {code}"
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"expected a one-line message, got {err!r}"
    assert lines[0].startswith("kernelgda: error:"), lines[0]
    for needle in needles:
        assert needle in lines[0], f"message should name {needle!r}: {lines[0]!r}"


# -- rates ------------------------------------------------------------------------------------

def test_rates_table(capsys):
    code, out, err = _run(capsys, RATES_ARGS)
    assert code == 0 and err == ""
    r = kg.isolated.eigenvalues(p=1.0, q=0.8, n=1, eta_d=0.1, eta_g=0.1, lam=0.5, sigma=0.3)
    for label in ("rho_a", "rho_c", "generator-visible rate", "spectral radius", "regime",
                  "oscillation band", "divergence threshold", "best-sigma window", "divergence sigma"):
        assert label in out, f"table lacks {label!r}"
    assert f"{float(r.generator_rate):.10g}" in out
    assert r.regime in out


def test_rates_json_equals_isolated_eigenvalues(capsys):
    code, out, _ = _run(capsys, RATES_ARGS + ["--json"])
    assert code == 0
    res = _strict_json(out)
    r = kg.isolated.eigenvalues(p=1.0, q=0.8, n=1, eta_d=0.1, eta_g=0.1, lam=0.5, sigma=0.3,
                                mode="alternating")
    # Same code path, so equality to rounding (the JSON round trip is exact for floats).
    np.testing.assert_allclose([_complex(z) for z in res["rho_a"]], np.atleast_1d(r.rho_a), rtol=1e-15,
                               atol=0)
    np.testing.assert_allclose([_complex(z) for z in res["rho_c"]], r.rho_c, rtol=1e-15, atol=0)
    np.testing.assert_allclose(res["generator_rate"], r.generator_rate, rtol=1e-15, atol=0)
    np.testing.assert_allclose(res["spectral_radius"], r.spectral_radius, rtol=1e-15, atol=0)
    np.testing.assert_allclose(_complex(res["dominant"]), r.dominant, rtol=1e-15, atol=0)
    assert res["regime"] == r.regime
    assert res["rho_b"] == [], "n = 1 has no spread modes"


def test_rates_json_matches_hand_formula_of_section_5(capsys):
    """Independent oracle: the alternating pair written out from theory section 5."""
    code, out, _ = _run(capsys, RATES_ARGS + ["--json"])
    res = _strict_json(out)
    p, q, n, eta_d, eta_g, lam, sigma = 1.0, 0.8, 1, 0.1, 0.1, 0.5, 0.3
    gamma = 1 / sigma**2
    a = eta_d * lam
    kappa = eta_g * q * gamma * (p - n * q) / lam
    c = eta_d * eta_g * gamma * n * q**2
    tr, det = 2 - a - kappa - c, (1 - a) * (1 - kappa)
    roots = [(tr + cmath.sqrt(tr * tr - 4 * det)) / 2, (tr - cmath.sqrt(tr * tr - 4 * det)) / 2]
    # rtol 1e-13: a handful of float operations on O(1) numbers.
    np.testing.assert_allclose(res["c"], c, rtol=1e-13, err_msg="c = eta_d eta_g n q^2 / sigma^2 by hand")
    np.testing.assert_allclose(res["kappa"], kappa, rtol=1e-13, err_msg="kappa by hand (section 5)")
    np.testing.assert_allclose(res["generator_rate"], max(abs(z) for z in roots), rtol=1e-13,
                               err_msg="rate = largest |root| of z^2 - tr z + det (section 5)")
    np.testing.assert_allclose([_complex(z) for z in res["rho_a"]], [1 - a], rtol=1e-13,
                               err_msg="rho_a = 1 - eta_d lam")
    b = res["boundaries"]
    s = math.sqrt(1 - a)
    np.testing.assert_allclose(b["oscillation_band_c"], [(1 - s) ** 2, (1 + s) ** 2], rtol=1e-13,
                               err_msg="oscillation band (1 -+ sqrt(1 - a))^2 (section 5)")
    np.testing.assert_allclose(b["divergence_threshold_c"], (2 - a) * (2 - kappa), rtol=1e-13,
                               err_msg="divergence through -1: c > (2 - a)(2 - kappa) (section 5)")
    np.testing.assert_allclose(b["divergence_sigma"], q * math.sqrt(n * eta_d * eta_g / (2 * (2 - a))),
                               rtol=1e-13, err_msg="divergence sigma (section 5)")
    base = q * math.sqrt(n * eta_d * eta_g)
    np.testing.assert_allclose(b["best_sigma_window"], [base / (1 + s), base / (1 - s)],
                               rtol=1e-13, err_msg="best-sigma window (section 5)")
    assert b["applies"] is False, "delta = 0.2 != 0: the delta = 0 boundaries are for reference only"


def test_rates_oscillatory_band_rate_is_sqrt_one_minus_a(capsys):
    """Theory section 5 table: delta = 0 and c in the band -> rate sqrt(1 - eta_d lam), whatever sigma."""
    code, out, _ = _run(capsys, ["rates", "--p", "1", "--q", "1", "--eta-d", "0.1", "--eta-g", "0.1",
                                 "--lam", "0.5", "--sigma", "0.1", "--json"])
    res = _strict_json(out)
    np.testing.assert_allclose(res["c"], 1.0, rtol=1e-13, err_msg="c = 0.01 / 0.01")
    np.testing.assert_allclose(res["generator_rate"], math.sqrt(1 - 0.05), rtol=1e-13,
                               err_msg="oscillatory rate sqrt(1 - eta_d lam), theory section 5")
    assert res["regime"] == "oscillatory" and res["boundaries"]["applies"] is True


def test_rates_json_is_strict_with_nan(capsys):
    # lam = 0 with a mass mismatch has no fixed point: the closed forms are NaN -> null.
    code, out, _ = _run(capsys, ["rates", "--q", "0.5", "--eta-d", "0.1", "--eta-g", "0.1", "--lam", "0",
                                 "--sigma", "1", "--json"])
    assert code == 0
    res = _strict_json(out)
    assert res["kappa"] is None and res["generator_rate"] is None
    assert res["boundaries"]["divergence_threshold_c"] is None


def test_rates_spread_modes_and_other_rules(capsys):
    code, out, _ = _run(capsys, ["rates", "--q", "0.4", "--n", "2", "--eta-d", "0.1", "--eta-g", "0.1",
                                 "--lam", "0.5", "--sigma", "0.3", "--json"])
    res = _strict_json(out)
    kappa = 0.1 * 0.4 * (1 - 0.8) / (0.5 * 0.09)
    np.testing.assert_allclose(_complex(res["rho_b"][0]), 1 - kappa, rtol=1e-13,
                               err_msg="spread modes 1 - kappa (section 5)")
    code, out, _ = _run(capsys, ["rates", "--eta-d", "0.1", "--eta-g", "0.1", "--lam", "0.5", "--sigma",
                                 "0.3", "--mode", "momentum", "--beta", "-0.2", "--json"])
    assert code == 0
    r = kg.isolated.eigenvalues(eta_d=0.1, eta_g=0.1, lam=0.5, sigma=0.3, mode="momentum", beta=-0.2)
    np.testing.assert_allclose(_strict_json(out)["generator_rate"], r.generator_rate, rtol=1e-15)


@pytest.mark.parametrize(("argv", "needles"), [
    (["--sigma", "-0.3"], ["--sigma", "> 0"]),
    (["--sigma", "0"], ["--sigma"]),
    (["--sigma", "nan"], ["--sigma", "finite"]),
    (["--sigma", "abc"], ["--sigma", "number"]),
    (["--lam", "-1"], ["--lam", ">= 0"]),
    (["--eta-d", "0"], ["--eta-d"]),
    (["--n", "0"], ["--n"]),
    (["--n", "1.5"], ["--n", "integer"]),
    (["--mode", "sideways"], ["--mode", "sideways"]),
    (["--beta", "0.3"], ["beta"]),
    (["--mode", "momentum", "--beta", "1.5"], ["beta"]),
])
def test_rates_bad_input(capsys, argv, needles):
    base = {"--eta-d": "0.1", "--eta-g": "0.1", "--lam": "0.5", "--sigma": "0.3"}
    args = ["rates"]
    for key, value in base.items():
        if key not in argv:
            args += [key, value]
    code, out, err = _run(capsys, args + argv)
    _assert_one_line_error(code, err, *needles)
    assert out == ""


def test_rates_missing_required_option(capsys):
    code, _, err = _run(capsys, ["rates", "--eta-d", "0.1", "--eta-g", "0.1", "--lam", "0.5"])
    _assert_one_line_error(code, err, "--sigma")


def test_no_command_and_unknown_command(capsys):
    code, out, err = _run(capsys, [])
    _assert_one_line_error(code, err, "COMMAND", "rates", "analyze")
    assert out == ""
    code, _, err = _run(capsys, ["frobnicate"])
    _assert_one_line_error(code, err, "frobnicate")


# -- analyze -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", SHIPPED)
def test_analyze_report(capsys, name):
    code, out, err = _run(capsys, ["analyze", str(SCENARIOS / f"{name}.toml")])
    assert code == 0, err
    for label in ("fixed point: converged", "spectrum of J", "visible", "generator-visible rate",
                  "spectral radius", "regime"):
        assert label in out, f"report lacks {label!r}"


@pytest.mark.parametrize("name", SHIPPED)
def test_analyze_json_and_check(capsys, name):
    code, out, err = _run(capsys, ["analyze", str(SCENARIOS / f"{name}.toml"), "--json", "--check"])
    assert code == 0, err
    res = _strict_json(out)
    lin = res["linearization"]
    mods = [row["modulus"] for row in lin["spectrum"]]
    assert mods == sorted(mods, reverse=True), "spectrum sorted by modulus"
    assert lin["generator_rate"] == pytest.approx(
        max(row["modulus"] for row in lin["spectrum"] if row["visible"]), rel=1e-12)
    chk = res["check"]
    assert chk["status"] == "completed"
    # Oracle: the exact nonlinear simulation. The run stays linear: ~1.4e-6 achieved, 1e-5 demanded.
    np.testing.assert_allclose(chk["measured_rate"], chk["predicted_rate"], rtol=0, atol=1e-5,
                               err_msg="measured rate of the exact simulation vs generator-visible rate")
    assert chk["measured_regime"] == chk["predicted_regime"]


def test_analyze_check_table(capsys):
    code, out, _ = _run(capsys, ["analyze", str(SCENARIOS / "isolated.toml"), "--check", "--steps", "150",
                                 "--seed", "3"])
    assert code == 0
    assert "predicted" in out and "measured" in out and "150 steps" in out and "seed 3" in out


def test_analyze_isolated_matches_closed_form(capsys):
    """Oracle independent of linearize: the isolated closed forms (theory section 5) for the same
    parameters as scenarios/isolated.toml (p = 1, q = 0.8, n = 1, eta = 0.1, lam = 0.5, sigma = 0.3)."""
    code, out, _ = _run(capsys, ["analyze", str(SCENARIOS / "isolated.toml"), "--json"])
    res = _strict_json(out)
    r = kg.isolated.eigenvalues(p=1.0, q=0.8, n=1, eta_d=0.1, eta_g=0.1, lam=0.5, sigma=0.3)
    # 1e-12: both are eigenvalues of a 2 x 2 system computed in float64.
    np.testing.assert_allclose(res["linearization"]["generator_rate"], r.generator_rate, rtol=1e-12,
                               err_msg="closed form, theory section 5")
    np.testing.assert_allclose(res["fixed_point"]["y"], [[0.0]], rtol=0, atol=1e-12)
    assert res["linearization"]["regime"] == r.regime


def test_analyze_missing_file(capsys, tmp_path):
    code, _, err = _run(capsys, ["analyze", str(tmp_path / "nope.toml")])
    _assert_one_line_error(code, err, "nope.toml")


def test_analyze_malformed_toml(capsys, tmp_path):
    f = tmp_path / "bad.toml"
    f.write_text("[true\npoints = [[0.0]]\n")
    code, _, err = _run(capsys, ["analyze", str(f)])
    _assert_one_line_error(code, err, "bad.toml", "not valid TOML")


def test_analyze_bad_key(capsys, tmp_path):
    text = (SCENARIOS / "isolated.toml").read_text().replace("sigma = 0.3", "sigma = -0.3")
    f = tmp_path / "neg.toml"
    f.write_text(text)
    code, _, err = _run(capsys, ["analyze", str(f)])
    _assert_one_line_error(code, err, "neg.toml", "kernel.sigma")
    f.write_text(text.replace('mode = "alternating"', 'mode = "sideways"'))
    code, _, err = _run(capsys, ["analyze", str(f)])
    _assert_one_line_error(code, err, "kernel.sigma")  # the first problem is reported


def test_analyze_unknown_mode(capsys, tmp_path):
    f = tmp_path / "mode.toml"
    text = (SCENARIOS / "isolated.toml").read_text()
    f.write_text(text.replace('mode = "alternating"', 'mode = "sideways"'))
    code, _, err = _run(capsys, ["analyze", str(f)])
    _assert_one_line_error(code, err, "gda.mode", "sideways")


def test_analyze_laplacian_refused(capsys, tmp_path):
    f = tmp_path / "lap.toml"
    f.write_text((SCENARIOS / "isolated.toml").read_text().replace('kind = "gaussian"', 'kind = "laplacian"'))
    code, _, err = _run(capsys, ["analyze", str(f)])
    _assert_one_line_error(code, err, "Laplacian")


def test_analyze_bad_options(capsys):
    path = str(SCENARIOS / "isolated.toml")
    code, _, err = _run(capsys, ["analyze", path, "--steps", "0"])
    _assert_one_line_error(code, err, "--steps")
    code, _, err = _run(capsys, ["analyze", path, "--seed", "-1"])
    _assert_one_line_error(code, err, "--seed")


def test_analyze_newton_failure_exits_1(capsys, monkeypatch):
    real = kg.find_equilibrium

    def failing(gan, y0, q, **kw):
        eq = real(gan, y0, q, **kw)
        return type(eq)(y=eq.y, q=eq.q, residual=1.0, iterations=100, converged=False,
                        message="Newton did not converge (test)")

    monkeypatch.setattr(kg, "find_equilibrium", failing)
    code, out, err = _run(capsys, ["analyze", str(SCENARIOS / "isolated.toml")])
    assert code == 1
    assert "Newton did not converge (test)" in err and len(err.strip().splitlines()) == 1
    assert "spectrum" not in out


# -- the installed entry points --------------------------------------------------------------------

@pytest.mark.slow  # ~1.3 s: two subprocesses that import the package
def test_python_dash_m_and_console_script():
    proc = subprocess.run([sys.executable, "-m", "kernelgda"] + RATES_ARGS + ["--json"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    r = kg.isolated.eigenvalues(p=1.0, q=0.8, n=1, eta_d=0.1, eta_g=0.1, lam=0.5, sigma=0.3)
    np.testing.assert_allclose(_strict_json(proc.stdout)["generator_rate"], r.generator_rate, rtol=1e-15)
    proc = subprocess.run([sys.executable, "-m", "kernelgda", "rates", "--sigma", "-1", "--eta-d", "1",
                           "--eta-g", "1", "--lam", "1"], capture_output=True, text=True, timeout=60,
                          check=False)
    assert proc.returncode == 2 and "--sigma" in proc.stderr and proc.stdout == ""
    script = Path(sys.executable).with_name("kernelgda")
    if not script.exists():
        pytest.skip(f"console script not installed next to {sys.executable}")
    proc = subprocess.run([str(script)] + RATES_ARGS, capture_output=True, text=True, timeout=60,
                          check=False)
    assert proc.returncode == 0 and "generator-visible rate" in proc.stdout, proc.stderr


@pytest.mark.parametrize(("mode", "extra"), [("simultaneous", ""), ("extragradient", ""), ("optimistic", ""),
                                             ("momentum", "beta = -0.2\n"), ("alternating", "d_steps = 2\n")])
def test_analyze_check_every_rule(capsys, tmp_path, mode, extra):
    text = (SCENARIOS / "overlap.toml").read_text()
    text = text.replace('mode = "alternating"', f'mode = "{mode}"\n{extra}')
    f = tmp_path / f"{mode}.toml"
    f.write_text(text)
    code, out, err = _run(capsys, ["analyze", str(f), "--check", "--json"])
    assert code == 0, err
    chk = _strict_json(out)["check"]
    # Oracle: the exact simulation under the same rule (theory section 8); linear run: 1e-5.
    np.testing.assert_allclose(chk["measured_rate"], chk["predicted_rate"], rtol=0, atol=1e-5,
                               err_msg=f"measured vs predicted rate, mode {mode}")


def test_a_cluster_failure_is_one_line_and_exit_1(monkeypatch, capsys):
    """A block lost with its workers (distributed's KilledWorker) is not bad input: exit 1, one line."""
    from kernelgda.cli import phase as cli_phase
    from kernelgda.phase.run import ClusterError

    def lost(args):
        raise ClusterError("a block was lost with every worker that ran it")

    monkeypatch.setattr(cli_phase, "run", lost)
    code = main(["phase", "--axis", "sigma=0.1:1:3", "--set", "lam=0.5", "--set", "eta_d=0.1",
                 "--set", "eta_g=0.1", "--out", "unused"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and err[0].startswith("kernelgda: cluster error: "), err
