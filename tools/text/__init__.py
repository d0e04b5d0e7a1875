"""Suggest text (issue 6): titles, subtitles, captions and dedications in de, fr, it and en."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tools.catalog import Catalog


def register(catalog: Catalog) -> None:
    from tools.text.operations import register as register_operations

    register_operations(catalog)
