"""The CPU pool the analysis runs in: lean spawned workers that still run every step."""

from __future__ import annotations

import sys

from server.dispatch.pool import make_cpu_pool
from tests.tools.imports.helpers import photo
from tools.imports.analysis import analyse_photo


def _loaded_modules() -> list[str]:
    return sorted(sys.modules)


def test_pool_workers_analyse_photos_without_importing_the_parents_main() -> None:
    pool = make_cpu_pool(1)
    try:
        result = pool.submit(analyse_photo, photo(size=(640, 480), seed=2), 50_000_000, 256).result(timeout=120)
        modules = pool.submit(_loaded_modules).result(timeout=60)
    finally:
        pool.shutdown()
    assert result["width"] == 640 and result["thumbnail"]
    # the parent here is pytest: its main script would bring pytest along into a worker that re-ran it
    assert "pytest" not in modules and not any(name.startswith("_pytest") for name in modules)
