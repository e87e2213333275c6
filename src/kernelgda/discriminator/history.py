"""The history buffer of an expansion: slices of ``n`` centres in growable row buffers."""

from __future__ import annotations

import numpy as np

from ..resources import check_history
from .kernel_sums import augment_centres

__all__ = ["History", "RESCALE_BELOW"]

#: Coefficients are stored divided by a running decay product ``scale`` (so a decay is O(1));
#: once ``|scale|`` falls below this they are renormalised (1e-100 keeps them far from
#: overflow and underflow). Used by the single-run and the batched discriminators.
RESCALE_BELOW = 1e-100


class History:
    """Slices of ``n`` centres in preallocated, growable row buffers with a live window."""

    def __init__(self, kernel, origin, n, capacity, width, *, max_memory=None):
        self.kernel = kernel
        self.origin = origin
        self.n = n
        d = origin.shape[0]
        check_history(capacity, n, d + 2 + width, limit=max_memory)  # refuse before allocating
        self.zaug = np.empty((capacity * n, d + 2))
        self.coef = np.empty((width, capacity * n))  # coefficient columns, one per centre
        self.mass = np.empty(capacity)  # per-slice absolute coefficient mass, if the owner keeps it
        self.start = 0
        self.stop = 0

    @property
    def num_slices(self) -> int:
        return self.stop - self.start

    @property
    def nbytes(self) -> int:
        return self.zaug.nbytes + self.coef.nbytes + self.mass.nbytes

    @property
    def rows(self) -> slice:
        """The live centres' rows of ``zaug`` (columns of ``coef``)."""
        return slice(self.start * self.n, self.stop * self.n)

    def push(self, y) -> tuple[slice, np.ndarray]:
        """Append the centres ``y``; return the new slice's rows and its centred points."""
        if self.stop * self.n == self.zaug.shape[0]:
            self._make_room()
        rows = slice(self.stop * self.n, (self.stop + 1) * self.n)
        yc = y - self.origin
        self.zaug[rows] = augment_centres(self.kernel, yc)
        self.stop += 1
        return rows, yc

    def _make_room(self):
        k, n, cap = self.num_slices, self.n, self.zaug.shape[0] // self.n
        live = self.rows
        if 2 * k <= cap:  # slide the live window to the front (source and target are disjoint)
            self.zaug[:k * n] = self.zaug[live]
            self.coef[:, :k * n] = self.coef[:, live]
            self.mass[:k] = self.mass[self.start:self.stop]
        else:
            new = max(16, 2 * cap)
            zaug = np.empty((new * n, self.zaug.shape[1]))
            zaug[:k * n] = self.zaug[live]
            coef = np.empty((self.coef.shape[0], new * n))
            coef[:, :k * n] = self.coef[:, live]
            mass = np.empty(new)
            mass[:k] = self.mass[self.start:self.stop]
            self.zaug, self.coef, self.mass = zaug, coef, mass
        self.start, self.stop = 0, k
