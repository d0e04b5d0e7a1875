"""Content hashes: the perceptual hashes of what a photo shows, not of its frame.

Copies of a photo often differ in their frame only: letterbox or pillarbox bars added to fit
another aspect ratio, a crop that keeps most of the picture, a slight rotation cropped back
to a rectangle. Two hash sets cover those cases (each pHash and dHash plus their mirrors):

- ``content``: the hashes of the content box, the photo with uniform border bars trimmed;
- ``centre``: the hashes of the central ``CENTRE_FRACTION`` of the content box, so a crop
  or rotated copy (whose full frame is about the original's centre) matches the original's
  centre, and the other way round.

Stored per image in ``Image.quality["content_hashes"]`` as 16 hex digits each.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from tools.imports.analysis import dhash, phash

CONTENT_HASHES_VERSION = 1
CENTRE_FRACTION = 0.85
BORDER_TOLERANCE = 10.0  # grey levels a border pixel may differ from the bar colour (JPEG ringing)
BORDER_SHARE = 0.9  # share of a line that must be bar-coloured (a corner caption may sit on a bar)
MIN_CONTENT = 0.25  # never trim more than this leaves of a side (a 9:16 bar around a 3:2 photo keeps 37 %)
KINDS = ("phash", "dhash", "phash_mirror", "dhash_mirror")


def _border_lines(lines: np.ndarray) -> int:
    """How many leading lines (rows) are bars: nearly all pixels close to the first line's colour."""
    edge = float(np.median(lines[0]))
    like_edge = (np.abs(lines - edge) < BORDER_TOLERANCE).mean(axis=1) >= BORDER_SHARE
    return int(np.argmin(like_edge)) if not like_edge.all() else len(lines)


def content_box(grey: np.ndarray) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the photo without uniform border bars (the whole frame if none)."""
    h, w = grey.shape
    a = grey.astype(np.float32)
    top, bottom = _border_lines(a), _border_lines(a[::-1])
    left, right = _border_lines(a.T), _border_lines(a.T[::-1])
    if h - top - bottom < h * MIN_CONTENT:
        top = bottom = 0
    if w - left - right < w * MIN_CONTENT:
        left = right = 0
    return left, top, w - right, h - bottom


def _four(grey: Image.Image) -> dict[str, int]:
    mirrored = grey.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return {
        "phash": phash(grey),
        "dhash": dhash(grey),
        "phash_mirror": phash(mirrored),
        "dhash_mirror": dhash(mirrored),
    }


def content_hashes(image: Image.Image) -> dict[str, str]:
    """The content and centre hash sets of a (downscaled) photo, as 16-digit hex strings.

    Keys: ``content_<kind>`` and ``centre_<kind>`` for each of ``KINDS``, plus ``box`` (the
    content box as fractions of the frame, for display) and ``version``.
    """
    grey = image.convert("L")
    box = content_box(np.asarray(grey))
    content = grey.crop(box)
    w, h = content.size
    cw, ch = w * CENTRE_FRACTION, h * CENTRE_FRACTION
    centre = content.crop((round((w - cw) / 2), round((h - ch) / 2), round((w + cw) / 2), round((h + ch) / 2)))
    out: dict[str, str] = {"version": str(CONTENT_HASHES_VERSION)}
    for prefix, part in (("content", content), ("centre", centre)):
        for kind, value in _four(part).items():
            out[f"{prefix}_{kind}"] = f"{value:016x}"
    fw, fh = grey.size
    out["box"] = ",".join(f"{v:.4f}" for v in (box[0] / fw, box[1] / fh, box[2] / fw, box[3] / fh))
    return out
