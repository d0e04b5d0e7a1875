"""Import a photo library: one parent job fans out one child job per photo (issue 4).

The package itself stays light: CPU-pool workers unpickle ``tools.imports.analysis`` and
must not pay for the job machinery (SQLAlchemy, httpx) that ``operations`` brings along.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tools.catalog import Catalog


def register(catalog: Catalog) -> None:
    from tools.imports.operations import register as register_operations

    register_operations(catalog)


__all__ = ["register"]
