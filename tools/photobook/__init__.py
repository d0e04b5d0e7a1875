"""Suggest a photobook (issue 6): selection, chapters, pages, crops, cover, rendered preview."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tools.catalog import Catalog


def register(catalog: Catalog) -> None:
    from tools.photobook.operations import register as register_operations

    register_operations(catalog)
