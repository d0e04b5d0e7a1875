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

from tools.imports.analysis import hashes

CONTENT_HASHES_VERSION = 1
CENTRE_FRACTION = 0.85
BORDER_TOLERANCE = 10.0  # grey levels a border pixel may differ from the bar colour (JPEG ringing)
BORDER_SHARE = 0.9  # share of a line that must be bar-coloured (a corner caption may sit on a bar)
MIN_CONTENT = 0.25  # never trim more than this leaves of a side (a 9:16 bar around a 3:2 photo keeps 37 %)
KINDS = ("phash", "dhash", "phash_mirror", "dhash_mirror")


def _border_lines(lines: np.ndarray) -> int:
    """How many leading lines (rows) are bars: nearly all pixels close to the first line's colour.

    Read in growing bands from the edge, so a photo without bars costs a few lines, not a pass.
    """
    edge = float(np.median(lines[0]))
    done, band = 0, 8
    while done < len(lines):
        chunk = lines[done : done + band].astype(np.float32)
        like_edge = (np.abs(chunk - edge) < BORDER_TOLERANCE).mean(axis=1) >= BORDER_SHARE
        if not like_edge.all():
            return done + int(np.argmin(like_edge))
        done, band = done + len(chunk), band * 2
    return len(lines)


def content_box(grey: np.ndarray) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the photo without uniform border bars (the whole frame if none)."""
    h, w = grey.shape
    top, bottom = _border_lines(grey), _border_lines(grey[::-1])
    left, right = _border_lines(grey.T), _border_lines(grey.T[::-1])
    if h - top - bottom < h * MIN_CONTENT:
        top = bottom = 0
    if w - left - right < w * MIN_CONTENT:
        left = right = 0
    return left, top, w - right, h - bottom


def content_hashes(image: Image.Image | np.ndarray, frame: dict[str, int] | None = None) -> dict[str, str]:
    """The content and centre hash sets of a (downscaled) photo, as 16-digit hex strings.

    ``image``: a PIL image of any mode or a greyscale array. ``frame``: the whole frame's
    ``hashes`` where the caller has them; they are the content hashes of a photo without bars.
    Keys: ``content_<kind>`` and ``centre_<kind>`` for each of ``KINDS``, plus ``box`` (the
    content box as fractions of the frame, for display) and ``version``.
    """
    grey = image if isinstance(image, np.ndarray) else np.asarray(image.convert("L"))
    fh, fw = grey.shape
    box = content_box(grey)
    left, top, right, bottom = box
    content = grey[top:bottom, left:right]
    h, w = content.shape
    cw, ch = w * CENTRE_FRACTION, h * CENTRE_FRACTION
    centre = content[round((h - ch) / 2) : round((h + ch) / 2), round((w - cw) / 2) : round((w + cw) / 2)]
    whole = box == (0, 0, fw, fh)
    out: dict[str, str] = {"version": str(CONTENT_HASHES_VERSION)}
    for prefix, part in (("content", content), ("centre", centre)):
        values = frame if prefix == "content" and whole and frame is not None else hashes(part)
        for kind in KINDS:
            out[f"{prefix}_{kind}"] = f"{values[kind]:016x}"
    out["box"] = ",".join(f"{v:.4f}" for v in (left / fw, top / fh, right / fw, bottom / fh))
    return out
