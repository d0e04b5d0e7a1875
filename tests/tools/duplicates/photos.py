"""Made-up photos with known copies, bursts and distinct shots (Pillow only, deterministic)."""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageOps

from tests.tools.imports.helpers import exif_with


def scene(seed: int, size: tuple[int, int] = (480, 320), subject_at: float = 0.3) -> Image.Image:
    """A photo-like picture: a smooth random colour field, shapes, and a 'subject' at ``subject_at`` of the width."""
    rng = np.random.default_rng(seed)
    w, h = size
    field = Image.fromarray(rng.integers(0, 256, (4, 6, 3), dtype=np.uint8)).resize(size, Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(field)
    for _ in range(8):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        rw, rh = int(rng.integers(w // 12, w // 4)), int(rng.integers(h // 12, h // 4))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            draw.ellipse([x, y, x + rw, y + rh], fill=colour)
        else:
            draw.rectangle([x, y, x + rw, y + rh], fill=colour)
    sx = int(subject_at * w)
    draw.ellipse([sx, h // 3, sx + w // 5, h // 3 + h // 2], fill=(250, 220, 190), outline=(20, 20, 20), width=4)
    return field.filter(ImageFilter.GaussianBlur(0.6))


def encode(image: Image.Image, fmt: str = "JPEG", exif: Image.Exif | None = None, **options: object) -> bytes:
    buffer = io.BytesIO()
    kwargs: dict[str, object] = dict(options)
    if exif is not None:
        kwargs["exif"] = exif
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def _crop(image: Image.Image) -> Image.Image:
    w, h = image.size
    return image.crop((int(w * 0.04), int(h * 0.07), int(w * 0.94), int(h * 0.97)))  # 90 % of each side kept


def _rotate(image: Image.Image) -> Image.Image:
    w, h = image.size
    rotated = image.rotate(3, resample=Image.Resampling.BICUBIC)
    return rotated.crop((int(w * 0.05), int(h * 0.05), int(w * 0.95), int(h * 0.95)))


def _letterbox(image: Image.Image) -> Image.Image:
    w, h = image.size
    canvas = Image.new("RGB", (w, int(w * 9 / 16) + 80), "black")
    canvas.paste(image, (0, (canvas.height - h) // 2))
    return canvas


# name -> (transform of the picture, file format)
TRANSFORMS: dict[str, tuple[Callable[[Image.Image], Image.Image], str]] = {
    "reencoded": (lambda im: im, "JPEG-q40"),
    "resized": (lambda im: im.resize((im.width // 2, im.height // 2), Image.Resampling.LANCZOS), "JPEG"),
    "cropped": (_crop, "JPEG"),
    "brighter": (lambda im: ImageEnhance.Brightness(im).enhance(1.25), "JPEG"),
    "grayscale": (lambda im: im.convert("L").convert("RGB"), "JPEG"),
    "flipped": (ImageOps.mirror, "JPEG"),
    "rotated": (_rotate, "JPEG"),
    "png": (lambda im: im, "PNG"),
    "webp": (lambda im: im, "WEBP"),
    "letterboxed": (_letterbox, "JPEG"),
}


def variant(image: Image.Image, name: str) -> bytes:
    transform, fmt = TRANSFORMS[name]
    out = transform(image)
    if fmt == "JPEG-q40":
        return encode(out, "JPEG", quality=40)
    return encode(out, fmt, quality=90) if fmt in ("JPEG", "WEBP") else encode(out, fmt)


def original(seed: int, taken: str | None = None, **exif: object) -> bytes:
    """The camera original: a high-quality JPEG with EXIF (capture time, camera)."""
    return encode(scene(seed), "JPEG", quality=95, exif=exif_with(taken=taken, make="Canon", model="EOS R6", **exif))


def burst(seed: int, shots: int, start: str = "2024:06:01 10:00:00") -> list[bytes]:
    """Distinct shots of one moment: the subject moves across the frame, one second apart."""
    day, clock = start.split(" ")
    hh, mm, ss = (int(x) for x in clock.split(":"))
    out = []
    for n in range(shots):
        taken = f"{day} {hh:02d}:{mm:02d}:{ss + n:02d}"
        image = scene(seed, subject_at=0.15 + 0.22 * n)
        if n == 1:
            image = image.filter(ImageFilter.GaussianBlur(2.5))  # a blurred shot: must not rank first
        out.append(encode(image, "JPEG", quality=92, exif=exif_with(taken=taken, make="Canon", model="EOS R6")))
    return out
