"""Params and results of DETECT_DUPLICATES and SUGGEST_ALTERNATIVE_IMAGES."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

from tools.models import UserParams

SENSITIVITY_HELP = (
    "How different two files may be and still count as copies of one photo. 'strict': near-exact copies "
    "only (re-encoded, resized, format-converted, lightly edited). 'normal' (default): also crops that keep most "
    "of the frame, slight rotations, letterbox bars, flips, grayscale and colour edits. 'loose': heavier edits; "
    "more risk of joining distinct shots of one scene."
)


class DetectDuplicatesParams(UserParams):
    image_ids: list[str] | None = Field(
        default=None,
        min_length=1,
        max_length=200_000,
        description="Only these photos (our image_id or your original_image_id); default: the whole library.",
    )
    sensitivity: Literal["strict", "normal", "loose"] = Field(default="normal", description=SENSITIVITY_HELP)
    include_similar: bool = Field(
        default=True, description="Also report groups of distinct shots of one moment (bursts), best first."
    )


class DuplicateImage(BaseModel):
    image_id: str = Field(description="Our id for the photo.")
    original_image_id: str = Field(description="Your id for the photo.")
    confidence: float = Field(description="0..1: how sure it is a copy of the kept photo (1 for the kept one).")
    relation: str = Field(
        description="kept, identical bytes, mirror image, cropped or rotated, or edited or re-encoded."
    )


class DuplicateGroupOut(BaseModel):
    keep: str = Field(description="image_id of the copy to keep.")
    reason: str = Field(
        description="Why that copy: original format, most metadata, resolution, compression, sharpness."
    )
    images: list[DuplicateImage] = Field(description="The kept copy first, then the others by confidence.")


class SimilarShot(BaseModel):
    image_id: str
    original_image_id: str
    rank: int = Field(description="1 = the best shot of the moment.")
    score: float = Field(description="0..1 shot quality: sharpness, faces, exposure.")
    reasons: list[str] = Field(description="Why it ranks there against the other shots.")


class SimilarGroupOut(BaseModel):
    best: str = Field(description="image_id of the best shot.")
    similarity: float = Field(description="Lowest descriptor cosine between linked shots of the group.")
    images: list[SimilarShot] = Field(description="Best first. Distinct photos: none of them is a copy.")


class DuplicateCounts(BaseModel):
    images_checked: int
    duplicate_groups: int
    redundant_copies: int = Field(description="Copies that could go (every group's images except the kept one).")
    similar_groups: int
    similar_images: int


class DuplicateParameters(BaseModel):
    sensitivity: str
    include_similar: bool
    image_ids: int | None = Field(description="How many image_ids were given; null for the whole library.")


class DetectDuplicatesResult(BaseModel):
    duplicates: list[DuplicateGroupOut]
    similar: list[SimilarGroupOut]
    counts: DuplicateCounts
    parameters: DuplicateParameters


class SuggestAlternativesParams(UserParams):
    image_id: str | None = Field(default=None, min_length=1, max_length=1024, description="The photo to replace.")
    image_ids: list[str] | None = Field(
        default=None, min_length=1, max_length=100, description="Several photos (e.g. a page); instead of image_id."
    )
    count: int = Field(default=5, ge=1, le=100, description="How many alternatives.")
    exclude_ids: list[str] = Field(
        default_factory=list, max_length=100_000, description="Photos never to suggest (e.g. already in the book)."
    )
    prefer: Literal["sharper", "faces", "landscape", "portrait"] | None = Field(
        default=None, description="Favour sharper photos, more faces, or an orientation to fit a slot."
    )

    @model_validator(mode="after")
    def _one_target(self) -> SuggestAlternativesParams:
        if (self.image_id is None) == (self.image_ids is None):
            raise ValueError("give exactly one of image_id or image_ids")
        return self

    @property
    def targets(self) -> list[str]:
        return [self.image_id] if self.image_id is not None else list(self.image_ids or [])


class AlternativeOut(BaseModel):
    image_id: str
    original_image_id: str
    score: float = Field(description="Higher is better; comparable within one answer.")
    reasons: list[str] = Field(description="e.g. same moment, same place, visually similar, sharper, more faces.")
    alternative_to: str = Field(description="image_id of the photo it replaces.")


class SuggestAlternativesResult(BaseModel):
    image_ids: list[str] = Field(description="The photos alternatives were found for (our ids).")
    alternatives: list[AlternativeOut] = Field(description="Best first.")
    count: int
    prefer: str | None = None
