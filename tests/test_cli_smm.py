"""``kernelgda smm``: the second-moment model of a scenario, against the per-point oracle."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import kernelgda as kg
from kernelgda.cli import main
from kernelgda.scenario import load_scenario
from tests import oracles

pytestmark = pytest.mark.usefixtures("strict_float")

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


def _run(capsys, argv):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_json_matches_points_propagated_one_by_one(capsys):
    code, out, err = _run(capsys, ["smm", str(SCENARIOS / "cloud.toml"), "--steps", "100", "--json"])
    assert code == 0 and err == ""
    res = json.loads(out, parse_constant=lambda name: pytest.fail(f"not strict JSON: {name}"))
    sc = load_scenario(SCENARIOS / "cloud.toml")
    g, g2 = oracles.smm_coefficients(sc.gan.kernel)
    x = sc.gan.x_true[0]
    q = float(sc.q[0])
    c0 = g * (1.0 - sc.q.sum()) / sc.gan.lam
    mean, cov, _, _ = oracles.smm_points(g, g2, 1.0, q, sc.gan.lam, sc.gda.eta_d, sc.gda.eta_g,
                                         sc.gda.mode, sc.y0 - x, 100, c0)
    rows = {r["step"]: r for r in res["checkpoints"]}
    assert sorted(rows) == [0, 1, 10, 100]
    for k, row in rows.items():
        np.testing.assert_allclose(row["smm_spread"], np.trace(cov[k]), rtol=1e-9,
                                   err_msg="per-point quadratic model")
        np.testing.assert_allclose(row["smm_offset"], np.linalg.norm(mean[k]), rtol=1e-9)
    # Matched mass: the linear spread never moves (rho_b = 1, theory section 5).
    assert all(r["linear_spread"] == pytest.approx(rows[0]["linear_spread"], rel=1e-12)
               for r in rows.values())
    want = kg.smm.half_life(sc.gan.kernel, p=1.0, q=q, n=12, d=2, lam=sc.gan.lam, eta_g=sc.gda.eta_g,
                            spread0=rows[0]["smm_spread"])
    np.testing.assert_allclose(res["closed_forms"]["half_life"], want, rtol=1e-12)
    assert res["closed_forms"]["stationary_spread"] is None      # NaN -> null: no excess mass


def test_report_names_the_closed_forms(capsys):
    code, out, _ = _run(capsys, ["smm", str(SCENARIOS / "cloud.toml"), "--steps", "20"])
    assert code == 0
    assert "1/k half-life" in out and "stationary spread" in out and "SMM tr S" in out


def test_more_than_one_true_point_is_a_one_line_error(capsys):
    code, out, err = _run(capsys, ["smm", str(SCENARIOS / "overlap.toml")])
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "one true point" in err
