"""The Zarr store of a sweep: written block by block, readable while it grows, resumable.

Layout (Zarr format 2, consolidated metadata, so ``xarray.open_zarr(path)`` reads it
without options): every variable of the phase dataset on the grid, one Zarr chunk per
block (:mod:`kernelgda.phase.sweep`), and the attributes of the finished dataset, all
written before the first block is computed; cells of blocks not yet finished read as the
fill value (``nan``; ``0`` for the integer variables, so ``progress`` tells which are
done). The subgroup ``progress`` holds ``checksum``: one
CRC-32 per block of its stored bytes, written *after* the block's data, ``-1`` while
missing. The root attribute ``kernelgda_sweep`` records the sweep's arguments.

Creation is atomic: the empty store is written under a temporary name beside ``path`` and
renamed into place, so a store that exists is complete (a full disk leaves nothing), and
the run writing a store holds an exclusive ``flock`` on its directory from before the
rename until the sweep ends; a second run on the same path is told another run is writing
it (:class:`StoreTaken`), whether it resumes or starts afresh.

Resuming (:func:`open_store` on an existing store): a store of other arguments is refused;
a block is complete when its checksum is present and equal to the CRC-32 of what is read
back, so a block whose data file is missing, truncated or altered is recomputed (and
counted in ``SweepStore.corrupt``). The checksums cover the blocks only: coordinates that
differ from the arguments and a damaged or missing consolidated metadata are rewritten
from the arguments; a variable or checksum array whose own metadata is missing or damaged
cannot be recomputed in place and is one ``ValueError`` naming it and the way out (delete
the store and rerun).
"""

from __future__ import annotations

import json
import os
import zlib
from pathlib import Path

import numpy as np

__all__ = ["SweepStore", "open_store", "fingerprint", "existing_store_message", "StoreTaken",
           "store_in_use", "in_use_message",
           "STORE_NAME", "FILL"]

STORE_NAME = "phase.zarr"
#: Fill value of each dtype: what unfinished cells read as (Zarr's default for integers).
FILL = {"f8": np.nan, "i1": 0, "i4": 0}


def _require_zarr():
    try:
        import zarr
    except ImportError:
        raise ValueError("the zarr format needs zarr: pip install 'kernelgda[cluster]'") from None
    return zarr


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    return value if isinstance(value, str | int | float | bool | type(None)) else str(value)


def fingerprint(sweep) -> str:
    """The sweep's arguments as JSON (what a resumed store must match)."""
    spec = {"coords": sweep.coords, "values": sweep.values, "block": sweep.block,
            "scenario": None if sweep.scenario is None else sweep.scenario.source, **sweep.attrs()}
    return json.dumps(_jsonable(spec), sort_keys=True)


def _crc(arrays: dict) -> int:
    crc = 0
    for name in sorted(arrays):
        crc = zlib.crc32(np.ascontiguousarray(arrays[name]).tobytes(), crc)
    return crc


class SweepStore:
    """An open sweep store: :meth:`write` a block, ``done`` (blocks complete), ``corrupt``
    (blocks found incomplete or damaged when it was opened)."""

    def __init__(self, path: Path, sweep, group, done: set, corrupt: int, lock=None):
        self.path, self.sweep, self.group, self.lock = path, sweep, group, lock
        self.checksum = group["progress/checksum"]
        self.done, self.corrupt = done, corrupt

    def write(self, index: int, arrays: dict) -> None:
        """Store block ``index``: its data, then its checksum (the mark of completion)."""
        sl = self.sweep.slices(index)
        for name in self.sweep.variables:
            self.group[name][sl] = arrays[name]
        self.checksum[index] = _crc({k: arrays[k] for k in self.sweep.variables})
        self.done.add(index)

    def close(self) -> None:
        """Release the store's lock (another run may then resume it)."""
        _unlock(self.lock)
        self.lock = None

    def read(self, index: int) -> dict:
        sl = self.sweep.slices(index)
        return {name: self.group[name][sl] for name in self.sweep.variables}

    def dataset(self):
        """The stored dataset, read lazily (``xarray.open_zarr``)."""
        import xarray as xr

        ds = xr.open_zarr(self.path)
        ds.attrs.pop("kernelgda_sweep", None)
        return ds


def _verify(store: SweepStore) -> tuple[set, int]:
    sums = store.checksum[:]
    done, corrupt = set(), 0
    for index in np.nonzero(sums >= 0)[0].tolist():
        try:
            ok = _crc(store.read(index)) == int(sums[index])
        except Exception:  # noqa: BLE001 - a damaged chunk fails to decode in many ways
            ok = False
        if ok:
            done.add(index)
        else:
            corrupt += 1
            store.checksum[index] = -1
    return done, corrupt


def open_store(path, sweep, template, *, resume: bool = True) -> SweepStore:
    """Open the store at ``path`` for ``sweep`` (creating it from ``template``, a lazy
    dataset of the right variables, chunks and attributes, when absent).

    Raises ``ValueError`` when ``path`` holds a store of other arguments, or any store and
    ``resume`` is false.
    """
    zarr = _require_zarr()
    path = Path(path)
    spec = fingerprint(sweep)
    if path.exists():
        if not resume:
            raise ValueError(existing_store_message(path))
        lock = _lock(path)
        if lock is None:
            raise StoreTaken(in_use_message(path))
        try:
            group = zarr.open_group(str(path), mode="r+", use_consolidated=False)
            old = group.attrs.get("kernelgda_sweep")
        except Exception:  # noqa: BLE001
            old = None
        if old is None:
            _unlock(lock)
            raise ValueError(f"{path} is not a kernelgda sweep store (or its root metadata is damaged); "
                             "delete it and rerun, or choose another --out")
        try:
            if old != spec:
                raise ValueError(f"{path} was started with other arguments; rerun the same command, "
                                 "or delete it to start again")
            _repair_metadata(zarr, path, group, sweep)
            store = SweepStore(path, sweep, group, set(), 0, lock)
            store.done, store.corrupt = _verify(store)
        except BaseException:
            _unlock(lock)
            raise
        return store
    lock = _create(zarr, path, sweep, template, spec)
    group = zarr.open_group(str(path), mode="r+", use_consolidated=False)
    return SweepStore(path, sweep, group, set(), 0, lock)


def _lock(directory: Path):
    """A descriptor holding an exclusive advisory lock (``flock``) on the store's directory
    itself (a file inside would be read as a Zarr member); None when another process holds
    it. Where ``fcntl`` is missing (Windows) every lock is granted (no check)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover
        return -1
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return -1  # not a directory (a damaged store): the checks after this one report it
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def _unlock(fd) -> None:
    if fd is not None and fd >= 0:
        os.close(fd)


def store_in_use(path) -> bool:
    """Whether another process is writing the store at ``path`` now (holds its lock)."""
    path = Path(path)
    if not path.is_dir():
        return False
    fd = _lock(path)
    _unlock(fd)
    return fd is None


def in_use_message(path) -> str:
    """What to do when another run is writing ``path``."""
    return (f"another run is writing {path} now; let it finish (or rerun with --resume once it has "
            "stopped), or choose another --out")


class StoreTaken(ValueError):
    """Another run created the store first: what is at its path is not this run's to remove."""


def existing_store_message(path) -> str:
    """What to do about an existing ``path`` when a sweep would start there afresh."""
    return f"{path} holds a sweep; rerun with --resume to continue it, or delete it to start again"


def _create(zarr, path: Path, sweep, template, spec) -> None:
    """Write the empty store under a temporary name beside ``path`` and rename it into place:
    a store that exists is complete (a full disk or an interruption leaves no half store), and
    of two runs racing to create it the second is told so instead of finding half of one."""
    import shutil
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    lock = _lock(tmp)  # held from before the store appears under its name
    try:
        encoding = {name: {"chunks": sweep.block} for name in sweep.variables}
        template.attrs["kernelgda_sweep"] = spec
        template.to_zarr(str(tmp), mode="a", compute=False, zarr_format=2, consolidated=True,
                         encoding=encoding)
        group = zarr.open_group(str(tmp), mode="r+", use_consolidated=False)
        progress = group.create_group("progress")
        progress.create_array("checksum", shape=(sweep.num_blocks,), chunks=(1,), dtype="int64",
                              fill_value=-1)
        try:
            tmp.rename(path)
            return lock
        except OSError:
            if path.exists():
                raise StoreTaken(f"{path} was created by another run meanwhile; let that run finish "
                                 "(or rerun with --resume if it stopped), or choose another --out") \
                    from None
            raise
    except BaseException as exc:
        _unlock(lock)
        if not isinstance(exc, OSError):
            raise
        # a full disk, a read-only directory
        raise ValueError(f"cannot create {path}: {exc.strerror or exc}; nothing was left behind") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _repair_metadata(zarr, path: Path, group, sweep) -> None:
    """On resume: coordinates that differ from the sweep's (checksums cover only the blocks) are
    rewritten from the arguments, and the consolidated metadata (what ``xarray.open_zarr``
    reads) is rebuilt; a variable whose own metadata is missing or damaged is one line naming
    it and the way out."""
    for name, values in sweep.coords.items():
        want = np.asarray(values)
        try:
            ok = np.array_equal(group[name][:], want)
        except Exception:  # noqa: BLE001 - a damaged chunk or array fails in many ways
            ok = False
        if not ok:
            try:
                group[name][:] = want
            except Exception as exc:  # noqa: BLE001
                raise ValueError(f"{path}: coordinate {name!r} is damaged and cannot be rewritten "
                                 f"({type(exc).__name__}); delete the store and rerun") from None
    for name in list(sweep.variables) + ["progress/checksum"]:
        try:
            array = group[name]
            if tuple(array.shape) != (tuple(sweep.shape) if name in sweep.variables else (sweep.num_blocks,)):
                raise ValueError("wrong shape")
        except Exception as exc:  # noqa: BLE001
            why = "missing" if isinstance(exc, KeyError) else "damaged"
            raise ValueError(f"{path}: the metadata of {name!r} is {why}; its blocks cannot be read: "
                             "delete the store and rerun") from None
    try:
        zarr.consolidate_metadata(str(path), zarr_format=2)
    except Exception as exc:  # noqa: BLE001
        raise ValueError(f"{path}: its metadata cannot be rebuilt ({type(exc).__name__}); delete the "
                         "store and rerun") from None
