"""Probe suite, files (issue 20, classes 9, 10, 11, 13 and 15): a refused run leaves nothing
behind; a store is complete or absent (a full disk, a race); on ``--resume`` coordinates and
metadata are verified, recomputed where they can be and otherwise named in one line with the
way out; a figure's files appear together; identical runs give identical bytes. Oracles: the
directory listing, an uninterrupted run's dataset, the bytes of a second run."""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import shutil

import numpy as np
import pytest

import kernelgda as kg
from kernelgda.cli import main

ISOLATED = ["--set", "eta_d=0.2", "--set", "eta_g=0.2"]
OVERFLOW = ["--axis", "sigma=1e-200,1", "--set", "eta_d=1e200", "--set", "eta_g=1e200", "--set", "lam=0.5"]


def _cli(capsys, argv):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _one_error(code, err, *needles):
    assert code == 2, f"exit code 2, got {code}: {err!r}"
    lines = [line for line in err.strip().splitlines() if line.startswith("kernelgda: error:")]
    assert len(lines) == 1, f"one error line: {err!r}"
    for needle in needles:
        assert needle in lines[0], f"the error should name {needle!r}: {lines[0]!r}"


def _scenario(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text("lam = 0.5\n[true]\npoints = [[0.0, 0.0]]\n[generated]\non_true = true\n"
                    "[kernel]\nsigma = 0.5\n[gda]\neta_d = 0.1\neta_g = 0.1\n")
    return str(path)


# -- class 9: refusals found inside the blocks -----------------------------------------------

REFUSED_IN_BLOCKS = {
    "theory overflow": OVERFLOW,
    "theory overflow, zarr": OVERFLOW + ["--format", "zarr"],
    "simulate overflow": ["--method", "simulate", "--steps", "10", "--axis", "eta_d=1e300,0.1",
                          "--set", "eta_g=1e300", "--set", "sigma=1e-40", "--set", "lam=0.5"],
    "linearize overflow": ["--method", "linearize", "--axis", "eta_d=1e300,0.1", "--set", "eta_g=1e300"],
}


@pytest.mark.parametrize("nested", [False, True], ids=["out", "out/sub"])
@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.slow) if "linearize" in c else c
                                  for c in sorted(REFUSED_IN_BLOCKS)])
def test_refusal_inside_blocks_leaves_nothing_and_the_rerun_works(capsys, tmp_path, case, nested):
    argv = list(REFUSED_IN_BLOCKS[case])
    if "linearize" in case:
        argv += ["--scenario", _scenario(tmp_path)]
    out = tmp_path / "o" / "sub" if nested else tmp_path / "o"
    code, _, err = _cli(capsys, ["phase"] + argv + ["--out", str(out)])
    _one_error(code, err, "float64")
    assert not (tmp_path / "o").exists(), f"nothing may be left: {sorted(tmp_path.rglob('*'))}"
    code, _, err = _cli(capsys, ["phase"] + _corrected(argv) + ["--out", str(out)])
    assert code == 0, f"the corrected rerun must not be told the directory holds a sweep: {err!r}"


def _corrected(argv):
    """The same command with learning rates and widths whose products fit in float64."""
    swap = {"1e200": "0.1", "1e300": "0.2", "1e-200": "0.5", "1e-40": "0.5"}
    out = []
    for a in argv:
        if "=" in a:
            name, values = a.split("=")
            a = name + "=" + ",".join(swap.get(v, v) for v in values.split(","))
        out.append(a)
    return out


def test_refusal_keeps_an_existing_directory_and_its_files(capsys, tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    code, _, err = _cli(capsys, ["phase"] + OVERFLOW + ["--out", str(out)])
    _one_error(code, err)
    assert sorted(p.name for p in out.iterdir()) == ["mine.txt"]


# -- class 10: a store is complete or absent -----------------------------------------------------

pytest.importorskip("zarr")
AXES = {"sigma": [0.3, 0.6, 1.0], "lam": [0.0, 0.5]}
FIXED = {"eta_d": 0.2, "eta_g": 0.2}
KW = {"method": "simulate", "num_steps": 20, "chunk_size": 2}


@pytest.mark.parametrize("err", [errno.ENOSPC, errno.EDQUOT, errno.EIO])
def test_a_failed_store_creation_leaves_no_store(tmp_path, monkeypatch, err):
    import xarray as xr

    real = xr.Dataset.to_zarr

    def fail_midway(self, store, *args, **kwargs):
        real(self, store, *args, **kwargs)  # a partial store on disk, then the disk fills
        raise OSError(err, "simulated failure")

    monkeypatch.setattr(xr.Dataset, "to_zarr", fail_midway)
    with pytest.raises(ValueError, match="nothing was left behind") as info:
        kg.phase_diagram(AXES, FIXED, store=tmp_path / "phase.zarr", **KW)
    assert "\n" not in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == [], "neither the store nor a temporary"
    monkeypatch.undo()
    kg.phase_diagram(AXES, FIXED, store=tmp_path / "phase.zarr", **KW)  # the plain rerun works


@pytest.mark.parametrize("winner", ["store", "file"])
def test_the_loser_of_a_race_is_told_and_keeps_the_winners_store(capsys, tmp_path, monkeypatch, winner):
    """Two runs on one --out: the second to finish creating its store must not be told to
    delete the first's, and must not remove it."""
    from kernelgda.phase import store as S

    out = tmp_path / "o"
    path = out / "phase.zarr"
    real = S._create

    def racing(zarr, p, sweep, template, spec):
        if winner == "store":  # the other run finished creating a complete store first
            os.close(real(zarr, p, sweep, template, spec))  # (and released its lock)
        else:  # or has only just made its directory
            p.mkdir()
        (p / "winner").write_text("theirs")
        return real(zarr, p, sweep, template, spec)  # ours: the rename onto it fails

    monkeypatch.setattr(S, "_create", racing)
    code, _, err = _cli(capsys, ["phase", "--axis", "sigma=0.3,0.6", "--axis", "lam=0,0.5"] + ISOLATED
                        + ["--method", "simulate", "--steps", "60", "--out", str(out)])
    _one_error(code, err, "another run")
    assert "delete" not in err, f"the loser must not be told to delete the winner's store: {err!r}"
    assert (path / "winner").read_text() == "theirs", "the winner's store is untouched"
    assert [p.name for p in out.iterdir()] == ["phase.zarr"], "no temporary left beside it"


@pytest.mark.parametrize("resume", [False, True], ids=["rerun", "resume"])
def test_a_store_being_written_is_neither_resumed_nor_offered_for_deletion(capsys, tmp_path, resume):
    """A store another process is writing (it holds the lock): a second run on the same --out,
    plain or --resume, is told so and touches nothing."""
    import fcntl

    out = tmp_path / "o"
    argv = ["phase", "--axis", "sigma=0.3,0.6", "--axis", "lam=0,0.5"] + ISOLATED + [
        "--method", "simulate", "--steps", "20", "--format", "zarr", "--out", str(out)]
    assert _cli(capsys, argv)[0] == 0
    before = sorted((p.name, p.stat().st_mtime_ns) for p in (out / "phase.zarr").rglob("*"))
    fd = os.open(out / "phase.zarr", os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as the writing run holds it
    try:
        code, _, err = _cli(capsys, argv + (["--resume"] if resume else []))
    finally:
        os.close(fd)
    _one_error(code, err, "another run is writing")
    assert "delete" not in err
    assert sorted((p.name, p.stat().st_mtime_ns) for p in (out / "phase.zarr").rglob("*")) == before
    assert _cli(capsys, argv + ["--resume"])[0] == 0, "once released, the store resumes"


# -- class 13: coordinates and metadata on --resume ---------------------------------------------

def _complete_store(tmp_path):
    path = tmp_path / "phase.zarr"
    full = kg.phase_diagram(AXES, FIXED, store=path, **KW).load()
    return path, full


def _rewrite_coordinate(path):
    import zarr

    group = zarr.open_group(str(path), mode="r+", use_consolidated=False)
    values = group["sigma"][:]
    values[1] = 0.77
    group["sigma"][:] = values


def _damage_coordinate_chunk(path):
    (path / "sigma" / "0").write_bytes(b"\x00garbage")


def _truncate(name):
    def damage(path):
        meta = path / name
        meta.write_bytes(meta.read_bytes()[:7])
    return damage


RECOMPUTED = {
    "coordinate value changed": _rewrite_coordinate,
    "coordinate chunk damaged": _damage_coordinate_chunk,
    "coordinate chunk deleted": lambda path: (path / "lam" / "0").unlink(),
    "consolidated metadata truncated": _truncate(".zmetadata"),
    "consolidated metadata deleted": lambda path: (path / ".zmetadata").unlink(),
}


@pytest.mark.parametrize("case", sorted(RECOMPUTED))
def test_resume_restores_what_can_be_recomputed(tmp_path, case):
    path, full = _complete_store(tmp_path)
    RECOMPUTED[case](path)
    again = kg.phase_diagram(AXES, FIXED, store=path, **KW).load()
    assert again.identical(full), f"{case}: the resumed dataset must equal the uninterrupted run's"


NAMED = {
    "variable array deleted": (lambda path: shutil.rmtree(path / "num_taken"), "num_taken"),
    "variable .zarray truncated": (_truncate("generator_rate/.zarray"), "generator_rate"),
    "checksum array deleted": (lambda path: shutil.rmtree(path / "progress" / "checksum"), "checksum"),
    "root attributes truncated": (_truncate(".zattrs"), "phase.zarr"),
}


@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.slow) if c.startswith(("root", "check"))
                                  else c for c in sorted(NAMED)])
def test_resume_names_damaged_metadata_in_one_line(capsys, tmp_path, case):
    out = tmp_path / "o"
    argv = ["phase", "--axis", "sigma=0.3,0.6,1.0", "--axis", "lam=0,0.5"] + ISOLATED + [
        "--method", "simulate", "--steps", "20", "--chunk-size", "2", "--format", "zarr", "--out", str(out)]
    code, _, err = _cli(capsys, argv)
    assert code == 0, err
    damage, needle = NAMED[case]
    damage(out / "phase.zarr")
    code, _, err = _cli(capsys, argv + ["--resume"])
    _one_error(code, err, needle, "delete")
    assert "Traceback" not in err


@pytest.mark.slow
def test_resume_corrects_the_summary_axis(capsys, tmp_path):
    out = tmp_path / "o"
    argv = ["phase", "--axis", "sigma=0.3,0.6,1.0", "--axis", "lam=0,0.5"] + ISOLATED + [
        "--method", "simulate", "--steps", "20", "--chunk-size", "2", "--format", "zarr", "--out", str(out)]
    assert _cli(capsys, argv)[0] == 0
    first = json.loads((out / "summary.json").read_text())
    _rewrite_coordinate(out / "phase.zarr")
    assert _cli(capsys, argv + ["--resume"])[0] == 0
    again = json.loads((out / "summary.json").read_text())
    assert again["axes"] == first["axes"] and again["axes"][0]["max"] == 1.0, again["axes"]


# -- class 11 and 15: a figure's files together; identical runs, identical bytes ---------------

class _Tiny:
    """A stand-in experiment with the registry's interface: a line plot of three numbers."""

    name = "tiny"

    @staticmethod
    def plot(result):
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots()
        ax.plot(result.coords["x"], result.data["y"][1])
        return fig


@dataclasses.dataclass(frozen=True)
class _TinyConfig:
    num: int = 3


def _tiny_result():
    from kernelgda.experiments._base import Result

    return Result(name="tiny", config=_TinyConfig(), data={"y": (("x",), np.array([1.0, 2.0, 4.0]))},
                  coords={"x": np.arange(3.0)})


def test_an_interrupted_figure_leaves_none_of_its_files(tmp_path, monkeypatch):
    """SIGINT (KeyboardInterrupt) after the PNG is written: no PNG without its PDF and data."""
    import matplotlib.figure

    from kernelgda.cli import reproduce

    real = matplotlib.figure.Figure.savefig

    def interrupt_on_pdf(self, fname, *args, **kwargs):
        if kwargs.get("format") == "pdf":
            raise KeyboardInterrupt
        return real(self, fname, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", interrupt_on_pdf)
    with pytest.raises(KeyboardInterrupt):
        reproduce.write_experiment(_Tiny, _tiny_result(), tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [], "all three files or none"
    monkeypatch.undo()
    files, _ = reproduce.write_experiment(_Tiny, _tiny_result(), tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(files.values())


def test_identical_figures_write_identical_bytes(tmp_path):
    from kernelgda.cli import reproduce

    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        reproduce.write_experiment(_Tiny, _tiny_result(), tmp_path / name)
    pdf = (tmp_path / "a" / "tiny.pdf").read_bytes()
    assert b"CreationDate" not in pdf
    for name in ("tiny.pdf", "tiny.png", "tiny.nc"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


@pytest.mark.slow
def test_identical_runs_write_identical_bytes(capsys, tmp_path):
    argv = ["phase", "--axis", "sigma=0.3,0.6", "--axis", "lam=0,0.5"] + ISOLATED
    for name in ("a", "b"):
        assert _cli(capsys, argv + ["--out", str(tmp_path / name)])[0] == 0
    for name in ("summary.json", "phase.nc", "phase.png"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert "elapsed" not in (tmp_path / "a" / "summary.json").read_text()
