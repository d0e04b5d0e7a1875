"""A made-up photo library: three trips (Bern, Paris, Rome) with faces, a burst, a copy and a blurred shot.

Every photo is a real JPEG with EXIF capture time, offset and GPS, written with Pillow, so
the import analyses it like any camera photo. Faces are drawn so OpenCV's Haar cascade
finds them; tests check crops against the boxes the analysis really found.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

from tests.tools.imports.helpers import exif_with

BERN = (46.948, 7.447)
PARIS = (48.857, 2.352)
ROME = (41.893, 12.483)


@dataclass(frozen=True)
class Shot:
    name: str
    taken: datetime
    gps: tuple[float, float]
    size: tuple[int, int] = (1200, 800)
    seed: int = 0
    face_at: tuple[float, float] | None = None  # centre of a face, as fractions
    blur: float = 0.0
    copy_of: str | None = None
    shift: int = 0  # burst frames move a little


def _scene(size: tuple[int, int], seed: int, shift: int) -> Image.Image:
    w, h = size
    hue = (seed * 47) % 200 + 30
    image = Image.new("RGB", size, (hue, 255 - hue, (seed * 91) % 256))
    draw = ImageDraw.Draw(image)
    for n in range(14):
        x = (seed * 131 + n * 97 + shift) % max(1, w - w // 6)
        y = (seed * 71 + n * 59) % max(1, h - h // 6)
        colour = ((n * 70 + seed * 13) % 256, (n * 40 + seed * 29) % 256, (n * 90 + seed) % 256)
        draw.rectangle([x, y, x + w // 7, y + h // 9], fill=colour, outline=(0, 0, 0), width=3)
    return image


def _face(draw: ImageDraw.ImageDraw, cx: float, cy: float, s: float) -> None:
    draw.ellipse([cx - s / 2, cy - s * 0.65, cx + s / 2, cy + s * 0.65], fill=(224, 180, 150))
    for dx in (-0.22, 0.22):
        draw.ellipse([cx + dx * s - s * 0.13, cy - s * 0.18, cx + dx * s + s * 0.13, cy - s * 0.06], fill=(40, 30, 30))
    draw.polygon(
        [(cx, cy - s * 0.05), (cx - s * 0.07, cy + s * 0.18), (cx + s * 0.07, cy + s * 0.18)], fill=(190, 140, 115)
    )
    draw.ellipse([cx - s * 0.2, cy + s * 0.28, cx + s * 0.2, cy + s * 0.38], fill=(120, 50, 50))
    draw.chord([cx - s / 2, cy - s * 0.7, cx + s / 2, cy - s * 0.1], 180, 360, fill=(50, 35, 25))


def render(shot: Shot) -> Image.Image:
    w, h = shot.size
    image = _scene(shot.size, shot.seed, shot.shift)
    if shot.face_at is not None:
        side = min(w, h)
        s = 0.25 * side
        cx, cy = shot.face_at[0] * w, shot.face_at[1] * h
        box = (int(cx - s), int(cy - s * 1.1), int(cx + s), int(cy + s * 1.1))
        patch = Image.new("RGB", (box[2] - box[0], box[3] - box[1]), (90, 140, 200))
        _face(ImageDraw.Draw(patch), patch.width / 2, patch.height / 2, s)
        patch = patch.filter(ImageFilter.GaussianBlur(2 * side / 480))
        image.paste(patch, box[:2])
    if shot.blur:
        image = image.filter(ImageFilter.GaussianBlur(shot.blur))
    return image


def jpeg(shot: Shot, image: Image.Image, quality: int = 92) -> bytes:
    offset = "+02:00"
    exif = exif_with(
        taken=shot.taken.strftime("%Y:%m:%d %H:%M:%S"), offset=offset, gps=shot.gps, make="Made", model="Up"
    )
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality, exif=exif)
    return buffer.getvalue()


def shots() -> list[Shot]:
    out: list[Shot] = []
    day1 = datetime(2024, 5, 10, 10, 0)
    for n in range(6):
        out.append(
            Shot(
                f"bern-{n}.jpg",
                day1 + timedelta(minutes=25 * n),
                BERN,
                seed=n + 1,
                size=(800, 1200) if n == 2 else (1200, 800),
                face_at=(0.5, 0.4) if n == 1 else None,
            )
        )
    burst_at = day1 + timedelta(minutes=140)
    for n in range(3):  # a burst: three frames a second apart, the last one shaky
        out.append(
            Shot(
                f"bern-burst-{n}.jpg",
                burst_at + timedelta(seconds=n),
                BERN,
                seed=40,
                shift=6 * n,
                blur=3.0 if n == 2 else 0.0,
            )
        )
    day3 = datetime(2024, 5, 12, 14, 0)
    for n in range(7):
        out.append(
            Shot(
                f"paris-{n}.jpg",
                day3 + timedelta(minutes=30 * n),
                PARIS,
                seed=n + 11,
                size=(800, 1200) if n in (1, 4) else (1200, 800),
                face_at={0: (0.12, 0.45), 3: (0.5, 0.45), 5: (0.85, 0.45)}.get(n),
            )
        )
    out.append(Shot("paris-0-copy.jpg", day3, PARIS, seed=11, face_at=(0.12, 0.45), copy_of="paris-0.jpg"))
    out.append(Shot("paris-blurred.jpg", day3 + timedelta(minutes=200), PARIS, seed=19, blur=9.0))
    day5 = datetime(2024, 5, 14, 9, 30)
    for n in range(7):
        out.append(
            Shot(
                f"rome-{n}.jpg",
                day5 + timedelta(minutes=35 * n),
                ROME,
                seed=n + 21,
                size=(800, 1200) if n == 3 else (1200, 800),
                face_at=(0.5, 0.42) if n == 2 else None,
            )
        )
    return out


def write_library(folder: Path, prefix: str = "") -> dict[str, Shot]:
    """Write the shots (those named ``prefix``*) as JPEGs into ``folder``; a copy is its original resized."""
    folder.mkdir(parents=True, exist_ok=True)
    by_name = {s.name: s for s in shots()}
    for shot in by_name.values():
        if not shot.name.startswith(prefix):
            continue
        image = render(by_name[shot.copy_of] if shot.copy_of else shot)
        if shot.copy_of:
            image = image.resize((900, 600), Image.Resampling.LANCZOS)
        (folder / shot.name).write_bytes(jpeg(shot, image, quality=70 if shot.copy_of else 92))
    return by_name
