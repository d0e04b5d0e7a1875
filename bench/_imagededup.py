"""imagededup's hashing methods without its torch part, for side-by-side baselines.

``imagededup`` (the reference the issues measure against) imports torch from its package
``__init__`` files only for its CNN method. The benchmarks install it with ``--no-deps`` plus
the light dependencies of its hashing code (see bench/README.md) and load the hashing module
through package shells that skip those ``__init__`` files. Nothing of imagededup is changed.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Any


class ImagededupMissing(RuntimeError):
    """imagededup or one of its hashing dependencies is not installed."""


INSTALL_HINT = (
    ".venv/bin/pip install --no-deps 'imagededup>=0.3.3' && "
    ".venv/bin/pip install 'PyWavelets>=1.6' 'scipy>=1.13' 'scikit-learn>=1.5' 'tqdm>=4.66'"
)


def _shell(name: str) -> None:
    """Register package ``name`` with its real ``__path__`` but without running its ``__init__``."""
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)
    if spec is None or spec.submodule_search_locations is None:
        raise ImagededupMissing(f"{name} is not installed: {INSTALL_HINT}")
    module = types.ModuleType(name)
    module.__path__ = list(spec.submodule_search_locations)
    module.__spec__ = spec
    sys.modules[name] = module


def hashing() -> Any:
    """The ``imagededup.methods.hashing`` module (PHash, DHash, ...)."""
    try:
        for name in ("imagededup.methods", "imagededup.utils"):
            _shell(name)
        return importlib.import_module("imagededup.methods.hashing")
    except ModuleNotFoundError as exc:
        raise ImagededupMissing(f"{exc}; install the baseline with: {INSTALL_HINT}") from exc


def version() -> str:
    from importlib.metadata import version as dist_version

    return dist_version("imagededup")
