"""Content hashes: letterbox bars are trimmed, a crop matches the original's centre, plain photos stay whole."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from tests.tools.duplicates.photos import scene
from tools.imports.analysis import hamming
from tools.imports.content import content_box, content_hashes


def _bars(image: Image.Image, colour: str, top: int, side: int) -> Image.Image:
    canvas = Image.new("RGB", (image.width + 2 * side, image.height + 2 * top), colour)
    canvas.paste(image, (side, top))
    return canvas


def _h(hashes: dict[str, str], key: str) -> int:
    return int(hashes[key], 16)


def test_bars_of_any_colour_are_trimmed_even_under_a_caption() -> None:
    photo = scene(1, size=(300, 200))
    assert content_box(np.asarray(photo.convert("L"))) == (0, 0, 300, 200)
    black = _bars(photo, "black", top=80, side=0)
    draw = ImageDraw.Draw(black)
    draw.rectangle([270, 6, 294, 20], fill="white")  # a small caption on the bar
    assert content_box(np.asarray(black.convert("L"))) == (0, 80, 300, 280)
    white = _bars(photo, "white", top=0, side=60)
    assert content_box(np.asarray(white.convert("L"))) == (60, 0, 360, 200)
    plain, boxed = content_hashes(photo), content_hashes(black)
    assert hamming(_h(plain, "content_phash"), _h(boxed, "content_phash")) <= 4
    assert boxed["box"] == "0.0000,0.2222,1.0000,0.7778"


def test_a_crop_matches_the_originals_centre_and_other_photos_do_not() -> None:
    photo = scene(2, size=(400, 300))
    w, h = photo.size
    crop = photo.crop((int(w * 0.075), int(h * 0.075), int(w * 0.925), int(h * 0.925)))
    a, b, other = content_hashes(photo), content_hashes(crop), content_hashes(scene(3, size=(400, 300)))
    assert hamming(_h(a, "centre_phash"), _h(b, "content_phash")) <= 6
    assert hamming(_h(a, "content_phash"), _h(b, "content_phash")) > hamming(
        _h(a, "centre_phash"), _h(b, "content_phash")
    )
    assert hamming(_h(a, "content_phash"), _h(other, "content_phash")) > 16


def test_a_nearly_uniform_photo_is_never_trimmed_to_nothing() -> None:
    sky = Image.new("L", (200, 100), 200)
    ImageDraw.Draw(sky).rectangle([90, 40, 110, 60], fill=10)
    left, top, right, bottom = content_box(np.asarray(sky))
    assert right - left >= 50 and bottom - top >= 25
