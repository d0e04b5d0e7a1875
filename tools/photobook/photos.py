"""The plain, picklable record of one photo that book planning works on (no SQL rows in the pool)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

_MASK = (1 << 64) - 1


@dataclass
class Photo:
    id: str
    original_id: str
    width: int
    height: int
    captured_at: datetime | None
    capture_time_local: str | None
    offset_minutes: int | None
    lat: float | None
    lon: float | None
    faces: list[list[float]]
    quality: dict[str, float]
    quality_score: float
    sharpness: float
    phash: int
    dhash: int
    phash_mirror: int
    descriptor: np.ndarray
    thumbnail_key: str | None
    full_key: str | None
    byte_size: int = 0
    importance: float = 0.0
    features: Any = None  # tools.duplicates.features.PhotoFeatures, for issue 5's grouping
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def aspect(self) -> float:
        return self.width / max(1, self.height)

    @property
    def orientation(self) -> str:
        if self.aspect > 1.1:
            return "landscape"
        if self.aspect < 0.9:
            return "portrait"
        return "square"

    @property
    def local_time(self) -> datetime | None:
        """Capture time on the photographer's clock (for dates, seasons and times of day in text)."""
        if self.capture_time_local:
            try:
                return datetime.fromisoformat(self.capture_time_local)
            except ValueError:
                pass
        return self.captured_at


def from_row(row: Any) -> Photo:
    """A ``Photo`` from a ``storage.models.Image`` row."""
    from tools.duplicates.features import from_image

    raw = row.descriptor
    descriptor = np.frombuffer(raw, dtype=np.float16).astype(np.float32) if raw else np.zeros(88, np.float32)
    meta = row.meta or {}
    return Photo(
        id=str(row.id),
        original_id=row.original_image_id,
        width=row.width,
        height=row.height,
        captured_at=row.captured_at,
        capture_time_local=row.capture_time_local,
        offset_minutes=row.capture_offset_minutes,
        lat=row.gps_lat,
        lon=row.gps_lon,
        faces=[list(map(float, f)) for f in (row.faces or [])],
        quality=dict(row.quality or {}),
        quality_score=float(row.quality_score),
        sharpness=float(row.sharpness),
        phash=int(row.phash) & _MASK,
        dhash=int(row.dhash) & _MASK,
        phash_mirror=int(row.phash_mirror) & _MASK,
        descriptor=descriptor,
        thumbnail_key=row.thumbnail_key,
        full_key=meta.get("image_key") if isinstance(meta.get("image_key"), str) else None,
        byte_size=int(row.byte_size or 0),
        features=from_image(row),
    )
