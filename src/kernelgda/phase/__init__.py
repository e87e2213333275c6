"""Phase diagrams over parameter grids (theory sections 5-7).

:func:`phase_diagram` is the front door (:mod:`kernelgda.phase.diagram`); the grid's
parameters live in :mod:`kernelgda.phase.grid`, the plan of blocks in
:mod:`kernelgda.phase.sweep`, their execution as Dask tasks in :mod:`kernelgda.phase.run`,
the resumable Zarr store in :mod:`kernelgda.phase.store`, the predictions in
:mod:`kernelgda.phase.predict`, simulated cells in :mod:`kernelgda.phase.simulate`, the
dataset in :mod:`kernelgda.phase.dataset` and the closed-form boundaries drawn over
isolated diagrams in :mod:`kernelgda.phase.boundaries`.
Agreement of measured with predicted regimes is :func:`kernelgda.compare`.
"""

from .boundaries import closed_form_boundaries, pair_boundaries
from .dataset import for_netcdf, from_netcdf
from .diagram import phase_diagram, run_sweep
from .grid import ISOLATED_PARAMS, METHODS, RULE_OPTIONS, SCENARIO_PARAMS, check_grid
from .simulate import CHUNK_SIZE, HISTORY_TOL
from .store import STORE_NAME
from .sweep import Sweep, plan_sweep

__all__ = ["phase_diagram", "plan_sweep", "run_sweep", "Sweep", "check_grid", "closed_form_boundaries",
           "pair_boundaries", "for_netcdf", "from_netcdf", "METHODS", "ISOLATED_PARAMS", "SCENARIO_PARAMS",
           "RULE_OPTIONS", "CHUNK_SIZE", "HISTORY_TOL", "STORE_NAME"]
