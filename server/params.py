"""Turns pydantic validation errors into one readable line that names the field."""

from __future__ import annotations

from pydantic import ValidationError


def describe_validation_error(exc: ValidationError, prefix: str = "") -> str:
    parts = []
    for error in exc.errors(include_url=False):
        location = ".".join(str(p) for p in error.get("loc", ()) if p != "__root__")
        field = f"{prefix}{location}" if location else (prefix.rstrip(".") or "body")
        message = error.get("msg", "invalid value")
        if error.get("type") == "extra_forbidden":
            message = "unknown field"
        parts.append(f"{field}: {message}")
    return "; ".join(parts) or "invalid parameters"
