"""Crops that fill a slot without stretching the photo and without cutting a face.

A crop has exactly the slot's aspect ratio (so scaling it into the slot is uniform), is as
large as the photo allows, and is moved to hold every detected face whole, with a little
room around it when there is room. When no crop of that aspect can hold the faces, the
photo is fitted instead: the slot shrinks to the photo's own aspect and nothing is cut.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tools.photobook.layouts import Rect

FACE_PAD = 0.15  # room kept around a face (fraction of its size), when the crop allows it
MAX_CROP_LOSS = 0.42  # cutting away more than this loses the photo: fit it instead


@dataclass(frozen=True)
class Placement:
    """Where a photo lands: ``slot`` in mm on the page and ``crop`` as fractions of the photo."""

    slot: Rect
    crop: Rect
    mode: str  # "fill" (cropped to the slot) or "fit" (whole photo, slot shrunk to its aspect)
    loss: float  # share of the photo cut away (fill) or of the slot left empty (fit)


def _union(boxes: Sequence[Rect]) -> Rect:
    x0 = min(b[0] for b in boxes)
    y0 = min(b[1] for b in boxes)
    x1 = max(b[0] + b[2] for b in boxes)
    y1 = max(b[1] + b[3] for b in boxes)
    return x0, y0, x1 - x0, y1 - y0


def _position(centre: float, size: float, total: float, need_lo: float, need_hi: float) -> float:
    start = centre - size / 2
    start = min(start, need_lo)
    start = max(start, need_hi - size)
    return max(0.0, min(total - size, start))


def crop_for(width: int, height: int, faces: Sequence[Sequence[float]], aspect: float) -> Rect | None:
    """The largest crop of ``aspect`` (w/h) holding every face whole, as fractions; None if none can."""
    w, h = float(width), float(height)
    if w / h > aspect:
        cw, ch = h * aspect, h
    else:
        cw, ch = w, w / aspect
    boxes_px = [(f[0] * w, f[1] * h, f[2] * w, f[3] * h) for f in faces if len(f) >= 4]
    if not boxes_px:
        x0 = (w - cw) / 2
        y0 = (h - ch) * 0.4  # a touch above centre: skies are easier to lose than subjects
        return x0 / w, y0 / h, cw / w, ch / h
    for pad in (FACE_PAD, 0.0):
        padded = [
            (
                max(0.0, bx - bw * pad),
                max(0.0, by - bh * pad),
                min(w, bx + bw * (1 + pad)) - max(0.0, bx - bw * pad),
                min(h, by + bh * (1 + pad)) - max(0.0, by - bh * pad),
            )
            for bx, by, bw, bh in boxes_px
        ]
        ux, uy, uw, uh = _union(padded)
        if uw <= cw + 1e-6 and uh <= ch + 1e-6:
            weights = [bw * bh for _, _, bw, bh in boxes_px]
            total = sum(weights) or 1.0
            cx = sum((bx + bw / 2) * wt for (bx, _, bw, _), wt in zip(boxes_px, weights, strict=True)) / total
            cy = sum((by + bh / 2) * wt for (_, by, _, bh), wt in zip(boxes_px, weights, strict=True)) / total
            x0 = _position(cx, cw, w, ux, ux + uw)
            y0 = _position(cy, ch, h, uy, uy + uh)
            return x0 / w, y0 / h, cw / w, ch / h
    return None


def fit_slot(slot: Rect, photo_aspect: float) -> Rect:
    """The largest rectangle of the photo's aspect centred in ``slot``."""
    x, y, w, h = slot
    if w / h > photo_aspect:
        nw, nh = h * photo_aspect, h
    else:
        nw, nh = w, w / photo_aspect
    return x + (w - nw) / 2, y + (h - nh) / 2, nw, nh


def place_photo(slot: Rect, width: int, height: int, faces: Sequence[Sequence[float]]) -> Placement:
    """Fill the slot with a face-safe crop, or fit the whole photo when no crop can keep the faces."""
    aspect = slot[2] / slot[3]
    crop = crop_for(width, height, faces, aspect)
    if crop is not None and 1.0 - crop[2] * crop[3] <= MAX_CROP_LOSS:
        return Placement(slot=slot, crop=crop, mode="fill", loss=1.0 - crop[2] * crop[3])
    fitted = fit_slot(slot, width / height)
    return Placement(
        slot=fitted, crop=(0.0, 0.0, 1.0, 1.0), mode="fit", loss=1.0 - (fitted[2] * fitted[3]) / (slot[2] * slot[3])
    )
