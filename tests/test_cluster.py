"""Sweeps on a real ``dask.distributed`` LocalCluster (2 worker processes, 1 thread each).

The cluster runs the same block tasks as the embedded scheduler, so its datasets are the
embedded ones bit for bit (same function, same inputs, same machine); they are compared
with ``identical`` (values, dtypes, attributes).
"""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")
pytest.importorskip("zarr")

from kernelgda import phase_diagram  # noqa: E402
from kernelgda.cli import main  # noqa: E402
from kernelgda.scenario import parse_scenario  # noqa: E402

pytestmark = pytest.mark.slow  # a LocalCluster takes a few seconds to start

FIXED = {"eta_d": 0.2, "eta_g": 0.2}
SIM = {"sigma": [0.3, 0.6, 1.0, 1.5], "lam": [0.0, 0.5, 2.0]}


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=":0")
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def _scenario():
    return parse_scenario({"true": {"points": [[0.0], [1.0]], "weights": [0.5, 0.5]},
                           "generated": {"on_true": True, "weights": 0.4, "offset": 0.01},
                           "kernel": {"sigma": 0.5}, "lam": 0.5, "gda": {"eta_d": 0.2, "eta_g": 0.2}})


def test_cluster_result_equals_embedded_for_every_method(client):
    cases = [
        ({"sigma": np.geomspace(0.1, 1, 7), "lam": [0.0, 0.5, 2.0]}, FIXED, {"chunk_size": 4}),
        ({"sigma": [0.3, 0.5, 0.8], "lam": [0.2, 1.0]}, None,
         {"method": "linearize", "scenario": _scenario(), "chunk_size": 2}),
        (SIM, FIXED, {"method": "simulate", "num_steps": 120, "chunk_size": 3}),
    ]
    for axes, fixed, kw in cases:
        embedded = phase_diagram(axes, fixed, **kw)
        on_cluster = phase_diagram(axes, fixed, client=client, **kw)
        assert on_cluster.identical(embedded), f"{kw.get('method', 'theory')}: cluster != embedded"


def test_cluster_store_interrupted_on_the_client_resumes_embedded(client, tmp_path):
    kw = {"method": "simulate", "num_steps": 120, "chunk_size": 3}
    full = phase_diagram(SIM, FIXED, **kw)
    path = tmp_path / "phase.zarr"
    seen = []

    def stop_after_two(done, total):
        seen.append(done)
        if len(seen) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        phase_diagram(SIM, FIXED, store=path, client=client, progress=stop_after_two, **kw)
    resumed = []
    ds = phase_diagram(SIM, FIXED, store=path, progress=lambda d, t: resumed.append(d), **kw)
    assert resumed[0] > 0 and len(resumed) == 1 + 6 - 2, "only the four unfinished blocks are computed"
    assert ds.load().identical(full)


def test_cli_local_cluster(tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["phase", "--axis", "sigma=0.3,0.6,1.0", "--axis", "lam=0,0.5,2", "--set", "eta_d=0.2",
            "--set", "eta_g=0.2", "--method", "simulate", "--steps", "120", "--chunk-size", "3"]
    assert main(argv + ["--scheduler", "local:2", "--format", "zarr", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["phase.png", "phase.zarr", "summary.json"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"]["completed"] == 9 and summary["agreement"]["agree_away"] == 1.0
    import xarray as xr

    stored = xr.open_zarr(out / "phase.zarr").load()
    embedded = phase_diagram({"sigma": [0.3, 0.6, 1.0], "lam": [0.0, 0.5, 2.0]}, FIXED, method="simulate",
                             num_steps=120, chunk_size=3, history_tol=1e-12)
    stored.attrs.pop("kernelgda_sweep")
    assert stored.identical(embedded)
    capsys.readouterr()


def test_reproduce_computes_experiments_on_the_cluster_and_draws_here(client, tmp_path):
    from kernelgda.cli.reproduce import run_experiments

    names = ["linear-validity"]
    for sub in ("here", "remote"):
        (tmp_path / sub).mkdir()
    here = run_experiments(names, quick=True, out=tmp_path / "here")
    remote = run_experiments(names, quick=True, out=tmp_path / "remote", client=client)
    assert [e.name for e in remote] == names
    assert remote[0].table == here[0].table and remote[0].summary == here[0].summary
    assert sorted(p.name for p in (tmp_path / "remote").iterdir()) == [
        "linear-validity.nc", "linear-validity.pdf", "linear-validity.png"]


def test_bad_scheduler_address_one_line_exit_2_fast(tmp_path):
    out = tmp_path / "out"
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "kernelgda", "phase", "--axis", "sigma=0.1,1", "--set",
                           "lam=1", "--set", "eta_d=0.1", "--set", "eta_g=0.1", "--scheduler",
                           "tcp://127.0.0.1:9", "--out", str(out)], capture_output=True, text=True,
                          env=os.environ, timeout=60)
    assert proc.returncode == 2 and time.perf_counter() - start < 10
    assert len(proc.stderr.strip().splitlines()) == 1 and "no scheduler" in proc.stderr, proc.stderr
    assert not out.exists()


def test_worker_killed_mid_sweep_does_not_change_the_result(client):
    kw = {"method": "simulate", "num_steps": 400, "chunk_size": 1}  # 12 blocks of one cell
    full = phase_diagram(SIM, FIXED, **kw)
    pids = client.run(os.getpid)  # worker address -> process id
    killed = []

    def kill_one(done, total):
        if done and not killed:  # one block finished, most still to run
            victim = sorted(pids)[0]
            os.kill(pids[victim], signal.SIGKILL)
            killed.append(victim)

    ds = phase_diagram(SIM, FIXED, client=client, progress=kill_one, **kw)
    assert killed and ds.identical(full), "the sweep lost or changed cells when a worker died"
    client.wait_for_workers(2, timeout=30)
    assert killed[0] not in set(client.scheduler_info()["workers"]), "the worker did not die"


def _die(shared, item):
    os._exit(1)  # the worker process dies in the task, every time


def test_a_block_that_kills_its_workers_is_a_cluster_error():
    """distributed gives up on a task after allowed-failures worker deaths (KilledWorker); the
    sweep reports that as a ClusterError (the CLI: one line, exit 1), not a traceback."""
    import dask

    from kernelgda.phase.run import ClusterError, map_tasks

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                           dashboard_address=":0")
        client = distributed.Client(cluster)
        try:
            with pytest.raises(ClusterError, match="--resume"):
                map_tasks(_die, None, [0], lambda item, result: None, client=client)
        finally:
            client.close()
            cluster.close()
