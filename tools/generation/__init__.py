"""Generate images through a configured provider (issue 8)."""

from __future__ import annotations

from tools.generation.operations import register

__all__ = ["register"]
