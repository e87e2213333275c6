"""``kernelgda analyze --all``: the fixed-point catalogue of a scenario (issue 19)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from kernelgda.cli import main

from . import oracles

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
COLLAPSE = str(SCENARIOS / "collapse.toml")


def _run(capsys, argv):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_error(code, err, *needles):
    assert code == 2, code
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kernelgda: error:"), err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def test_analyze_all_table_lists_stable_entries_first(capsys):
    code, out, err = _run(capsys, ["analyze", "--all", COLLAPSE, "--starts", "4"])
    assert code == 0 and err == "", err
    assert "9 fixed points (3 stable) from 26 starts; 4 gave none (1 not_converged, 3 " in out
    assert "given 1, structured 21, random 4 (random ones drawn with seed 0)" in out
    rows = [line.split() for line in out.splitlines() if line[:5].strip().isdigit()]
    stable = [r[r.index("yes") if "yes" in r else r.index("no")] for r in rows]
    assert stable == ["yes"] * 3 + ["no"] * 6, stable
    text = "\n".join(out.splitlines())
    assert "collapse on 1 (2 points, spread)" in text and "collapse on 1 (2 points, coincident)" in text


def test_analyze_all_json_entries_are_fixed_points(capsys):
    code, out, _ = _run(capsys, ["analyze", "--all", "--json", COLLAPSE, "--starts", "0"])
    assert code == 0
    res = json.loads(out, parse_constant=lambda name: pytest.fail(f"not strict JSON: {name}"))
    cat = res["catalogue"]
    assert cat["num_starts"] == 22 and cat["num_stable"] == 3
    assert cat["failures"] == {"not_converged": 1, "vanishing_gradient": 3}
    import kernelgda as kg

    kernel = kg.Gaussian(sigma=0.3)
    x, p, lam = np.array([[-1.0], [1.0]]), np.array([0.3, 0.7]), 3.0
    for row in res["fixed_points"]:
        y, q = np.array(row["y"]), np.array(row["q"])
        grad = oracles.fstar_grad(kernel, x, p, lam, y, q, y)
        np.testing.assert_allclose(grad, 0.0, atol=1e-12, err_msg=f"grad f* = 0 ({row['label']})")
    first = res["fixed_points"][0]
    assert first["stable"] is True and first["spectral_radius"] < 1
    spread = [r for r in res["fixed_points"] if r["label"] == "collapse on 1 (2 points, spread)"][0]
    assert spread["shared"] == [{"true_point": 1, "generated_points": [0, 1]}] and spread["empty"] == [0]


def test_analyze_all_refuses_check_and_starts_without_all(capsys):
    code, _, err = _run(capsys, ["analyze", "--all", "--check", COLLAPSE])
    _one_line_error(code, err, "--check", "--all")
    code, _, err = _run(capsys, ["analyze", "--starts", "3", COLLAPSE])
    _one_line_error(code, err, "--starts", "--all")
    code, _, err = _run(capsys, ["analyze", "--all", "--starts", "-1", COLLAPSE])
    _one_line_error(code, err, "--starts")


def test_analyze_all_exits_1_when_no_start_gives_a_fixed_point(capsys, tmp_path):
    # lam = 0 needs a perfect match (theory section 3); weights 0.5, 0.5 cannot match 0.3, 0.7.
    f = tmp_path / "nomatch.toml"
    f.write_text(Path(COLLAPSE).read_text().replace("lam = 3.0", "lam = 0.0"))
    code, out, err = _run(capsys, ["analyze", "--all", str(f), "--starts", "2"])
    assert code == 1, (out, err)
    assert "no fixed point found from 24 starts" in err and "no_fstar" in err
    assert "0 fixed points" in out
