"""Builds the catalog of every operation; later issues add their module here."""

from __future__ import annotations

from tools import diagnostics, generation, imports
from tools.catalog import Catalog

# Contract actions (ActionType) whose operations are not built yet answer 501.
PLANNED_ACTIONS = {
    "SUGGEST_TEXT": "suggest text (issue 6)",
    "SUGGEST_ALTERNATIVE_IMAGES": "suggest alternative images (issue 5)",
    "DETECT_DUPLICATES": "detect duplicates (issue 5)",
    "SUGGEST_PHOTOBOOK": "suggest photobook (issue 6)",
}


def build_catalog() -> Catalog:
    catalog = Catalog()
    for module in (diagnostics, imports, generation):
        module.register(catalog)
    for action, what in PLANNED_ACTIONS.items():
        catalog.plan(action, what)
    return catalog


CATALOG = build_catalog()
