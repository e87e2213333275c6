"""``kernelgda reproduce``, ``kernelgda figure`` and ``kernelgda list``: the paper's experiments.

Examples::

    kernelgda reproduce                     # every experiment, full settings, into results/
    kernelgda reproduce --quick --out /tmp/r
    kernelgda reproduce --only two-point regime-diagram
    kernelgda figure digits --quick         # one experiment, no report
    kernelgda list

For each experiment ``NAME`` the commands write ``NAME.png``, ``NAME.pdf`` and the data
behind the figure, ``NAME.nc`` (netCDF 3 through xarray's scipy engine); ``reproduce``
then writes ``report.md`` and a self-contained ``index.html``. Every file is written
atomically (a temporary file moved into place), so an interrupted or failed run leaves
complete files from the experiments that finished and nothing half-written. Progress
goes to stderr. An unknown experiment name or an unwritable output directory: one line
on stderr, exit code 2.

``--scheduler tcp://HOST:PORT`` (a running ``dask scheduler``) or ``--scheduler local:N``
(a ``LocalCluster`` of N worker processes for this run) computes the experiments as
independent Dask tasks on that cluster; figures, data files and the report are written
where the command runs, as each experiment's result arrives.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

__all__ = ["register", "run_experiments", "write_experiment", "find_site"]

DEFAULT_OUT = "results"


def register(sub) -> None:
    """Add the ``reproduce``, ``figure`` and ``list`` subcommands."""
    p = sub.add_parser("reproduce", help="run the paper's experiments and write figures and a report",
                       description="Run the experiments (theory section 7) and write NAME.png, "
                       "NAME.pdf, NAME.nc for each, then report.md and index.html.")
    p.add_argument("--quick", action="store_true", help="small grids and short runs (under a minute)")
    p.add_argument("--only", nargs="+", metavar="NAME", help="run only these experiments (see "
                   "`kernelgda list`)")
    p.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                   help=f"output directory (default {DEFAULT_OUT}/)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="compute the experiments on a Dask cluster: tcp://HOST:PORT or local:N")
    p.set_defaults(func=_reproduce)

    f = sub.add_parser("figure", help="run one experiment and write its figure and data",
                       description="Run one experiment and write NAME.png, NAME.pdf and NAME.nc.")
    f.add_argument("name", metavar="NAME", help="experiment name (see `kernelgda list`)")
    f.add_argument("--quick", action="store_true", help="small grids and short runs")
    f.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                   help=f"output directory (default {DEFAULT_OUT}/)")
    f.set_defaults(func=_figure)

    li = sub.add_parser("list", help="list the experiments", description="List the experiments.")
    li.set_defaults(func=_list)


def _progress_factory():
    from tqdm.auto import tqdm

    def progress(iterable, *, total=None, desc=None):
        return tqdm(iterable, total=total, desc=f"  {desc}" if desc else None, leave=False,
                    file=sys.stderr, dynamic_ncols=True)

    return progress


#: PDF metadata of written figures: no ``CreationDate`` (identical runs, identical bytes).
PDF_METADATA = {"CreationDate": None}


def write_experiment(experiment, result, out: Path) -> tuple[dict, bytes]:
    """Write ``NAME.png``, ``NAME.pdf`` and ``NAME.nc`` atomically; return the file names and the PNG."""
    import matplotlib.pyplot as plt

    from ..experiments import to_dataset
    from ..io import atomic_paths

    name = experiment.name
    files = {"png": f"{name}.png", "pdf": f"{name}.pdf", "data": f"{name}.nc"}
    fig = experiment.plot(result)
    # all three or none: an interruption between two of them must not leave a figure without
    # its data; no creation date in the PDF, so that identical runs give identical bytes
    with atomic_paths([out / files[k] for k in ("png", "pdf", "data")]) as (png_tmp, pdf_tmp, data_tmp):
        try:
            fig.savefig(png_tmp, format="png", dpi=200)
            png = png_tmp.read_bytes()
            fig.savefig(pdf_tmp, format="pdf", metadata=PDF_METADATA)
        finally:
            plt.close(fig)
        to_dataset(result).to_netcdf(data_tmp, engine="scipy")
    return files, png


def _compute_timed(quick, name):
    """One experiment's result and its compute time (a task of a cluster run)."""
    from ..experiments import get

    exp = get(name)
    start = time.perf_counter()
    result = exp.compute(exp.config(quick))
    return result, time.perf_counter() - start


def run_experiments(names, *, quick: bool, out: Path, progress=None, client=None):
    """Run ``names``, write each one's files; return a list of ``ReportEntry`` in the order of
    ``names``. With ``client`` (a ``dask.distributed.Client``) the experiments are computed as
    independent tasks on its cluster and drawn here as they finish."""
    from tqdm.auto import tqdm

    from ..experiments import config_dict, get
    from ..report import ReportEntry

    experiments = [get(n) for n in names]  # raises before anything is run or written
    progress = progress or _progress_factory()
    entries = {}
    bar = tqdm(total=len(experiments), desc="reproduce", file=sys.stderr, dynamic_ncols=True)

    def finish(exp, result, seconds):
        files, png = write_experiment(exp, result, out)
        tqdm.write(f"{exp.name}: {seconds:.1f} s -> {out / files['png']}", file=sys.stderr)
        entries[exp.name] = ReportEntry(name=exp.name, description=exp.description, caption=result.caption,
                                        table=result.table, summary=result.summary,
                                        config=config_dict(result.config), files=files, png=png,
                                        seconds=seconds, theory=exp.theory_sections)
        bar.update(1)

    try:
        if client is None:
            for exp in experiments:
                bar.set_postfix_str(exp.name)
                start = time.perf_counter()
                result = exp.compute(exp.config(quick), progress=progress)
                finish(exp, result, time.perf_counter() - start)
        else:
            from ..phase.run import map_tasks

            by_name = {exp.name: exp for exp in experiments}
            map_tasks(_compute_timed, quick, list(by_name),
                      lambda name, res: finish(by_name[name], *res), client=client, name="experiment")
    finally:
        bar.close()
    return [entries[exp.name] for exp in experiments]


def _output_dir(path: str) -> Path:
    from ..io import writable_dir

    return writable_dir(path, "--out")


def find_site(out: Path, cwd: Path | None = None) -> str:
    """The built documentation site next to the report, as a URL relative to ``out``.

    A site counts as built when its ``theory.html`` exists. Looked for, in order: ``out/site``
    (``sphinx-build -b html docs OUT/site``) and ``docs/_build/html`` under the current
    directory (the README's command, run from the repository root). ``""`` when neither exists.
    """
    import os

    cwd = Path.cwd() if cwd is None else cwd
    for site in (out / "site", cwd / "docs" / "_build" / "html"):
        if (site / "theory.html").is_file():
            return Path(os.path.relpath(site.resolve(), out.resolve())).as_posix()
    return ""


def _reproduce(args) -> int:
    from .. import __version__
    from ..experiments import EXPERIMENTS, get
    from ..io import atomic_write_text
    from ..report import ReportMeta, render_html, render_markdown

    names = list(dict.fromkeys(args.only)) if args.only else list(EXPERIMENTS)
    for n in names:
        get(n)
    from ..phase.run import connect

    client, close = connect(args.scheduler) if args.scheduler is not None else (None, None)
    try:
        out = _output_dir(args.out)
        start = time.perf_counter()
        entries = run_experiments(names, quick=args.quick, out=out, client=client)
    finally:
        if close is not None:
            close()
    command = "kernelgda reproduce" + (" --quick" if args.quick else "") + (
        " --only " + " ".join(names) if args.only else "") + (
        f" --scheduler {args.scheduler}" if args.scheduler is not None else "")
    meta = ReportMeta(version=__version__, quick=args.quick, command=command,
                      date=time.strftime("%Y-%m-%d %H:%M:%S %Z"), seconds=time.perf_counter() - start,
                      site=find_site(out))
    atomic_write_text(out / "report.md", render_markdown(entries, meta))
    atomic_write_text(out / "index.html", render_html(entries, meta))
    print(f"wrote {len(entries)} experiments, {out / 'report.md'} and {out / 'index.html'} "
          f"in {meta.seconds:.1f} s")
    return 0


def _figure(args) -> int:
    from ..experiments import get

    exp = get(args.name)
    out = _output_dir(args.out)
    entries = run_experiments([exp.name], quick=args.quick, out=out)
    print(f"wrote {', '.join(str(out / f) for f in entries[0].files.values())}")
    return 0


def _list(args) -> int:
    from ..experiments import EXPERIMENTS

    width = max(len(n) for n in EXPERIMENTS)
    for name, exp in EXPERIMENTS.items():
        print(f"{name:<{width}}  {exp.description}")
    return 0
