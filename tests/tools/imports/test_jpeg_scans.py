"""Progressive JPEGs decoded at a reduced size without their final refinement scans."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tools.imports.decode import ImageRejected, decode
from tools.imports.jpeg_scans import without_final_refinement

HIRES = Path(__file__).resolve().parents[3].parent / "shared" / "datasets" / "photos-hires"


def _photo() -> Image.Image:
    """A real photo where the dataset is at hand, else a textured synthetic one."""
    files = sorted(HIRES.glob("*.jpg")) if HIRES.is_dir() else []
    if files:
        with Image.open(files[0]) as image:
            return image.convert("RGB").resize((1600, 1000))
    rng = np.random.default_rng(3)
    base = np.linspace(0, 255, 1600)[None, :, None] * np.ones((1000, 1, 3))
    return Image.fromarray(np.clip(base + rng.normal(0, 25, (1000, 1600, 3)), 0, 255).astype(np.uint8))


def _jpeg(image: Image.Image, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90, **options)
    return buffer.getvalue()


def _reduced(data: bytes, scale: int) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        image.draft("RGB", (image.width // scale, image.height // scale))
        return np.asarray(image.convert("RGB"), dtype=np.float64)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255**2 / max(1e-9, np.mean((a - b) ** 2))))


def test_the_final_scans_are_dropped_and_the_reduced_image_barely_changes() -> None:
    data = _jpeg(_photo(), progressive=True)
    shorter = without_final_refinement(data)
    assert len(shorter) < 0.8 * len(data)
    for scale in (2, 4, 8):
        assert _psnr(_reduced(data, scale), _reduced(shorter, scale)) > 40, scale
    decoded = decode(data, max_pixels=50_000_000, target=400)
    assert decoded.image.size == (400, 250) and (decoded.width, decoded.height) == (1600, 1000)
    assert _psnr(np.asarray(decoded.image, dtype=np.float64), _reduced(data, 4)) > 40


def test_fill_bytes_before_markers_are_allowed() -> None:
    data = _jpeg(_photo(), progressive=True)
    sos = data.index(b"\xff\xda")
    padded = data[:sos] + b"\xff\xff\xff" + data[sos:]
    shorter = without_final_refinement(padded)
    assert len(shorter) < 0.8 * len(padded)
    assert _psnr(_reduced(padded, 4), _reduced(shorter, 4)) > 40


def test_baseline_truncated_and_non_jpeg_bytes_are_left_alone() -> None:
    photo = _photo()
    baseline = _jpeg(photo)
    assert without_final_refinement(baseline) is baseline
    progressive = _jpeg(photo, progressive=True)
    truncated = progressive[: len(progressive) * 2 // 3]
    assert without_final_refinement(truncated) is truncated
    with pytest.raises(ImageRejected, match=r"truncated|corrupt"):
        decode(truncated, max_pixels=50_000_000, target=400)
    png = io.BytesIO()
    photo.save(png, "PNG")
    assert without_final_refinement(png.getvalue()) == png.getvalue()


def test_a_photo_decoded_at_full_size_keeps_every_scan() -> None:
    data = _jpeg(_photo().resize((600, 375)), progressive=True)
    decoded = decode(data, max_pixels=50_000_000, target=1024)
    with Image.open(io.BytesIO(data)) as image:
        full = np.asarray(image.convert("RGB"))
    assert np.array_equal(np.asarray(decoded.image), full)
