"""``kernelgda phase``: files written, bad input, interrupted and resumed simulated sweeps."""

from __future__ import annotations

import json

import numpy as np
import pytest

import kernelgda as kg
from kernelgda.cli import main
from kernelgda.cli.phase import parse_axis, parse_setting
from kernelgda.phase import STORE_NAME
from kernelgda.phase import diagram as phase_diagram_module

xr = pytest.importorskip("xarray")

THEORY = ["phase", "--axis", "sigma=0.01:1:12:log", "--axis", "lam=0.01:10:10:log",
          "--set", "eta_d=0.01", "--set", "eta_g=0.01", "--set", "q=0.8"]
SIMULATE = ["phase", "--axis", "sigma=0.3,0.6,1.0", "--axis", "lam=0,0.5,2", "--set", "eta_d=0.2",
            "--set", "eta_g=0.2", "--method", "simulate", "--steps", "150", "--chunk-size", "2"]

# Two evaluations of the same closed form (theory section 5) whose array layouts differ: a few
# roundings in a handful of flops (a square root, a modulus, d_steps powers up to 4), ~10 eps;
# 1e-12 leaves a wide margin and is still far below any difference a wrong grid would make
# (atol 1e-15: rates are moduli of O(1) numbers, so their rounding is absolute near 0).
RATE_RTOL = 1e-12


def _load(path):
    with xr.open_dataset(path, engine="scipy") as ds:
        return ds.load()


@pytest.mark.slow  # ~1-1.3 s: draws and saves the figure
def test_theory_writes_dataset_figure_and_summary(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(THEORY + ["--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["phase.nc", "phase.png", "summary.json"]
    ds = _load(out / "phase.nc")
    ref = kg.isolated.eigenvalues(q=0.8, eta_d=0.01, eta_g=0.01, lam=ds.lam.values[None, :],
                                  sigma=ds.sigma.values[:, None])
    # The CLI evaluates the closed form over its own grid layout; the reference broadcasts
    # other shapes, so vectorized (SIMD) and scalar loops may round the last bit differently.
    # netCDF stores float64 exactly, so RATE_RTOL only has to cover that rounding.
    np.testing.assert_allclose(ds.generator_rate.values, ref.generator_rate, rtol=RATE_RTOL, atol=1e-15,
                               err_msg="phase.nc vs kg.isolated.eigenvalues")
    np.testing.assert_allclose(ds.sigma.values, np.geomspace(0.01, 1, 12), rtol=1e-15)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["cells"] == 120 and sum(summary["regimes"].values()) == 120
    assert summary["fixed"]["q"] == 0.8 and summary["plot"] == "phase.png"
    assert "delta = 0.2" in summary["boundaries"]
    assert "theory phase diagram, 120 cells" in capsys.readouterr().out


def test_momentum_theory_and_optimistic_simulation(tmp_path, capsys):
    out = tmp_path / "momentum"
    argv = ["phase", "--axis", "sigma=0.05:1:8:log", "--axis", "lam=0.01:10:6:log", "--set", "eta_d=0.1",
            "--set", "eta_g=0.1", "--set", "mode=momentum", "--set", "beta=-0.3", "--out", str(out)]
    assert main(argv) == 0
    ds = _load(out / "phase.nc")
    ref = kg.isolated.eigenvalues(eta_d=0.1, eta_g=0.1, lam=ds.lam.values[None, :],
                                  sigma=ds.sigma.values[:, None], mode="momentum", beta=-0.3)
    np.testing.assert_allclose(ds.generator_rate.values, ref.generator_rate, rtol=RATE_RTOL, atol=1e-15,
                               err_msg="phase.nc vs kg.isolated.eigenvalues (momentum, beta = -0.3)")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["fixed"]["mode"] == "momentum" and summary["fixed"]["beta"] == -0.3
    assert summary["boundaries"].startswith("not drawn") and "alternating" in summary["boundaries"]
    assert summary["plot"] == "phase.png"

    out = tmp_path / "optimistic"
    argv = ["phase", "--axis", "sigma=0.3,0.6,1.2", "--axis", "lam=0.3,2", "--set", "eta_d=0.2",
            "--set", "eta_g=0.2", "--set", "mode=optimistic", "--method", "simulate", "--steps", "300",
            "--out", str(out)]
    assert main(argv) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["agreement"]["agree_away"] == 1.0 and summary["status"]["completed"] == 6
    # theory section 7: measured rates equal the closed form (1e-5 demanded; the runs stay linear)
    assert summary["agreement"]["rate_error_max"] < 1e-5
    capsys.readouterr()


def test_d_steps_axis(tmp_path):
    out = tmp_path / "steps"
    argv = ["phase", "--axis", "sigma=0.1:1:5:log", "--axis", "d_steps=1,2,4", "--set", "lam=0.5",
            "--set", "eta_d=0.1", "--set", "eta_g=0.1", "--out", str(out)]
    assert main(argv) == 0
    ds = _load(out / "phase.nc")
    assert ds.d_steps.values.tolist() == [1, 2, 4]
    for j, steps in enumerate([1, 2, 4]):
        ref = kg.isolated.eigenvalues(eta_d=0.1, eta_g=0.1, lam=0.5, sigma=ds.sigma.values, d_steps=steps)
        np.testing.assert_allclose(ds.generator_rate.values[:, j], ref.generator_rate, rtol=RATE_RTOL,
                                   atol=1e-15,
                                   err_msg=f"d_steps = {steps}: phase.nc vs kg.isolated.eigenvalues")


def test_three_axes_write_data_and_skip_the_plot(tmp_path, capsys):
    out = tmp_path / "three"
    argv = THEORY + ["--axis", "n=1,2", "--out", str(out)]
    assert main(argv) == 0
    assert sorted(p.name for p in out.iterdir()) == ["phase.nc", "summary.json"]
    assert _load(out / "phase.nc").generator_rate.shape == (12, 10, 2)
    assert "plot skipped" in capsys.readouterr().err
    assert json.loads((out / "summary.json").read_text())["plot"].startswith("plot skipped")


@pytest.mark.parametrize("extra, match", [
    (["--axis", "sgma=0.1:1:3"], "valid names: p, q, n, eta_d"),
    (["--axis", "n=0:1:3:log"], "log axis needs START > 0"),
    (["--axis", "n=1:2:0"], "NUM must be a whole number >= 1"),
    (["--axis", "n="], "expected NAME"),
    (["--axis", "n=1,nan"], "finite"),
    (["--axis", "p=1:2:3:cubic"], "spacing"),
    (["--axis", "p=0:1:2", "--axis", "n=1,2"], "1, 2 or 3"),
    (["--set", "eta_d=fast"], "not a number"),
    (["--method", "linearize"], "needs a scenario"),
    (["--axis", "lam=1,2"], "twice"),
    (["--set", "mode=optimistic", "--set", "beta=0.3"], "beta applies to mode='momentum' only"),
    (["--set", "mode=momentum", "--set", "beta=1.5"], "beta"),
    (["--set", "d_steps=0"], "d_steps"),
    (["--set", "mode=sideways"], "mode"),
])
def test_bad_input_one_line_exit_2_nothing_written(tmp_path, capsys, extra, match):
    out = tmp_path / "bad"
    assert main(THEORY + extra + ["--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and match in err, err
    assert not out.exists(), "nothing may be written on bad input"


def test_unwritable_output_directory(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert main(THEORY + ["--out", str(blocker / "sub")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "cannot be written" in err


def test_interrupted_simulation_resumes_to_the_same_dataset(tmp_path, capsys, monkeypatch):
    pytest.importorskip("zarr")
    whole = tmp_path / "whole"
    assert main(SIMULATE + ["--out", str(whole)]) == 0
    summary = json.loads((whole / "summary.json").read_text())
    assert summary["agreement"]["agree_away"] == 1.0 and summary["status"]["completed"] == 9
    assert not (whole / STORE_NAME).exists(), "a finished netCDF sweep leaves no store behind"

    # Interrupt after two of the six blocks (9 cells in blocks of 2 x 1).
    calls = []
    real = phase_diagram_module.compute_block

    def interrupting(sweep, index):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(index)
        return real(sweep, index)

    out = tmp_path / "resumed"
    monkeypatch.setattr(phase_diagram_module, "compute_block", interrupting)
    assert main(SIMULATE + ["--workers", "1", "--out", str(out)]) == 2
    assert "interrupted" in capsys.readouterr().err
    assert (out / STORE_NAME).is_dir() and not (out / "phase.nc").exists()
    # Without --resume the finished blocks are kept and the command refuses.
    assert main(SIMULATE + ["--out", str(out)]) == 2
    assert "--resume" in capsys.readouterr().err
    # Other arguments cannot resume this sweep.
    other = [("100" if prev == "--steps" else a)
             for prev, a in zip([None] + SIMULATE[:-1], SIMULATE, strict=True)]
    assert main(other + ["--resume", "--out", str(out)]) == 2
    assert "other arguments" in capsys.readouterr().err

    counted = []

    def counting(sweep, index):
        counted.append(index)
        return real(sweep, index)

    monkeypatch.setattr(phase_diagram_module, "compute_block", counting)
    assert main(SIMULATE + ["--resume", "--out", str(out)]) == 0
    assert len(counted) == 4, "only the four unfinished blocks are computed"
    assert not (out / STORE_NAME).exists()
    assert _load(out / "phase.nc").identical(_load(whole / "phase.nc")), \
        "resumed dataset differs from the uninterrupted run"


def test_parse_axis_and_setting():
    name, values = parse_axis("sigma=0.01:1:3:log")
    assert name == "sigma"
    np.testing.assert_allclose(values, [0.01, 0.1, 1.0], rtol=1e-15)
    assert parse_axis("lam=0:1:3") == ("lam", [0.0, 0.5, 1.0])
    assert parse_axis("n=1,2") == ("n", [1.0, 2.0])
    assert parse_setting("n=2") == ("n", 2) and parse_setting("mode=simultaneous") == ("mode", "simultaneous")
