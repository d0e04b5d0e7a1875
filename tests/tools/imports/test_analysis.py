from __future__ import annotations

import io
from datetime import datetime

import numpy as np
import pytest
from PIL import Image, ImageFilter

from tests.tools.imports.helpers import photo
from tests.tools.photobook.library import BERN, Shot, render
from tools.imports.analysis import DESCRIPTOR_DIM, analyse_photo, fit, hamming, hashes


def _image(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


def test_hashes_survive_reencode_resize_and_match_mirrors() -> None:
    original = _image(photo(size=(640, 480), seed=3))
    smaller = original.resize((320, 240))
    buffer = io.BytesIO()
    smaller.save(buffer, "JPEG", quality=60)
    reencoded = _image(buffer.getvalue())
    flipped = original.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    other = _image(photo(size=(640, 480), seed=11, colour=(220, 200, 20)))
    a, b, f, o = hashes(original), hashes(reencoded), hashes(flipped), hashes(other)
    assert hamming(a["phash"], b["phash"]) <= 6
    assert hamming(a["dhash"], b["dhash"]) <= 10
    assert hamming(a["phash"], f["phash_mirror"]) <= 4
    assert hamming(a["phash"], o["phash"]) > 12


def test_analysis_result_has_everything() -> None:
    result = analyse_photo(photo(size=(800, 600), seed=5), 50_000_000, 256)
    assert (result["width"], result["height"], result["format"]) == (800, 600, "jpeg")
    vector = np.frombuffer(result["descriptor"], dtype=np.float16)
    assert vector.shape == (DESCRIPTOR_DIM,)
    assert abs(float(np.linalg.norm(vector.astype(np.float32))) - 1.0) < 0.01
    assert set(result["quality"]) == {
        "sharpness",
        "exposure",
        "clipped_dark",
        "clipped_bright",
        "contrast",
        "noise",
        "score",
    }
    assert 0 < len(result["colors"]) <= 5 and abs(sum(c["fraction"] for c in result["colors"]) - 1) < 0.01
    thumb = Image.open(io.BytesIO(result["thumbnail"]))
    assert thumb.format == "JPEG" and max(thumb.size) == 256
    assert (result["thumbnail_width"], result["thumbnail_height"]) == thumb.size


def test_sharpness_drops_when_blurred() -> None:
    sharp = _image(photo(size=(800, 600), seed=2))
    blurred = sharp.filter(ImageFilter.GaussianBlur(6))
    buf_a, buf_b = io.BytesIO(), io.BytesIO()
    sharp.save(buf_a, "PNG")
    blurred.save(buf_b, "PNG")
    qa = analyse_photo(buf_a.getvalue(), 50_000_000, 128)["quality"]
    qb = analyse_photo(buf_b.getvalue(), 50_000_000, 128)["quality"]
    assert qa["sharpness"] > qb["sharpness"]


def test_a_drawn_face_is_found_where_it_is() -> None:
    shot = Shot("face.jpg", datetime(2024, 5, 1, 12), BERN, seed=4, face_at=(0.5, 0.4))
    buffer = io.BytesIO()
    render(shot).save(buffer, "JPEG", quality=90)
    found = analyse_photo(buffer.getvalue(), 50_000_000, 512)["faces"]
    assert any(x <= 0.5 <= x + w and y <= 0.4 <= y + h for x, y, w, h in found), found


def test_hashes_agree_for_an_image_and_its_grey_array() -> None:
    image = _image(photo(size=(700, 420), seed=8))
    assert hashes(image) == hashes(np.asarray(image.convert("L")))


@pytest.mark.parametrize(
    ("shape", "side", "expected"),
    [((400, 640, 3), 512, (320, 512)), ((1000, 1500, 3), 300, (200, 300)), ((90, 120, 3), 512, (90, 120))],
)
def test_fit_keeps_the_aspect_and_never_upscales(
    shape: tuple[int, int, int], side: int, expected: tuple[int, int]
) -> None:
    assert fit(np.zeros(shape, dtype=np.uint8), side).shape[:2] == expected


def test_a_thumbnail_larger_than_the_analysis_image_comes_from_the_decoded_photo() -> None:
    result = analyse_photo(photo(size=(1600, 1200), seed=6), 50_000_000, 800)
    assert (result["thumbnail_width"], result["thumbnail_height"]) == (800, 600)
    assert Image.open(io.BytesIO(result["thumbnail"])).size == (800, 600)
