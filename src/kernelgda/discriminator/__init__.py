"""Discriminators of the exact dynamics (theory section 2).

- :mod:`~kernelgda.discriminator.expansion`: the exact kernel expansion of one run
  (:class:`Expansion`; :class:`MultiExpansion` for the two-function rules of theory section 8);
- :mod:`~kernelgda.discriminator.batched`: the same for many cells advanced together
  (used by :func:`kernelgda.simulate_batch`);
- :mod:`~kernelgda.discriminator.kernel_sums`: blocked kernel sums (gradients at many points);
- :mod:`~kernelgda.discriminator.history`: the history buffer of centres;
- :mod:`~kernelgda.discriminator.fgt`: the fast Gauss transform of the history (Hermite
  expansions in boxes, a certified gradient-error bound; ``kg.FastGaussTransform``);
- :mod:`~kernelgda.discriminator.truncation`: the one truncation tracker (dropped mass and its
  certified gradient bound);
- the shared worker pool is :mod:`kernelgda.threads`.

Random-feature discriminators are in :mod:`kernelgda.features`. Every discriminator offers the
interface the update rules step through (:mod:`kernelgda.rules`).
"""

from ..threads import THREADS, ThreadPool
from .expansion import Expansion, MultiExpansion
from .fgt import FastGaussTransform, GaussTransform
from .history import RESCALE_BELOW, History
from .kernel_sums import augment_centres, coef_columns, kernel_grad_sum
from .truncation import MIX_COND_MAX, TruncationTracker

__all__ = ["Expansion", "MultiExpansion", "FastGaussTransform", "GaussTransform",
           "History", "TruncationTracker", "ThreadPool", "THREADS",
           "kernel_grad_sum", "augment_centres", "coef_columns", "MIX_COND_MAX", "RESCALE_BELOW"]
