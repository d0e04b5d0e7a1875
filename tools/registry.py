"""Builds the catalog of every operation; later issues add their module here."""

from __future__ import annotations

from tools import diagnostics, duplicates, generation, imports, photobook, text
from tools.catalog import Catalog

# Contract actions (ActionType) whose operations are not built yet answer 501.
PLANNED_ACTIONS: dict[str, str] = {}


def build_catalog() -> Catalog:
    catalog = Catalog()
    for module in (diagnostics, imports, duplicates, generation, photobook, text):
        module.register(catalog)
    for action, what in PLANNED_ACTIONS.items():
        catalog.plan(action, what)
    return catalog


CATALOG = build_catalog()
