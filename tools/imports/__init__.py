"""Import a photo library: one parent job fans out one child job per photo (issue 4)."""

from __future__ import annotations

from tools.imports.operations import register

__all__ = ["register"]
