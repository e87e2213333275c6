"""A catalogue of every fixed point Newton finds, with basins (theory sections 3, 4, 9, 10).

``kg.fixed_points(gan, q, gda=...)`` answers "what can training get stuck in?": Newton's
method (:func:`kernelgda.find_equilibrium`) from given, structured (coincident and straddling
groups on every true point) and random starts (:mod:`~kernelgda.catalogue.starts`); every
fixed point once, named and judged (:mod:`~kernelgda.catalogue.search`); and, from a set of
starts, which fixed point (or stall, escape, divergence) the exact dynamics reach
(:meth:`Catalogue.basins`, :mod:`~kernelgda.catalogue.basins`).

The parts are separate so that another kind of generator changes only the starts and the
sameness test (:mod:`~kernelgda.catalogue.starts`) and the one call to the solver
(``search._solve``).
"""

from .basins import OUTCOMES, Basins, basins
from .search import Catalogue, FixedPoint, fixed_points

__all__ = ["fixed_points", "Catalogue", "FixedPoint", "Basins", "basins", "OUTCOMES"]
