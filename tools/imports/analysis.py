"""Per-photo analysis: hashes, descriptor, quality, faces, colours, thumbnail.

``analyse_photo`` is the one function the import sends to the CPU process pool: bytes in,
a plain picklable dict out (thumbnail bytes included), so one photo costs one pool trip.

Hashes (64-bit, as unsigned ints):
- ``phash``: DCT hash in imagehash.phash's layout (32x32 grey, 2-D DCT-II, top-left 8x8, > median).
- ``dhash``: difference hash (9x8 grey, each pixel brighter than its right neighbour).
The small grids are Lanczos resizes of a copy pre-reduced by whole-number area averaging
(``_shrink``), so the values are close to but not bit-identical with imagehash's.
- ``*_mirror``: the same of the horizontally mirrored photo, so flipped copies match.

Descriptor (``DESCRIPTOR_LAYOUT``, version 1, float16, L2-normalised per block, then overall):
- 48: colour layout, mean CIE-Lab (L/100, a/128, b/128) of a 4x4 grid;
- 32: HSV colour histogram, 8 hue x 2 saturation x 2 value bins;
- 8: gradient-orientation histogram (edge structure), magnitude-weighted.
Compare two photos by cosine similarity (dot product of the stored vectors).
"""

from __future__ import annotations

import io
from functools import cache
from typing import Any

import cv2
import numpy as np
from PIL import Image

from tools.imports.decode import decode

# 2: faces scanned at FACE_SIDE; analysis image fitted to its longest side
# 3: hash grids from a pre-reduced copy; analysis image resized by OpenCV; faces at 256 px, not equalised
# 4: JPEG thumbnails; content mirror hashes from the DCT sign flip, like the frame's; progressive JPEGs
#    reduced by DCT scaling are decoded without their final refinement scans (jpeg_scans.py)
ANALYSIS_VERSION = 4
DESCRIPTOR_VERSION = 1
DESCRIPTOR_LAYOUT = (("colour_layout_lab_4x4", 48), ("hsv_histogram_8x2x2", 32), ("gradient_orientation_8", 8))
DESCRIPTOR_DIM = sum(n for _, n in DESCRIPTOR_LAYOUT)
ANALYSIS_SIDE = 512  # analysis runs on a copy whose longest side is this (decoded near it by JPEG DCT scaling)
FACE_SIDE = 256  # longest side of the copy the face detector scans (its 24 px window: faces from ~9% up)
FACE_SCALE_STEP = 1.2  # growth of the detector window per scan
FACE_NEIGHBOURS = 4  # overlapping hits a face needs
COLOUR_SIDE = 32  # the dominant colours are counted on a copy this size (as good as 64 px, 3x cheaper)
THUMBNAIL_QUALITY = 80  # JPEG, Huffman tables optimised: on photos-hires 21 KB and 38.0 dB PSNR for 1.3 ms,
# where WebP (method 0, quality 80) gave 18 KB and 38.2 dB for 4.2 ms
THUMBNAIL_EXTENSION = "jpg"

cv2.setNumThreads(1)  # one photo per pool process; threads would only contend


@cache
def _dct_matrix(n: int = 32) -> np.ndarray:
    k = np.arange(n)[:, None]
    x = np.arange(n)[None, :]
    return 2.0 * np.cos(np.pi * k * (2 * x + 1) / (2 * n))  # scipy.fftpack.dct(type=2, norm=None)


def _bits(mask: np.ndarray) -> int:
    """The mask's cells as bits of one int, first cell most significant."""
    return int.from_bytes(np.packbits(mask.astype(bool).flatten()).tobytes(), "big") >> (-mask.size % 8)


def _phash_bits(dct_low: np.ndarray) -> int:
    return _bits(dct_low > np.median(dct_low))


Grey = Image.Image | np.ndarray  # a mode "L" image or a 2-D uint8 array


def _shrink(grey: Grey, width: int, height: int) -> np.ndarray:
    """``grey`` reduced to ``width`` x ``height`` for a hash: Lanczos, from a pre-reduced copy.

    A Lanczos resize from the full analysis image costs ~1 ms (its kernel spans the whole
    reduction factor), eight of them per photo. So the bulk of the reduction is one OpenCV
    area step by whole-number factors (its fast path; on the centred part divisible by them,
    which drops under 2% of a side) to about four times the grid, then Lanczos from there.
    (Area averaging all the way is cheaper still but blurs the grid: precision on neardup-dev
    fell from 0.99 to 0.97.)
    """
    pixels = grey if isinstance(grey, np.ndarray) else np.asarray(grey.convert("L"))
    h, w = pixels.shape
    kx, ky = max(1, w // (4 * width)), max(1, h // (4 * height))
    if kx > 1 or ky > 1:
        x0, y0 = (w % kx) // 2, (h % ky) // 2
        pixels = pixels[y0 : y0 + h - h % ky, x0 : x0 + w - w % kx]
        pixels = cv2.resize(pixels, (w // kx, h // ky), interpolation=cv2.INTER_AREA)
    return np.asarray(Image.fromarray(pixels).resize((width, height), Image.Resampling.LANCZOS))


def _dct_low(grey: Grey) -> np.ndarray:
    """Top-left 8x8 of the 2-D DCT-II of the 32x32 greyscale image."""
    pixels = _shrink(grey, 32, 32).astype(np.float64)
    matrix = _dct_matrix(32)
    return (matrix @ pixels @ matrix.T)[:8, :8]


def phash(grey: Grey) -> int:
    """64-bit DCT perceptual hash of a greyscale image (imagehash.phash's layout)."""
    return _phash_bits(_dct_low(grey))


def _dhash_grid(grey: Grey) -> np.ndarray:
    return _shrink(grey, 9, 8).astype(np.int16)


def _dhash_bits(grid: np.ndarray) -> int:
    return _bits(grid[:, 1:] > grid[:, :-1])


def dhash(grey: Grey) -> int:
    """64-bit difference hash (horizontal gradient sign of a 9x8 thumbnail)."""
    return _dhash_bits(_dhash_grid(grey))


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def _normalise(v: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(v))
    return v / norm if norm > 0 else v


def descriptor(rgb_small: np.ndarray, grey_small: np.ndarray) -> np.ndarray:
    """The compact content vector (see the module docstring) from a ~64 px RGB image."""
    lab = cv2.cvtColor(cv2.resize(rgb_small, (4, 4), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2LAB)
    lab = lab.astype(np.float32)
    layout = np.stack([lab[..., 0] / 255.0, (lab[..., 1] - 128) / 128.0, (lab[..., 2] - 128) / 128.0], axis=-1)
    hsv = cv2.cvtColor(rgb_small, cv2.COLOR_RGB2HSV)
    hist = cv2.calcHist([hsv], [0, 1, 2], None, [8, 2, 2], [0, 180, 0, 256, 0, 256]).flatten()
    gx = cv2.Sobel(grey_small, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(grey_small, cv2.CV_32F, 0, 1, ksize=3)
    magnitude, angle = cv2.cartToPolar(gx, gy)
    bins = (np.mod(angle, np.pi) / np.pi * 8).astype(np.int32).clip(0, 7)
    orient = np.bincount(bins.flatten(), weights=magnitude.flatten(), minlength=8)
    parts = [_normalise(layout.flatten()), _normalise(hist.astype(np.float64)), _normalise(orient)]
    return _normalise(np.concatenate(parts)).astype(np.float16)


_LEVELS = np.arange(256, dtype=np.float64)
_NOISE_KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32)  # Immerkaer's


def quality(grey: np.ndarray) -> dict[str, float]:
    """Quality signals on a fixed-size greyscale image, so they compare across resolutions.

    sharpness: variance of the Laplacian mapped to 0..1; exposure: mean brightness 0..1;
    clipped_dark/clipped_bright: pixel fractions at the ends; contrast: RMS contrast 0..1;
    noise: Immerkaer's noise sigma estimate (grey levels); score: a 0..1 blend for ranking.
    """
    hist = cv2.calcHist([grey], [0], None, [256], [0, 256]).ravel().astype(np.float64)  # one pass for 4 signals
    pixels = float(grey.size)
    mean = float(hist @ _LEVELS) / pixels
    std = float(hist @ (_LEVELS - mean) ** 2 / pixels) ** 0.5
    _, lap_sd = cv2.meanStdDev(cv2.Laplacian(grey, cv2.CV_16S))  # integer filters: exact on uint8, 2x faster
    lap_var = float(lap_sd[0, 0]) ** 2
    sharpness = lap_var / (lap_var + 300.0)
    exposure = mean / 255.0
    clipped_dark = float(hist[:5].sum()) / pixels
    clipped_bright = float(hist[251:].sum()) / pixels
    contrast = min(1.0, std / 128.0)
    h, w = grey.shape
    conv = cv2.filter2D(grey, cv2.CV_16S, _NOISE_KERNEL, borderType=cv2.BORDER_REFLECT)[1:-1, 1:-1]
    noise = float(np.sqrt(np.pi / 2) * cv2.norm(conv, cv2.NORM_L1) / (6 * max(1, (w - 2) * (h - 2))))
    exposure_ok = 1.0 - min(1.0, abs(exposure - 0.5) * 2)
    score = (
        0.45 * sharpness
        + 0.2 * exposure_ok
        + 0.15 * min(1.0, contrast * 2.5)
        + 0.1 * (1.0 - min(1.0, noise / 20.0))
        + 0.1 * (1.0 - min(1.0, (clipped_dark + clipped_bright) * 4))
    )
    return {
        "sharpness": round(sharpness, 4),
        "exposure": round(exposure, 4),
        "clipped_dark": round(clipped_dark, 4),
        "clipped_bright": round(clipped_bright, 4),
        "contrast": round(contrast, 4),
        "noise": round(noise, 3),
        "score": round(score, 4),
    }


@cache
def _face_detector() -> cv2.CascadeClassifier:
    path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"  # ships inside opencv-python-headless
    detector = cv2.CascadeClassifier(path)
    if detector.empty():
        raise RuntimeError(f"face cascade missing at {path}")
    return detector


def faces(grey: np.ndarray) -> list[list[float]]:
    """Frontal face boxes [x, y, w, h] as fractions of the oriented photo (0..1).

    The Haar cascade (the costliest step: its cost grows with the area scanned) runs on a
    copy whose longest side is ``FACE_SIDE`` px; its smallest window is 24 px, so faces from
    about 9% of the photo's longest side up are found, the sizes a crop or a ranking cares
    about. No histogram equalisation: on test faces pasted into real photos it lost more
    faces (it follows the whole scene's brightness, not the face's) than it found.
    """
    h, w = grey.shape
    scale = min(1.0, FACE_SIDE / max(h, w))
    small = cv2.resize(grey, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA) if scale < 1 else grey
    found = _face_detector().detectMultiScale(small, scaleFactor=FACE_SCALE_STEP, minNeighbors=FACE_NEIGHBOURS)
    sh, sw = small.shape
    boxes = [[round(x / sw, 4), round(y / sh, 4), round(bw / sw, 4), round(bh / sh, 4)] for x, y, bw, bh in found]
    return sorted(boxes, key=lambda b: -b[2] * b[3])[:50]


def dominant_colours(rgb: np.ndarray, count: int = 5) -> list[dict[str, Any]]:
    """The photo's main colours (median cut on a ``COLOUR_SIDE`` px copy) with the share of pixels each covers."""
    small = cv2.resize(rgb, (COLOUR_SIDE, COLOUR_SIDE), interpolation=cv2.INTER_AREA)
    quantised = Image.fromarray(small).quantize(colors=count, method=Image.Quantize.MEDIANCUT)
    palette = quantised.getpalette() or []
    counts = sorted(quantised.getcolors() or [], reverse=True)
    total = sum(c for c, _ in counts) or 1
    out = []
    for pixels, index in counts:
        r, g, b = palette[index * 3 : index * 3 + 3]
        out.append({"hex": f"#{r:02x}{g:02x}{b:02x}", "fraction": round(pixels / total, 4)})
    return out


def thumbnail(rgb: np.ndarray, size: int) -> tuple[bytes, int, int]:
    """JPEG thumbnail, longest side ``size`` (see ``THUMBNAIL_QUALITY``)."""
    thumb = Image.fromarray(fit(rgb, size))
    buffer = io.BytesIO()
    thumb.save(buffer, format="JPEG", quality=THUMBNAIL_QUALITY, optimize=True)
    return buffer.getvalue(), thumb.width, thumb.height


def as_jpeg(data: bytes) -> bytes:
    """A stored thumbnail of another format (WebP, before analysis version 4) re-encoded as the JPEG of today."""
    buffer = io.BytesIO()
    Image.open(io.BytesIO(data)).convert("RGB").save(buffer, format="JPEG", quality=THUMBNAIL_QUALITY, optimize=True)
    return buffer.getvalue()


def hashes(image: Image.Image | np.ndarray) -> dict[str, int]:
    """pHash and dHash of the photo and of its mirror image, from one resize each.

    ``image``: a PIL image of any mode, or a greyscale array. Mirroring a picture flips the
    sign of the DCT's odd horizontal frequencies and reverses the dHash grid's rows, so the
    mirror hashes need no second resize.
    """
    grey = image if isinstance(image, np.ndarray) else np.asarray(image.convert("L"))
    low = _dct_low(grey)
    mirror_low = low * np.where(np.arange(8) % 2, -1.0, 1.0)[None, :]
    grid = _dhash_grid(grey)
    return {
        "phash": _phash_bits(low),
        "dhash": _dhash_bits(grid),
        "phash_mirror": _phash_bits(mirror_low),
        "dhash_mirror": _dhash_bits(grid[:, ::-1]),
    }


def fit(rgb: np.ndarray, side: int) -> np.ndarray:
    """``rgb`` with its longest side at most ``side`` (never upscaled).

    The decoder hands over less than twice the size wanted, where bicubic is within
    ~45 dB of Lanczos at a tenth of the time; area averaging covers larger reductions.
    """
    h, w = rgb.shape[:2]
    longest = max(h, w)
    if longest <= side:
        return rgb
    size = (max(1, round(w * side / longest)), max(1, round(h * side / longest)))
    interpolation = cv2.INTER_CUBIC if longest < 2 * side else cv2.INTER_AREA
    return cv2.resize(rgb, size, interpolation=interpolation)


def analyse_photo(data: bytes, max_pixels: int, thumbnail_size: int) -> dict[str, Any]:
    """Decode and analyse one photo (runs in the process pool; raises ImageRejected for bad bytes).

    The photo is decoded once at about the larger of the analysis and thumbnail sizes; the
    analysis image doubles as the thumbnail's source when that is no larger (the default).
    Everything after the decode works on one RGB array and one greyscale copy of it.
    """
    from tools.imports.content import content_hashes  # content.py builds on this module's hashes

    decoded = decode(data, max_pixels=max_pixels, target=max(ANALYSIS_SIDE, thumbnail_size))
    full = np.asarray(decoded.image)
    rgb = fit(full, ANALYSIS_SIDE)
    thumb, thumb_w, thumb_h = thumbnail(rgb if thumbnail_size <= ANALYSIS_SIDE else full, thumbnail_size)
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    small_rgb = cv2.resize(rgb, (64, 64), interpolation=cv2.INTER_AREA)
    small_grey = cv2.cvtColor(small_rgb, cv2.COLOR_RGB2GRAY)
    q = quality(grey)
    frame = hashes(grey)
    exif = decoded.exif
    return {
        "format": decoded.format,
        "width": decoded.width,
        "height": decoded.height,
        "orientation": exif.orientation,
        "captured_at": exif.captured_at,
        "capture_offset_minutes": exif.capture_offset_minutes,
        "capture_time_local": exif.capture_time_local,
        "gps_lat": exif.gps_lat,
        "gps_lon": exif.gps_lon,
        "gps_alt": exif.gps_alt,
        "camera_make": exif.camera_make,
        "camera_model": exif.camera_model,
        **frame,
        "content_hashes": content_hashes(grey, frame),  # frame-tolerant hashes for duplicate detection
        "descriptor": descriptor(small_rgb, small_grey).tobytes(),
        "quality": q,
        "faces": faces(grey),
        "colors": dominant_colours(small_rgb),
        "thumbnail": thumb,
        "thumbnail_width": thumb_w,
        "thumbnail_height": thumb_h,
    }


def hash_only(data: bytes, max_pixels: int) -> dict[str, int]:
    """Decode and hash only (the benchmark's hash pass)."""
    decoded = decode(data, max_pixels=max_pixels, target=64)
    return hashes(decoded.image)
