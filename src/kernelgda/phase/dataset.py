"""The dataset of a phase diagram, and its netCDF-3 form.

Variables on the grid's coordinates with CF ``flag_values`` / ``flag_meanings`` for the
regime codes (theory section 6) and the run statuses (:class:`kernelgda.status.Status`);
the fixed parameters (the update rule as ``mode``), the method, the tolerances and the
package version as attributes.
"""

from __future__ import annotations

import numpy as np

from ..regimes import REGIMES
from ..status import flag_attrs

__all__ = ["build_dataset", "for_netcdf", "from_netcdf", "NETCDF_MODE"]

#: Name of the update-rule attribute inside a netCDF-3 file. SciPy's netCDF-3 writer (the
#: engine the CLI uses) keeps global attributes as Python attributes of its file object,
#: where ``mode`` is its own file mode, so a global attribute ``mode`` cannot be written.
NETCDF_MODE = "gda_mode"


def for_netcdf(ds):
    """A copy of ``ds`` whose attributes SciPy's netCDF-3 writer can store (``mode`` as
    :data:`NETCDF_MODE`; integers beyond the format's 32 bits, such as ``n = 10**12``, as
    float64, exact up to ``2^53``)."""
    attrs = {(NETCDF_MODE if k == "mode" else k): _int32_or_float(v) for k, v in ds.attrs.items()}
    out = _with_attrs(ds, attrs)
    wide = {name: out[name].astype(float) for name in list(out.coords) + list(out.data_vars)
            if out[name].dtype.kind in "iu" and out[name].size
            and not INT32[0] <= int(out[name].min()) <= int(out[name].max()) <= INT32[1]}
    return out.assign_coords({k: v for k, v in wide.items() if k in out.coords}).assign(
        {k: v for k, v in wide.items() if k not in out.coords})


#: The range of netCDF-3 integers.
INT32 = (-(2**31), 2**31 - 1)


def _int32_or_float(value):
    if isinstance(value, int | np.integer) and not isinstance(value, bool) and \
            not INT32[0] <= int(value) <= INT32[1]:
        return float(value)
    return value


def from_netcdf(ds):
    """The dataset read from a netCDF-3 file, with the update rule back under ``mode``
    (files written by :func:`for_netcdf` and datasets from before the rename store
    :data:`NETCDF_MODE`)."""
    if NETCDF_MODE not in ds.attrs:
        return ds
    return _with_attrs(ds, {("mode" if k == NETCDF_MODE else k): v for k, v in ds.attrs.items()})


def _with_attrs(ds, attrs):
    out = ds.copy(deep=False)
    out.attrs = dict(attrs)
    return out


_REGIME_ATTRS = {"flag_values": np.arange(-1, len(REGIMES), dtype=np.int8),
                 "flag_meanings": " ".join(("undetermined",) + REGIMES),
                 "description": "regime label code (theory section 6); -1: undetermined"}


def _axis_scale(values) -> str:
    """``"log"`` for three or more positive values in geometric progression, else ``"linear"``."""
    if values.dtype.kind not in "fi" or len(values) < 3 or np.any(values <= 0):
        return "linear"
    steps = np.diff(np.log(values.astype(float)))
    return "log" if np.allclose(steps, steps[0], rtol=1e-6, atol=0) and steps[0] != 0 else "linear"


def _attr(value):
    if isinstance(value, np.generic):
        value = value.item()
    return int(value) if isinstance(value, bool) else value


def build_dataset(coords, shape, data, values, attrs, scenario):
    """The ``xarray.Dataset`` of a phase diagram: variables on the grid, CF flag attributes,
    the fixed parameters (the update rule as ``mode``) and the settings as attributes."""
    import json

    import xarray as xr

    from .. import __version__

    dims = tuple(coords)
    variables = {}
    for name, arr in data.items():
        arr = (arr if hasattr(arr, "chunks") else np.asarray(arr)).reshape(shape)  # NumPy or Dask
        if arr.dtype == np.int64:
            arr = arr.astype(np.int32)  # netCDF3 has no 64-bit integers
        variables[name] = (dims, arr)
    ds = xr.Dataset(variables, coords={name: (name, vals, {"scale": _axis_scale(vals)})
                                       for name, vals in coords.items()})
    descriptions = {
        "generator_rate": "predicted generator-visible rate |z| (theory section 4)",
        "spectral_radius": "predicted spectral radius, discriminator modes included",
        "dominant_real": "real part of the predicted dominant eigenvalue z",
        "dominant_imag": "imaginary part (>= 0) of the predicted dominant eigenvalue z",
        "runner_up_rate": "largest modulus among the other generator-visible eigenvalues (not z, conj z)",
        "measured_rate": "modulus of the dominant eigenvalue fitted to the simulated run",
        "measured_real": "real part of the measured dominant eigenvalue",
        "measured_imag": "imaginary part of the measured dominant eigenvalue",
        "num_taken": "steps taken by the simulated run",
        "truncation_bound": "certified bound on the discriminator-gradient error from history truncation",
    }
    for name, text in descriptions.items():
        if name in ds:
            ds[name].attrs["description"] = text
    ds["regime"].attrs.update(_REGIME_ATTRS, tol=attrs["tol"])
    if "measured_regime" in ds:
        ds["measured_regime"].attrs.update(_REGIME_ATTRS, tol=attrs["measure_tol"])
        ds["status"].attrs.update(flag_attrs(), description="outcome of the simulated run "
                                  "(kernelgda.status.Status codes)")
    ds.attrs.update({k: _attr(v) for k, v in attrs.items()})
    ds.attrs["axes"] = " ".join(dims)
    ds.attrs["kernelgda_version"] = __version__
    ds.attrs.update({k: _attr(v) for k, v in values.items()})
    if scenario is not None:
        ds.attrs["scenario"] = scenario.name
        ds.attrs["kernel"] = scenario.gan.kernel.name
        ds.attrs["scenario_source"] = json.dumps(scenario.source, default=str, sort_keys=True)
    return ds
