"""The README's quick start runs as written and says what it claims."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _block(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split(f"## {title}", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_quick_start_runs_and_agrees(capsys):
    ns: dict = {}
    exec(compile(_block("Quick start"), "README quick start", "exec"), ns)  # noqa: S102
    out = capsys.readouterr().out
    assert "oscillatory" in out
    # Linearization vs closed form (section 5) and vs the measured rate (section 4, 1e-3).
    np.testing.assert_allclose(ns["lin"].generator_rate, ns["r"].generator_rate, atol=1e-10)
    np.testing.assert_allclose(ns["traj"].rate(ns["eq"].y), ns["lin"].generator_rate, atol=1e-3)


def test_moment_models_example_runs_and_agrees(capsys):
    # "Beyond the linear regime": exact, linear, SMM and closure spreads on one 12-point cloud.
    ns: dict = {}
    exec(compile(_block("Beyond the linear regime"), "README moment models", "exec"), ns)  # noqa: S102
    printed = capsys.readouterr().out.split("\n")[:3]
    block = _block("Beyond the linear regime")
    comments = [line.split("#")[1].strip().split("]")[0] + "]" for line in block.splitlines()
                if line.startswith("# [")]
    assert [p.strip() for p in printed] == comments, "the printed ratios are the ones in the README"
    # Independent oracle for the exact spread: numpy's variance of the simulated points.
    exact = ns["exact"].y.var(axis=1).sum(axis=1)
    np.testing.assert_allclose(ns["spread"], exact, rtol=1e-12, err_msg="numpy var")
    k = [1000, 3000]
    assert np.all(np.abs(ns["closure"].spread[k, 0] / exact[k] - 1) < 1e-3)
    assert np.all(np.abs(ns["smm"].spread[k] / exact[k] - 1) < 0.03)
    assert np.all(ns["smm"].linear_spread[k] / exact[k] > 40)


def test_parametric_generators_example_runs_and_says_what_it_prints(capsys):
    ns: dict = {}
    exec(compile(_block("Parametric generators"), "README generators", "exec"), ns)  # noqa: S102
    out = capsys.readouterr().out.split("\n")
    assert out[0] == "perfect-gradient"
    assert out[1] == "0.948683 10"
    assert out[2] == "(501, 13)"
    # theory section 5/12: inside the complex band every pair has modulus sqrt(1 - eta_d lam)
    np.testing.assert_allclose(ns["lin"].generator_rate, np.sqrt(1 - 0.1 * 1.0), atol=1e-9)


def test_network_discriminator_example_runs_and_agrees(capsys):
    # "Network discriminators": the network's measured rate against linearize with its Theta_h.
    ns: dict = {}
    block = _block("Network discriminators")
    exec(compile(block, "README network example", "exec"), ns)  # noqa: S102
    printed = capsys.readouterr().out.split("\n")[:3]
    # each print's comment starts with what it prints (up to a ':' or '=')
    expected = [line.split("# ", 1)[1].split(":")[0].split("=")[0].split()
                for line in block.splitlines() if line.startswith("print(")]
    assert [p.split() for p in printed] == expected, "printed as in the README"
    lin = ns["kg"].linearize(ns["gan"], ns["eq"], ns["gda"]).generator_rate
    np.testing.assert_allclose(ns["measured"], lin, rtol=0, atol=1e-6,
                               err_msg="network rate vs linearize with its tangent kernel")


@pytest.mark.slow
def test_mode_collapse_catalogue_example_prints_what_the_readme_says(capsys):
    # "Mode collapse": kg.fixed_points on issue 19's case and the basins of 41 start pairs.
    block = _block("Mode collapse")
    ns: dict = {}
    exec(compile(block, "README catalogue", "exec"), ns)  # noqa: S102
    printed = [line.rstrip() for line in capsys.readouterr().out.splitlines()]
    lines = block.splitlines()
    expected = [lines[[i for i, line in enumerate(lines) if line.startswith("print(cat.message)")][0]]
                .split("#", 1)[1].strip()]
    expected += [line[2:].rstrip() for line in lines if line.startswith("# ")]
    assert printed == expected, "the printed catalogue and basin counts are the ones in the README"
    # Independent check of the stable straddle: grad f* = 0 by the naive kernel sums.
    from . import oracles

    straddle = ns["cat"][1]
    grad = oracles.fstar_grad(ns["gan"].kernel, ns["gan"].x_true, ns["gan"].p_true, 3.0, straddle.y,
                              np.array([0.5, 0.5]), straddle.y)
    np.testing.assert_allclose(grad, 0.0, atol=1e-12, err_msg="grad f* at the README's straddle")
