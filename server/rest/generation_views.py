"""What ``/api/generations`` answers with: a generation, its predictions (images) and the job running it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from server.jobs.schemas import JobResponse
from storage.models import Generation, Image, Prediction
from tools.generation.models import EntityRef, GenerateImageParams

OVERRIDABLE = tuple(name for name in GenerateImageParams.model_fields if name not in ("user_id", "generation_id"))


class PredictionView(BaseModel):
    id: uuid.UUID = Field(description="Pass it to POST /api/generations/{id}/select.")
    index: int = Field(description="Position in the batch, from 0.")
    status: str
    image_id: uuid.UUID | None = Field(description="The image in the user's library (null if it was deleted).")
    image_url: str | None = Field(description="The full generated image (PNG/JPEG/WebP as the provider made it).")
    thumbnail_url: str | None
    width: int | None
    height: int | None
    format: str | None
    seed: int | None = Field(description="The seed that made it, where the provider reports it.")
    provider_prediction_id: str | None = Field(description="The provider's own id (Replicate prediction id).")
    selected: bool = Field(description="The chosen image of its entity (at most one per entity).")
    created_at: datetime


class GenerationView(BaseModel):
    id: uuid.UUID
    user_id: str
    status: str = Field(description="pending, processing, completed, failed or cancelled.")
    prompt: str
    negative_prompt: str | None
    params: dict[str, Any] = Field(description="width, height, aspect_ratio, seed, count, style, references, cache.")
    provider: str
    model: str | None
    entity: EntityRef | None
    job_id: uuid.UUID | None = Field(description="The job of the latest run (follow it at /api/jobs/{job_id}).")
    error: str | None = Field(description="Why it failed (the provider's message), or 'cancelled'.")
    error_code: str | None = Field(
        description="upstream_error, invalid_params, content_policy (the provider refused the prompt), cancelled, ..."
    )
    cached: bool = Field(description="True when the prompt cache answered (no provider call).")
    cached_from_generation_id: uuid.UUID | None
    parent_generation_id: uuid.UUID | None = Field(description="Set on a regeneration: the generation it came from.")
    selected_prediction_id: uuid.UUID | None
    predictions: list[PredictionView]
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None


class GenerationAccepted(GenerationView):
    job: JobResponse = Field(description="The job that runs it (status pending).")


class GenerationListResponse(BaseModel):
    items: list[GenerationView]
    total: int
    page: int
    page_size: int


class SelectRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prediction_id: uuid.UUID | None = Field(default=None, description="The prediction to choose.")
    index: int | None = Field(default=None, ge=0, le=3, description="Or its index in the batch.")


class RegenerateRequest(BaseModel):
    """Any of ``generate_image``'s params; those given replace the original's (``cache`` defaults to false)."""

    model_config = ConfigDict(extra="forbid")

    prompt: str | None = None
    negative_prompt: str | None = None
    width: int | None = None
    height: int | None = None
    aspect_ratio: str | None = None
    seed: int | None = None
    count: int | None = None
    style: str | None = None
    reference_image_ids: list[uuid.UUID] | None = None
    provider: str | None = None
    model: str | None = None
    entity: EntityRef | None = None
    cache: bool = Field(default=False, description="true lets the prompt cache answer an identical request.")


class GenerationDeleteResponse(BaseModel):
    id: uuid.UUID
    deleted: bool
    deleted_at: datetime | None


def params_of(generation: Generation) -> dict[str, Any]:
    """The stored request as ``generate_image`` params (provider and model as resolved then)."""
    stored = dict(generation.params or {})
    entity = {"type": generation.entity_type, "id": generation.entity_id} if generation.entity_type else None
    return stored | {
        "user_id": generation.user_id,
        "prompt": generation.prompt,
        "negative_prompt": generation.negative_prompt,
        "provider": generation.provider,
        "model": generation.model,
        "entity": entity,
    }


def prediction_view(generation: Generation, p: Prediction, image: Image | None) -> PredictionView:
    base = f"/api/generations/{generation.id}/predictions/{p.id}"
    return PredictionView(
        id=p.id,
        index=p.index,
        status=p.status,
        image_id=p.image_id,
        image_url=f"{base}/image" if p.image_key and p.image_id else None,
        thumbnail_url=f"/api/images/{image.id}/thumbnail" if image is not None and image.thumbnail_key else None,
        width=image.width if image else None,
        height=image.height if image else None,
        format=image.format if image else None,
        seed=p.seed,
        provider_prediction_id=p.provider_prediction_id,
        selected=p.selected,
        created_at=p.created_at,
    )


def generation_view(
    generation: Generation, predictions: list[Prediction], images: dict[uuid.UUID, Image]
) -> GenerationView:
    entity = (
        EntityRef(type=generation.entity_type, id=generation.entity_id)
        if generation.entity_type and generation.entity_id
        else None
    )
    return GenerationView(
        id=generation.id,
        user_id=generation.user_id,
        status=generation.status,
        prompt=generation.prompt,
        negative_prompt=generation.negative_prompt,
        params=generation.params or {},
        provider=generation.provider,
        model=generation.model,
        entity=entity,
        job_id=generation.job_id,
        error=generation.error,
        error_code=generation.error_code,
        cached=generation.cached_from_id is not None,
        cached_from_generation_id=generation.cached_from_id,
        parent_generation_id=generation.parent_generation_id,
        selected_prediction_id=generation.selected_prediction_id,
        predictions=[
            prediction_view(generation, p, images.get(p.image_id) if p.image_id else None) for p in predictions
        ],
        created_at=generation.created_at,
        updated_at=generation.updated_at,
        completed_at=generation.completed_at,
    )
