"""The shop simulator: deterministic shop traffic with ground-truth labels."""

from ._archetypes import ARCHETYPES, Archetype
from ._catalog import BUNDLES, Catalog, Product
from ._shop import CSV_COLUMNS, Shop

__all__ = ["ARCHETYPES", "BUNDLES", "CSV_COLUMNS", "Archetype", "Catalog", "Product", "Shop"]
