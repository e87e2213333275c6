"""Input validation at the public boundary.

Every public function coerces its arrays once, here, and raises a
``ValueError`` that names the argument and says what was expected. Code
behind the boundary trusts its inputs.
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np

#: Largest coordinate accepted in a point set: with kernel bandwidths >= 1e-50
#: (:data:`kernelgda.kernels.PARAM_MIN`) every ``|u - v|^2 / sigma^2`` is then below 1e201.
COORD_MAX = 1e50


def scalar(value, name: str, *, positive: bool = False, nonnegative: bool = False) -> float:
    """Return ``value`` as a finite Python float, checking its sign (booleans are refused)."""
    if isinstance(value, bool | np.bool_):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    if isinstance(value, str | bytes):  # float("0.1") would parse it: a string is a slip
        raise ValueError(f"{name} must be a real number, not a string: {value!r}")
    if not isinstance(value, Real | np.floating | np.integer):
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a real number, got {value!r}") from None
        except OverflowError:
            raise ValueError(f"{name} must be finite (within the float64 range)") from None
    try:
        value = float(value)
    except OverflowError:  # a Python int (or Fraction) beyond the float64 range
        raise ValueError(f"{name} must be finite (within the float64 range), got {short(value)}") from None
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if positive and value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    if nonnegative and value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


def _digits(value) -> int:
    try:
        return len(str(abs(int(value))))
    except (TypeError, ValueError, OverflowError):  # beyond int's str() limit
        return math.ceil(abs(int(value)).bit_length() * math.log10(2))


def reals(value, name: str, *, kinds: str = "biuf", dtype=float) -> np.ndarray:
    """Coerce a number or a (nested) array of numbers to a ``dtype`` array, refusing anything
    that is not a number: strings and bytes (``"0.1"`` would parse, but a string among numbers
    is a slip), dates, objects, ragged nestings, and integers beyond the float64 range.

    The one rule for every array argument, as :func:`scalar` is for every scalar one:
    real numbers only (``kinds`` ``"biufc"`` and ``dtype=complex`` where complex numbers are
    meant). Values are not otherwise checked (NaN passes; see :func:`array`).

    >>> reals([1, 2.5], "x").tolist()
    [1.0, 2.5]
    >>> reals([["0", "1"]], "x")
    Traceback (most recent call last):
    ...
    ValueError: x must be numbers, not strings, bytes or dates: got <U1 values
    """
    if isinstance(value, np.ndarray) and value.dtype.kind in kinds:
        return np.asarray(value, dtype=dtype)
    try:
        raw = np.asarray(value)
    except ValueError:  # a ragged nesting
        raise ValueError(f"{name} must be a number or a rectangular array of numbers") from None
    except OverflowError:
        raise ValueError(f"{name} must be finite (within the float64 range)") from None
    if raw.dtype.kind in "USaMmV":
        raise ValueError(f"{name} must be numbers, not strings, bytes or dates: got {raw.dtype} values")
    if raw.dtype.kind == "O":  # mixed nestings: every item must itself be a number
        for item in raw.ravel().tolist():
            number = isinstance(item, Real | np.number) or ("c" in kinds and isinstance(item, complex))
            if not number or (isinstance(item, bool) and "b" not in kinds):
                raise ValueError(f"{name} must be numbers, got {type(item).__name__} {item!r:.40}")
    elif raw.dtype.kind not in kinds:
        what = "real numbers" if "c" not in kinds else "numbers"
        raise ValueError(f"{name} must be {what}, got {raw.dtype} values")
    try:
        return np.asarray(raw, dtype=dtype)
    except OverflowError:  # a Python int beyond the float64 range
        raise ValueError(f"{name} must be finite (within the float64 range)") from None
    except (TypeError, ValueError):  # objects that are not numbers
        raise ValueError(f"{name} must be numbers, got {raw.dtype} values") from None


def array(value, name: str, *, positive: bool = False, nonnegative: bool = False,
          allow_inf: bool = False) -> np.ndarray:
    """Coerce a real scalar or array (any shape) to float64: no NaN, finite unless ``allow_inf``,
    and the sign checked; a ``ValueError`` naming ``name`` otherwise."""
    arr = reals(value, name)
    if allow_inf:
        if np.any(np.isnan(arr)):
            raise ValueError(f"{name} must not contain NaN")
    elif not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    if positive and np.any(arr <= 0):
        raise ValueError(f"{name} must be > 0")
    if nonnegative and np.any(arr < 0):
        raise ValueError(f"{name} must be >= 0")
    return arr


def integer(value, name: str, *, minimum: int | None = None) -> int:
    """Return ``value`` as an int, refusing floats with a fractional part and bools."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if isinstance(value, float | np.floating) and float(value).is_integer():
        value = int(value)
    if not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {short(value)}")
    return value


def short(value) -> str:
    """``value`` for a one-line message: an integer of more than 30 digits by its length.

    >>> short(12), short(-10**400)
    ('12', '-(an integer of 401 digits)')
    """
    if isinstance(value, int | np.integer) and not isinstance(value, bool) and abs(value) >= 10**30:
        return f"{'-' if value < 0 else ''}(an integer of {_digits(value)} digits)"
    return repr(value)


def points(value, name: str, *, d: int | None = None) -> np.ndarray:
    """Coerce a point set to a finite float64 array of shape ``(num, d)``.

    A 1-d array is read as ``num`` points in one dimension.
    """
    arr = np.array(reals(value, name), dtype=float)  # a copy: the caller keeps its array
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} must have shape (num_points, d) with both > 0, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain only finite numbers (no NaN or inf)")
    if np.abs(arr).max() > COORD_MAX:
        raise ValueError(f"{name} must have coordinates of size at most {COORD_MAX:g}, "
                         f"got {np.abs(arr).max():g}")
    if d is not None and arr.shape[1] != d:
        raise ValueError(f"{name} must have dimension d = {d}, got shape {arr.shape}")
    return arr


def weights(value, name: str, num: int, *, positive: bool = True) -> np.ndarray:
    """Coerce weights to a finite float64 array of shape ``(num,)``.

    A scalar is broadcast to all ``num`` points.
    """
    arr = np.array(reals(value, name), dtype=float)
    if arr.ndim == 0:
        arr = np.full(num, float(arr))
    if arr.shape != (num,):
        raise ValueError(f"{name} must have shape ({num},) to match the points, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain only finite numbers (no NaN or inf)")
    if positive and np.any(arr <= 0):
        raise ValueError(f"{name} must be > 0 (drop points of zero weight), got {arr}")
    if not positive and np.any(arr < 0):
        raise ValueError(f"{name} must be >= 0, got {arr}")
    return arr


def choice(value, name: str, options) -> str:
    """Check that ``value`` is one of ``options``."""
    if value not in options:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, options))}; got {value!r}")
    return value


def broadcast_cells(what: str, per_cell: int, **params) -> tuple:
    """The broadcast shape of ``params``; a one-line ``ValueError`` when they do not broadcast
    together, broadcast to nothing, or ``per_cell`` float64 arrays of that shape would not fit
    in memory (:func:`kernelgda.resources.check_bytes`)."""
    from .resources import check_bytes, format_count, grid_bytes

    try:
        shape = np.broadcast_shapes(*(np.shape(v) for v in params.values()))
    except ValueError:
        shapes = ", ".join(f"{k} {np.shape(v)}" for k, v in params.items() if np.ndim(v))
        raise ValueError(f"the parameters do not broadcast together: {shapes}") from None
    size = math.prod(shape)
    if size == 0:
        raise ValueError(f"the parameters broadcast to an empty shape {shape}; give at least one value")
    check_bytes(grid_bytes(size, per_cell), what, hint="use fewer values",
                detail=f"{format_count(size)} cells x {per_cell} float64 arrays")
    return shape
