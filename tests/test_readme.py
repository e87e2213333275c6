"""The README's quick start and the guide's worked examples run as written and say what they claim."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
GUIDE = ROOT / "docs" / "guide"


def _block(title: str, path: Path = README) -> str:
    text = path.read_text(encoding="utf-8")
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
    # The guide's "Beyond the linear regime" (docs/guide/moments.md): exact, linear, SMM and
    # closure spreads on one 12-point cloud.
    ns: dict = {}
    code = _block("Beyond the linear regime", GUIDE / "moments.md")
    exec(compile(code, "guide moment models", "exec"), ns)  # noqa: S102
    printed = capsys.readouterr().out.split("\n")[:3]
    block = _block("Beyond the linear regime", GUIDE / "moments.md")
    comments = [line.split("#")[1].strip().split("]")[0] + "]" for line in block.splitlines()
                if line.startswith("# [")]
    assert [p.strip() for p in printed] == comments, "the printed ratios are the ones in the guide"
    # Independent oracle for the exact spread: numpy's variance of the simulated points.
    exact = ns["exact"].y.var(axis=1).sum(axis=1)
    np.testing.assert_allclose(ns["spread"], exact, rtol=1e-12, err_msg="numpy var")
    k = [1000, 3000]
    assert np.all(np.abs(ns["closure"].spread[k, 0] / exact[k] - 1) < 1e-3)
    assert np.all(np.abs(ns["smm"].spread[k] / exact[k] - 1) < 0.03)
    assert np.all(ns["smm"].linear_spread[k] / exact[k] > 40)


def test_parametric_generators_example_runs_and_says_what_it_prints(capsys):
    ns: dict = {}
    exec(compile(_block("Parametric generators", GUIDE / "generators.md"), "README generators", "exec"), ns)  # noqa: S102
    out = capsys.readouterr().out.split("\n")
    assert out[0] == "perfect-gradient"
    assert out[1] == "0.948683 10"
    assert out[2] == "(501, 13)"
    # theory section 5/12: inside the complex band every pair has modulus sqrt(1 - eta_d lam)
    np.testing.assert_allclose(ns["lin"].generator_rate, np.sqrt(1 - 0.1 * 1.0), atol=1e-9)


def test_network_discriminator_example_runs_and_agrees(capsys):
    # "Network discriminators": the network's measured rate against linearize with its Theta_h.
    ns: dict = {}
    block = re.search(r"```python\n(.*?)```", (GUIDE / "network.md").read_text("utf-8"), re.S).group(1)
    exec(compile(block, "guide network example", "exec"), ns)  # noqa: S102
    printed = capsys.readouterr().out.split("\n")[:3]
    # each print's comment starts with what it prints (up to a ':' or '=')
    expected = [line.split("# ", 1)[1].split(":")[0].split("=")[0].split()
                for line in block.splitlines() if line.startswith("print(")]
    assert [p.split() for p in printed] == expected, "printed as in the guide"
    lin = ns["kg"].linearize(ns["gan"], ns["eq"], ns["gda"]).generator_rate
    np.testing.assert_allclose(ns["measured"], lin, rtol=0, atol=1e-6,
                               err_msg="network rate vs linearize with its tangent kernel")


@pytest.mark.slow
def test_mode_collapse_catalogue_example_prints_what_the_guide_says(capsys):
    # "Mode collapse": kg.fixed_points on issue 19's case and the basins of 41 start pairs.
    block = _block("Mode collapse", GUIDE / "fixed_points.md")
    ns: dict = {}
    exec(compile(block, "guide catalogue", "exec"), ns)  # noqa: S102
    printed = [line.rstrip() for line in capsys.readouterr().out.splitlines()]
    lines = block.splitlines()
    expected = [lines[[i for i, line in enumerate(lines) if line.startswith("print(cat.message)")][0]]
                .split("#", 1)[1].strip()]
    expected += [line[2:].rstrip() for line in lines if line.startswith("# ")]
    assert printed == expected, "the printed catalogue and basin counts are the ones in the guide"
    # Independent check of the stable straddle: grad f* = 0 by the naive kernel sums.
    from . import oracles

    straddle = ns["cat"][1]
    grad = oracles.fstar_grad(ns["gan"].kernel, ns["gan"].x_true, ns["gan"].p_true, 3.0, straddle.y,
                              np.array([0.5, 0.5]), straddle.y)
    np.testing.assert_allclose(grad, 0.0, atol=1e-12, err_msg="grad f* at the guide's straddle")


#: Guide pages whose code blocks are checked above with their printed numbers.
_CHECKED_ABOVE = {"moments.md", "generators.md", "network.md"}


def _checked_above(page, code) -> bool:
    return page.name in _CHECKED_ABOVE or (page.name == "fixed_points.md" and "cat.basins" in code)


_GUIDE_BLOCKS = [(page, i, code) for page in sorted(GUIDE.glob("*.md"))
                 for i, code in enumerate(re.findall(r"```python\n(.*?)```", page.read_text("utf-8"), re.S))
                 if not _checked_above(page, code)]


@pytest.mark.slow
@pytest.mark.parametrize("page, index, code", _GUIDE_BLOCKS,
                         ids=[f"{p.stem}-{i}" for p, i, _ in _GUIDE_BLOCKS])
def test_guide_code_block_runs_and_prints_what_its_comments_say(page, index, code, capsys):
    exec(compile(code, f"{page.name} block {index}", "exec"), {})  # noqa: S102
    printed = capsys.readouterr().out.splitlines()
    prints = [line for line in code.splitlines() if line.lstrip().startswith("print(")]
    assert len(printed) == len(prints), f"{page.name} block {index}: one line per print"
    for out, line in zip(printed, prints, strict=True):
        if "#" in line:  # a claimed output
            claim = line.split("#", 1)[1].strip()
            assert out.strip() == claim, f"{page.name} block {index}: printed {out!r}, page says {claim!r}"
