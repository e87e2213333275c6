"""Shared pieces of the experiments: the result type, progress, and conversion to xarray.

Every experiment module defines a frozen ``Config`` dataclass (the defaults), a
``QUICK`` configuration that runs in seconds, a pure ``compute(config) -> Result``
and a pure ``plot(result) -> matplotlib.figure.Figure``. Nothing here writes files.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..regimes import REGIMES

__all__ = ["Result", "Progress", "no_progress", "config_dict", "to_dataset", "regime_code",
           "REGIME_LABELS"]

#: ``progress(iterable, total=..., desc=...) -> iterable``: a tqdm-like wrapper; identity by default.
Progress = Callable[..., Iterable]

#: Regime code -> label, with -1 for "undetermined" (a measurement that failed).
REGIME_LABELS = {i: name for i, name in enumerate(REGIMES)} | {-1: "undetermined"}


def no_progress(iterable, **_kwargs):
    """The default ``progress``: return the iterable unchanged."""
    return iterable


def regime_code(label: str) -> int:
    """Index of a regime label in :data:`~kernelgda.regimes.REGIMES` (-1 for anything else)."""
    return REGIMES.index(label) if label in REGIMES else -1


@dataclass(frozen=True, eq=False)
class Result:
    """What an experiment's ``compute`` returns.

    Attributes
    ----------
    name : str
        The experiment's registry name.
    config : dataclass
        The configuration it ran with.
    data : dict
        ``variable -> (dims, array)``: everything the figure is drawn from.
    coords : dict
        ``dimension -> 1-d array`` of coordinate values.
    table : list of dict
        Rows of predicted versus measured quantities (same keys in every row).
    summary : dict
        Headline numbers (scalars or short strings) for the report.
    caption : str
        The figure caption.
    """

    name: str
    config: Any
    data: dict
    coords: dict
    table: list = field(default_factory=list)
    summary: dict = field(default_factory=dict)
    caption: str = ""

    def __getitem__(self, key: str) -> np.ndarray:
        """The array of data variable ``key`` (or coordinate of that name)."""
        if key in self.data:
            return self.data[key][1]
        return self.coords[key]


def config_dict(config) -> dict:
    """A configuration as a flat ``{field: value}`` dict (tuples kept)."""
    return {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}


def _attr_value(value):
    """An attribute value netCDF-3 can store: numbers, strings, 1-d numeric arrays."""
    if isinstance(value, bool | np.bool_):
        return int(value)
    if isinstance(value, int | float | np.integer | np.floating | str):
        return value
    if value is None:
        return "none"
    if isinstance(value, tuple | list):
        arr = np.asarray(value)
        if arr.dtype.kind in "if" and arr.ndim == 1:
            return arr.astype(float) if arr.dtype.kind == "f" else arr.astype(np.int32)
    return repr(value)


def _netcdf3_array(arr: np.ndarray) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.dtype.kind == "b":
        return arr.astype(np.int8)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int32)
    if arr.dtype.kind == "U":
        return arr.astype(str)
    return arr


def to_dataset(result: Result):
    """The result as an :class:`xarray.Dataset` writable with ``engine="scipy"`` (netCDF-3).

    Complex variables are split into ``NAME_real`` and ``NAME_imag``; booleans become
    ``int8``; 64-bit integers become ``int32``. Attributes hold the configuration
    (``config_FIELD``), the summary (``summary_KEY``), the caption and the regime labels.
    """
    import xarray as xr

    data_vars = {}
    for key, (dims, arr) in result.data.items():
        arr = np.asarray(arr)
        if arr.dtype.kind == "c":
            data_vars[f"{key}_real"] = (dims, arr.real)
            data_vars[f"{key}_imag"] = (dims, arr.imag)
        else:
            data_vars[key] = (dims, _netcdf3_array(arr))
    coords = {k: _netcdf3_array(v) for k, v in result.coords.items()}
    attrs = {"experiment": result.name, "caption": result.caption,
             "regime_labels": ", ".join(f"{k}: {v}" for k, v in sorted(REGIME_LABELS.items()))}
    attrs |= {f"config_{k}": _attr_value(v) for k, v in config_dict(result.config).items()}
    attrs |= {f"summary_{k}": _attr_value(v) for k, v in result.summary.items()}
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)


#: Newton tolerance for fixed points used in rate measurements. The library default
#: (1e-12 relative) can leave ``Y*`` off by ~1e-11 along slow directions (the Newton
#: Jacobian is nearly singular there); the exact run then settles on the true fixed point,
#: the offset looks like an eigenvalue 1 to the Hankel fit and biases the measured rate
#: towards 1. Polishing to rounding level (one more Newton step) removes the bias.
POLISH_TOL = 1e-15


def polished_equilibrium(gan, y0, q):
    """:func:`~kernelgda.find_equilibrium` to rounding level, or at the default tolerance
    when Newton cannot get that far (then ``converged`` reports the default test)."""
    from ..equilibrium import find_equilibrium

    eq = find_equilibrium(gan, y0, q, tol=POLISH_TOL)
    return eq if eq.converged else find_equilibrium(gan, y0, q)
