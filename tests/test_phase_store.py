"""The Zarr store of a sweep: written block by block, resumed from itself, damage detected."""

import logging

import numpy as np
import pytest

pytest.importorskip("zarr")

import xarray as xr  # noqa: E402

from kernelgda import phase_diagram  # noqa: E402

AXES = {"sigma": [0.3, 0.6, 1.0], "lam": [0.0, 0.5, 2.0]}
FIXED = {"eta_d": 0.2, "eta_g": 0.2}
KW = {"method": "simulate", "num_steps": 150, "chunk_size": 2}  # 9 cells in blocks of (2, 1): 6 blocks


class Stop(Exception):
    pass


def _interrupt_after(blocks):
    calls = []

    def progress(done, total):
        calls.append(done)
        if len(calls) > blocks:  # the first call reports the resumed cells
            raise Stop

    return progress


def test_interrupted_store_resumes_to_the_in_memory_dataset(tmp_path):
    full = phase_diagram(AXES, FIXED, **KW)
    path = tmp_path / "phase.zarr"
    with pytest.raises(Stop):
        phase_diagram(AXES, FIXED, store=path, progress=_interrupt_after(2), **KW)
    partial = xr.open_zarr(path)  # readable while unfinished: missing cells are the fill value
    assert 0 < int(np.isfinite(partial.generator_rate.values).sum()) < 9
    seen = []
    resumed = phase_diagram(AXES, FIXED, store=path, progress=lambda d, t: seen.append(d), **KW)
    assert seen[0] > 0 and len(seen) == 1 + 6 - 2, "only the four unfinished blocks are computed"
    assert resumed.load().identical(full), "resumed store differs from the uninterrupted run"
    with pytest.raises(ValueError, match="other arguments"):
        phase_diagram({"sigma": [0.3, 0.7, 1.0], "lam": [0.0, 0.5, 2.0]}, FIXED, store=path, **KW)


def test_damaged_block_is_detected_recomputed_and_reported(tmp_path, caplog):
    path = tmp_path / "phase.zarr"
    full = phase_diagram(AXES, FIXED, store=path, **KW).load()
    chunk = path / "measured_real" / "0.0"
    chunk.write_bytes(chunk.read_bytes()[:5])  # truncated
    (path / "generator_rate" / "1.0").unlink()  # missing
    seen = []
    with caplog.at_level(logging.WARNING, logger="kernelgda.phase"):
        again = phase_diagram(AXES, FIXED, store=path, progress=lambda d, t: seen.append(d), **KW)
    assert [r.getMessage().count("\n") for r in caplog.records] == [0]
    assert "2 incomplete or damaged block(s)" in caplog.records[0].getMessage()
    assert len(seen) == 1 + 2, "exactly the two damaged blocks are recomputed"
    assert again.load().identical(full)


@pytest.mark.slow  # ~1.5 s: two CLI runs with figures
def test_cli_reports_a_damaged_block_in_one_line_and_resumes(tmp_path, capsys):
    from kernelgda.cli import main

    out = tmp_path / "out"
    argv = ["phase", "--axis", "sigma=0.3,0.6,1.0", "--axis", "lam=0,0.5,2", "--set", "eta_d=0.2", "--set",
            "eta_g=0.2", "--method", "simulate", "--steps", "150", "--chunk-size", "2", "--format", "zarr",
            "--out", str(out)]
    assert main(argv) == 0
    first = xr.open_zarr(out / "phase.zarr").load()
    chunk = out / "phase.zarr" / "generator_rate" / "0.1"
    chunk.write_bytes(b"\x00" * 3)
    capsys.readouterr()
    assert main(argv + ["--resume"]) == 0
    notes = [ln for ln in capsys.readouterr().err.replace("\r", "\n").splitlines() if "note:" in ln]
    assert notes == [f"kernelgda: note: {out / 'phase.zarr'}: 1 incomplete or damaged block(s) found; "
                     "recomputing them"], notes
    assert xr.open_zarr(out / "phase.zarr").load().identical(first)
