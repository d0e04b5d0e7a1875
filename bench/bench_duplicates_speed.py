"""Benchmark: duplicate grouping time at 10k and 100k photos, and alternatives latency (duplicates issue).

Real photos of a folder (e.g. ``../shared/datasets/neardup-dev/images``) go through the import's
analysis once; their features then seed synthetic libraries:

- a **distinct photo** is a real photo's hashes with each bit flipped with probability
  ``--flip`` (0.25: about 16 bits of each 64-bit hash, so no two are copies) and its descriptor
  with Gaussian noise; it keeps the bit statistics of real hashes (not uniform random ones);
- ``--copies`` of the photos get a **copy** (each bit flipped with probability 0.02) and a few
  get a burst neighbour (a dated shot seconds later, hashes flipped at 0.15).

Phases, one run:

1. ``group_photos`` (the whole DETECT_DUPLICATES core: candidate search, verification, keep
   choice, similar groups) at each ``--sizes`` on one core.
2. imagededup ``PHash().find_duplicates(encoding_map=..., max_distance_threshold=10)`` (its
   default threshold and search method, ``num_dist_workers=0`` so it uses one core) on the same
   libraries' pHashes, at the sizes up to ``--baseline-max`` (100k takes it too long).
3. ``suggest_alternatives`` on a ``--alt-size`` library: ``--alt-queries`` queries, p50/p95,
   from the warm per-user cache (the library arrays are built once, as the operation's cache does).

Targets: 100k grouped in <= 10 s on one core; >= 10x faster than imagededup at the same size;
alternatives p95 <= 200 ms at 20k.

    .venv/bin/python -m bench.bench_duplicates_speed ../shared/datasets/neardup-dev/images --base-limit 400
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from bench._common import HelpFormatter, machine_line, percentile, print_table, verdict
from bench._imagededup import ImagededupMissing, hashing
from bench.bench_duplicates import IMAGE_SUFFIXES, _analyse
from tools.duplicates.alternatives import Library, suggest_alternatives
from tools.duplicates.features import PhotoFeatures, from_analysis
from tools.duplicates.grouping import group_photos
from tools.settings import Settings

_MASK = (1 << 64) - 1


def _masks(rng: np.random.Generator, rows: int, p: np.ndarray) -> np.ndarray:
    """(rows, 12) uint64 bit-flip masks, each bit set with probability ``p[row]``."""
    bits = rng.random((rows, 12, 64)) < p[:, None, None]
    return np.packbits(bits, axis=2).view(">u8")[:, :, 0].astype(np.uint64)


def synthetic_library(
    bases: list[PhotoFeatures], size: int, flip: float, copies: float, seed: int
) -> list[PhotoFeatures]:
    """``size`` photos: distinct ones perturbed from ``bases``, some with a copy or a burst neighbour."""
    rng = np.random.default_rng(seed)
    base_words = np.array(
        [
            (
                b.phash,
                b.dhash,
                b.phash_mirror,
                b.dhash_mirror,
                *(b.content_hashes or (0,) * 4),
                *(b.centre_hashes or (0,) * 4),
            )
            for b in bases
        ],
        dtype=np.uint64,
    )
    base_desc = np.stack([b.descriptor.astype(np.float32) for b in bases])
    kind = rng.random(size)  # < copies: a copy of the previous photo; < 1.3 copies: a burst neighbour
    kind[0] = 1.0
    base_of = rng.integers(0, len(bases), size)
    p = np.where(kind < copies, 0.02, np.where(kind < copies * 1.3, 0.15, flip))
    words = np.empty((size, 12), np.uint64)
    desc = np.empty((size, base_desc.shape[1]), np.float32)
    seconds = rng.integers(0, 5 * 365 * 86400, size).astype(np.int64)
    fresh = kind >= copies * 1.3
    masks = _masks(rng, size, p)
    words[fresh] = base_words[base_of[fresh]] ^ masks[fresh]
    desc[fresh] = base_desc[base_of[fresh]] + rng.normal(0, 0.08, (int(fresh.sum()), base_desc.shape[1]))
    for n in np.nonzero(~fresh)[0]:  # derived from the photo before (a copy, or a shot 3 s later)
        words[n] = words[n - 1] ^ masks[n]
        desc[n] = desc[n - 1] + rng.normal(0, 0.01 if kind[n] < copies else 0.03, base_desc.shape[1])
        seconds[n] = seconds[n - 1] + (0 if kind[n] < copies else 3)
    desc /= np.linalg.norm(desc, axis=1, keepdims=True)
    start = datetime(2020, 1, 1, tzinfo=UTC)
    out = []
    for n in range(size):
        base = bases[base_of[n]]
        w = [int(x) for x in words[n]]
        out.append(
            PhotoFeatures(
                **{
                    **base.__dict__,
                    "image_id": f"p{n}",
                    "original_image_id": f"p{n}",
                    "sha256": f"{n:064x}",
                    "phash": w[0],
                    "dhash": w[1],
                    "phash_mirror": w[2],
                    "dhash_mirror": w[3],
                    "content_hashes": (w[4], w[5], w[6], w[7]) if base.content_hashes else None,
                    "centre_hashes": (w[8], w[9], w[10], w[11]) if base.centre_hashes else None,
                    "descriptor": desc[n],
                    "captured_at": start + timedelta(seconds=int(seconds[n])),
                    "sharpness": float(np.clip(base.sharpness + rng.normal(0, 0.05), 0, 1)),
                }
            )
        )
    return out


def imagededup_seconds(library: list[PhotoFeatures]) -> float:
    phash = hashing().PHash(verbose=False)
    encodings = {p.image_id: f"{(p.content_hashes or (p.phash,))[0]:016x}" for p in library}
    started = time.perf_counter()
    phash.find_duplicates(encoding_map=encodings, max_distance_threshold=10, num_dist_workers=0)
    return time.perf_counter() - started


async def _fill_library(runtime: Any, user_id: str, library: list[PhotoFeatures]) -> str:
    """Store ``library`` as ``Image`` rows of ``user_id`` (as an import would) and return an admin key."""
    from storage.images import to_signed64
    from storage.keys import create_key
    from storage.models import Image

    async with runtime.sessions() as session:
        for start in range(0, len(library), 2000):
            rows = []
            for f in library[start : start + 2000]:
                hashes = {}
                for prefix, values in (("content", f.content_hashes), ("centre", f.centre_hashes)):
                    for kind, value in zip(
                        ("phash", "dhash", "phash_mirror", "dhash_mirror"), values or (), strict=False
                    ):
                        hashes[f"{prefix}_{kind}"] = f"{value:016x}"
                rows.append(
                    Image(
                        user_id=user_id,
                        original_image_id=f.image_id,
                        sha256=f.sha256,
                        byte_size=f.byte_size,
                        format=f.format,
                        width=f.width,
                        height=f.height,
                        aspect=f.width / max(1, f.height),
                        captured_at=f.captured_at,
                        gps_lat=f.gps_lat,
                        gps_lon=f.gps_lon,
                        phash=to_signed64(f.phash),
                        dhash=to_signed64(f.dhash),
                        phash_mirror=to_signed64(f.phash_mirror),
                        dhash_mirror=to_signed64(f.dhash_mirror),
                        descriptor=f.descriptor.astype(np.float16).tobytes(),
                        sharpness=f.sharpness,
                        quality_score=f.quality_score,
                        quality={**f.quality, "content_hashes": hashes},
                        face_count=f.face_count,
                        faces=[],
                        colors=[],
                    )
                )
            session.add_all(rows)
            await session.commit()
        key = await create_key(session, user_id=None, is_admin=True)
        await session.commit()
    return key.key


def alternatives_over_rest(library: list[PhotoFeatures], queries: int, seed: int) -> tuple[list[float], float]:
    """POST /api/actions SUGGEST_ALTERNATIVE_IMAGES latencies (ms) on an embedded service, after one warm-up call."""
    import tempfile

    from starlette.testclient import TestClient

    from server.app import create_app

    with tempfile.TemporaryDirectory(prefix="bench-alternatives-") as data_dir:
        settings = Settings(data_dir=Path(data_dir), deliver_events=False)
        with TestClient(create_app(settings)) as client:
            runtime = client.app.state.runtime  # type: ignore[attr-defined]
            logging.getLogger("httpx").setLevel(logging.WARNING)  # the app configured logging on start
            client.headers["X-API-Key"] = client.portal.call(_fill_library, runtime, "bench", library)
            pick = random.Random(seed)

            def ask() -> float:
                target = library[pick.randrange(len(library))].image_id
                body = {
                    "user_id": "bench",
                    "action": "SUGGEST_ALTERNATIVE_IMAGES",
                    "params": {"image_id": target, "wait": 30},
                }
                started = time.perf_counter()
                response = client.post("/api/actions", json=body)
                elapsed = (time.perf_counter() - started) * 1000
                if response.status_code != 200:
                    raise SystemExit(f"alternatives answered {response.status_code}: {response.text}")
                return elapsed

            first = ask()  # loads the library into the per-user cache
            return [ask() for _ in range(queries)], first


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("images", type=Path, help="a folder of real photos whose features seed the libraries")
    parser.add_argument("--base-limit", type=int, default=400, help="how many of the photos to analyse")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--baseline-max", type=int, default=10_000, help="largest size imagededup is run at")
    parser.add_argument("--flip", type=float, default=0.25)
    parser.add_argument("--copies", type=float, default=0.1)
    parser.add_argument("--alt-size", type=int, default=20_000)
    parser.add_argument("--alt-queries", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2, help="analysis processes (phase 0 only)")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--short", action="store_true", help="a quick look: 10k only, 100 seeds, 5k alternatives")
    args = parser.parse_args(argv)
    for noisy in ("httpx", "imagededup", "mcp", "alembic", "server"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if args.short:
        args.sizes, args.base_limit, args.alt_size, args.alt_queries = [10_000], 100, 5_000, 50
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    print(machine_line())
    settings = Settings()
    files = sorted(p for p in args.images.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)[: args.base_limit]
    bases = []
    for path in files:
        name, result, size, sha = _analyse(path, settings.max_image_pixels, settings.thumbnail_size)
        bases.append(from_analysis(name, result, byte_size=size, sha256=sha))
    print(f"{len(bases)} real photos analysed as seeds")
    rows: list[list[Any]] = []
    ours: dict[int, float] = {}
    theirs: dict[int, float] = {}
    for size in args.sizes:
        library = synthetic_library(bases, size, args.flip, args.copies, args.seed)
        started = time.perf_counter()
        grouping = group_photos(library)
        ours[size] = time.perf_counter() - started
        baseline = "-"
        if size <= args.baseline_max:
            try:
                theirs[size] = imagededup_seconds(library)
                baseline = f"{theirs[size]:.2f}"
            except ImagededupMissing as exc:
                baseline = f"skipped ({exc})"
        ratio = f"{theirs[size] / ours[size]:.1f}x" if size in theirs else "-"
        rows.append(
            [f"{size:,}", f"{ours[size]:.2f}", len(grouping.duplicates), len(grouping.similar), baseline, ratio]
        )
    print()
    print_table(["photos", "ours s (1 core)", "dup groups", "similar groups", "imagededup PHash s", "speed-up"], rows)
    alt_library = synthetic_library(bases, args.alt_size, args.flip, args.copies, args.seed + 1)
    started = time.perf_counter()
    lib = Library.build("bench", (0, None), alt_library)
    build_s = time.perf_counter() - started
    pick = random.Random(args.seed)
    latencies = []
    for _ in range(args.alt_queries):
        target = alt_library[pick.randrange(len(alt_library))].image_id
        t0 = time.perf_counter()
        suggest_alternatives(lib, [target], count=5, exclude_ids=set(), prefer=None)
        latencies.append((time.perf_counter() - t0) * 1000)
    p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
    rest, first = alternatives_over_rest(alt_library, args.alt_queries, args.seed)
    rest_p50, rest_p95 = percentile(rest, 50), percentile(rest, 95)
    print(
        f"\nalternatives on {args.alt_size:,} photos, the ranking alone: p50 {p50:.1f} ms, p95 {p95:.1f} ms "
        f"(cache build {build_s:.2f} s, once per library change)"
    )
    print(
        f"alternatives over REST (POST /api/actions, embedded SQLite, {args.alt_size:,} photos): "
        f"p50 {rest_p50:.1f} ms, p95 {rest_p95:.1f} ms (first call, loading the library: {first:.0f} ms)"
    )
    big = max(args.sizes)
    checks = [
        (f"{big:,} grouped in <= 10 s", ours[big] <= 10.0),
        ("alternatives p95 <= 200 ms (REST)", rest_p95 <= 200.0),
    ]
    for size in theirs:
        checks.append((f">= 10x imagededup at {size:,}", theirs[size] / ours[size] >= 10))
    for what, ok in checks:
        print(f"target {what}: {verdict(ok)}")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
