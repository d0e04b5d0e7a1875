"""Pydantic bases shared by operation params."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class UserParams(BaseModel):
    """Params of an operation that acts on one user's data."""

    model_config = ConfigDict(extra="forbid")

    user_id: str = Field(min_length=1, max_length=255, description="The user whose data the operation acts on.")
