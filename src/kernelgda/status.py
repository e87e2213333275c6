"""One enumeration of outcomes for every result type (runs, batched runs, fixed points, sweeps).

A result carries ``status`` (a :class:`Status`) and ``message`` (a readable sentence). A
normal outcome that is not a success, such as a run that blows up or a Newton search that
stalls where the gradient has underflowed, is reported through the status; it never raises
and never warns. The pattern follows ``scipy.integrate.solve_ivp`` and diffrax's ``RESULTS``.

The integer codes are stable: they are what datasets store (variable ``status`` with the
CF attributes ``flag_values`` and ``flag_meanings`` from :func:`flag_attrs`).

>>> Status.DIVERGED.code, Status.DIVERGED.label
(1, 'diverged')
>>> Status.from_label("vanishing_gradient") is Status.VANISHING_GRADIENT
True
>>> Status.COMPLETED.ok, Status.ESCAPED.ok
(True, False)
"""

from __future__ import annotations

import enum

import numpy as np

__all__ = ["Status", "flag_attrs"]


class Status(enum.IntEnum):
    """How a computation ended.

    ``COMPLETED``
        A run took every requested step and stayed bounded.
    ``DIVERGED``
        A run left the divergence ball (or produced a non-finite value) and stopped.
    ``SKIPPED``
        A sweep cell that was not run (no fixed point, or its prediction was undetermined).
    ``CONVERGED``
        Newton's method found a genuine fixed point (theory section 3).
    ``NOT_CONVERGED``
        Newton's method stopped without meeting its tolerance.
    ``VANISHING_GRADIENT``
        The gradient fell below its tolerance only because it underflowed far from every
        true point (theory section 10, "Stall points are not fixed points"): a stall, not
        a fixed point.
    ``ESCAPED``
        A run ended with a generated point so far from every true point that the gradient
        it feels is below rounding: the generator has stalled, not converged.
    """

    COMPLETED = 0
    DIVERGED = 1
    SKIPPED = 2
    CONVERGED = 3
    NOT_CONVERGED = 4
    VANISHING_GRADIENT = 5
    ESCAPED = 6

    @property
    def code(self) -> int:
        """The integer stored in datasets."""
        return int(self.value)

    @property
    def label(self) -> str:
        """Lower-case name, as in a dataset's ``flag_meanings``."""
        return self.name.lower()

    @property
    def ok(self) -> bool:
        """True for the outcomes that are a success: ``COMPLETED`` and ``CONVERGED``."""
        return self in (Status.COMPLETED, Status.CONVERGED)

    @property
    def description(self) -> str:
        """One sentence saying what the status means."""
        return _DESCRIPTIONS[self]

    @classmethod
    def from_label(cls, label: str) -> Status:
        """The status whose :attr:`label` is ``label`` (``ValueError`` otherwise)."""
        try:
            return cls[str(label).upper()]
        except KeyError:
            names = ", ".join(s.label for s in cls)
            raise ValueError(f"status: unknown label {label!r}; expected one of {names}") from None

    def __str__(self) -> str:
        return self.label


_DESCRIPTIONS = {
    Status.COMPLETED: "the run took every requested step and stayed bounded",
    Status.DIVERGED: "the run left the divergence ball or produced a non-finite value",
    Status.SKIPPED: "the cell was not run",
    Status.CONVERGED: "Newton's method found a fixed point",
    Status.NOT_CONVERGED: "Newton's method did not meet its tolerance",
    Status.VANISHING_GRADIENT: ("the gradient vanished only by underflow far from every true point: "
                                "a stall, not a fixed point"),
    Status.ESCAPED: ("a generated point ended so far from every true point that the gradient it feels "
                     "is below rounding"),
}


def flag_attrs() -> dict:
    """CF attributes for an int8 ``status`` variable holding :class:`Status` codes."""
    return {"flag_values": np.array([s.code for s in Status], dtype=np.int8),
            "flag_meanings": " ".join(s.label for s in Status)}
