"""Crops never stretch and never cut a face; when no crop can keep the faces, the photo is fitted."""

from __future__ import annotations

import itertools

import pytest

from tools.photobook.crops import MAX_CROP_LOSS, crop_for, fit_slot, place_photo


def _inside(face: list[float], crop: tuple[float, float, float, float]) -> bool:
    fx, fy, fw, fh = face
    x, y, w, h = crop
    return x - 1e-9 <= fx and fx + fw <= x + w + 1e-9 and y - 1e-9 <= fy and fy + fh <= y + h + 1e-9


@pytest.mark.parametrize(
    ("size", "faces"),
    [
        ((1200, 800), [[0.01, 0.3, 0.2, 0.3]]),  # a face at the left edge
        ((1200, 800), [[0.78, 0.05, 0.2, 0.3]]),  # top right
        ((800, 1200), [[0.1, 0.7, 0.25, 0.2], [0.6, 0.1, 0.2, 0.15]]),  # two far apart
        ((1000, 1000), []),
    ],
)
def test_crops_have_the_slot_aspect_and_hold_every_face(size: tuple[int, int], faces: list[list[float]]) -> None:
    w, h = size
    for aspect in (0.5, 0.7, 1.0, 1.414, 2.0, 3.0):
        crop = crop_for(w, h, faces, aspect)
        if crop is None:
            continue
        x, y, cw, ch = crop
        assert x >= 0 and x + cw <= 1 + 1e-9 and y >= 0 and y + ch <= 1 + 1e-9
        assert (cw * w) / (ch * h) == pytest.approx(aspect, rel=1e-6)
        assert max(cw, ch) == pytest.approx(1.0)  # as large as the photo allows
        assert all(_inside(f, crop) for f in faces)


def test_faces_that_no_crop_can_hold_make_the_photo_fit() -> None:
    faces = [[0.02, 0.4, 0.15, 0.2], [0.83, 0.4, 0.15, 0.2]]  # a wide group in a landscape photo
    assert crop_for(1500, 1000, faces, 0.5) is None
    placed = place_photo((10, 10, 50, 100), 1500, 1000, faces)
    assert placed.mode == "fit" and placed.crop == (0.0, 0.0, 1.0, 1.0)
    x, y, w, h = placed.slot
    assert w / h == pytest.approx(1.5) and x >= 10 and x + w <= 60 + 1e-9 and y >= 10 and y + h <= 110 + 1e-9


def test_heavy_crops_fit_instead_and_fit_keeps_the_aspect() -> None:
    portrait_on_wide = place_photo((0, 0, 300, 100), 800, 1200, [])
    assert portrait_on_wide.mode == "fit" and portrait_on_wide.loss > 0
    gentle = place_photo((0, 0, 150, 100), 1200, 800, [])
    assert gentle.mode == "fill" and gentle.loss <= MAX_CROP_LOSS
    for slot, aspect in itertools.product([(0, 0, 100, 50), (5, 5, 30, 90)], [0.5, 1.0, 2.5]):
        _, _, fw, fh = fit_slot(slot, aspect)
        assert fw / fh == pytest.approx(aspect) and (fw == pytest.approx(slot[2]) or fh == pytest.approx(slot[3]))
