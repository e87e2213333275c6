"""The experiments that reproduce the paper's evidence (theory section 7), and their registry.

Each experiment is a module with a frozen ``Config`` dataclass (the defaults), a
``QUICK`` configuration that runs in seconds, a pure ``compute(config) -> Result``
and a pure ``plot(result) -> Figure``. :data:`EXPERIMENTS` maps the registry name
to an :class:`Experiment`; ``kernelgda reproduce`` runs them all.

Examples
--------
>>> from kernelgda.experiments import EXPERIMENTS
>>> list(EXPERIMENTS)[:3]
['rate-check', 'spectral-maps', 'regime-diagram']
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import ModuleType

from . import (
    beyond_isolated,
    digits,
    digits_generator,
    generator_kernel,
    kernel_shape,
    linear_validity,
    local_minima,
    moment_models,
    network_discriminator,
    parametric_minima,
    rate_check,
    regime_diagram,
    ring,
    ring_moments,
    rule_comparison,
    rule_rates,
    smm_spread,
    smm_validity,
    spectral_maps,
    spread_law,
    stability_regions,
    two_point,
)
from ._base import Result, config_dict, no_progress, to_dataset

__all__ = ["Experiment", "EXPERIMENTS", "get", "Result", "to_dataset", "config_dict", "cited_sections"]


@dataclass(frozen=True)
class Experiment:
    """A registry entry: the experiment's module and what the CLI needs to know about it."""

    name: str
    module: ModuleType

    @property
    def description(self) -> str:
        """One-line description."""
        return self.module.DESCRIPTION

    @property
    def theory_sections(self) -> tuple[int, ...]:
        """Sections of ``docs/theory.md`` the experiment checks: the module's
        ``THEORY_SECTIONS`` if it sets one, else the numbers its description cites
        ("theory section 7.1" -> 7, "sections 9, 11" -> 9, 11)."""
        if hasattr(self.module, "THEORY_SECTIONS"):
            return tuple(self.module.THEORY_SECTIONS)
        return cited_sections(self.description)

    def config(self, quick: bool = False):
        """The default configuration, or the quick one (seconds)."""
        return self.module.QUICK if quick else self.module.Config()

    def compute(self, config=None, *, progress=no_progress) -> Result:
        """Run the experiment (pure: no files, deterministic given the config's seed)."""
        return self.module.compute(self.config() if config is None else config, progress=progress)

    def plot(self, result: Result):
        """The figure of a result (a matplotlib Figure)."""
        from ..plotting import style

        with style():  # text sizes are fixed when artists are created, so style the drawing
            return self.module.plot(result)


_CITED = re.compile(r"sections?\s+(\d+(?:\.\d+)?(?:\s*(?:,|and|-)\s*\d+(?:\.\d+)?)*)")


def cited_sections(text: str) -> tuple[int, ...]:
    """Top-level theory sections cited in ``text`` ("section 7.1", "sections 9, 11"), sorted.

    Examples
    --------
    >>> cited_sections("rates against sigma (theory sections 9, 11 and 7.2)")
    (7, 9, 11)
    >>> cited_sections("no citation")
    ()
    """
    found = set()
    for group in _CITED.findall(text):
        found.update(int(num.split(".")[0]) for num in re.findall(r"\d+(?:\.\d+)?", group))
    return tuple(sorted(found))


#: Registry name -> Experiment, in the order ``kernelgda reproduce`` runs them.
EXPERIMENTS = {m.NAME: Experiment(m.NAME, m) for m in (
    rate_check, spectral_maps, regime_diagram, two_point, beyond_isolated, linear_validity, digits,
    stability_regions, rule_comparison, rule_rates, smm_spread, spread_law, smm_validity, kernel_shape,
    local_minima, ring, moment_models, ring_moments, network_discriminator, generator_kernel,
    parametric_minima, digits_generator)}


def get(name: str) -> Experiment:
    """The experiment called ``name``; a ``ValueError`` listing the valid names otherwise."""
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; valid names: {', '.join(EXPERIMENTS)}")
    return EXPERIMENTS[name]
