"""Benchmark: duplicate-detection accuracy on a labelled near-duplicate set (duplicates issue).

One run, on a folder made by ``make_neardup.py`` (``images/`` plus ``groups.json``), e.g.
``../shared/datasets/neardup-dev``:

1. **ours**: every file goes through the import's analysis (``analyse_photo``, in a process
   pool, as the import does), then ``group_photos`` at ``--sensitivity`` (default: the
   operation's default); the ``duplicates`` groups are written as a predictions file and scored
   with the shared scorer (pairwise precision, recall, F1).
2. **imagededup** PHash and DHash ``find_duplicates`` at their default threshold on the same
   files, scored the same way, side by side.

Target: precision >= 0.98 and recall >= 0.90 at the default sensitivity.

    .venv/bin/python -m bench.bench_duplicates ../shared/datasets/neardup-dev \\
        --scorer ../shared/bench/score_groups.py

imagededup is the baseline only; install it without its torch part (see bench/README.md).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import logging
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import HelpFormatter, machine_line, print_table, verdict
from bench._imagededup import ImagededupMissing, hashing
from tools.duplicates.features import PhotoFeatures, from_analysis
from tools.duplicates.grouping import SENSITIVITIES, group_photos
from tools.imports.analysis import analyse_photo
from tools.settings import Settings

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".heic", ".heif", ".gif", ".bmp"}


def _analyse(path: Path, max_pixels: int, thumbnail_size: int) -> tuple[str, dict[str, Any], int, str]:
    data = path.read_bytes()
    result = analyse_photo(data, max_pixels, thumbnail_size)
    result.pop("thumbnail", None)
    return path.name, result, len(data), hashlib.sha256(data).hexdigest()


def analyse_folder(folder: Path, workers: int) -> tuple[list[PhotoFeatures], float]:
    settings = Settings()
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    started = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        done = list(
            pool.map(
                _analyse,
                files,
                [settings.max_image_pixels] * len(files),
                [settings.thumbnail_size] * len(files),
                chunksize=16,
            )
        )
    feats = [from_analysis(name, a, byte_size=size, sha256=sha) for name, a, size, sha in done]
    return feats, time.perf_counter() - started


def load_scorer(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location("score_groups", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load the scorer {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def imagededup_groups(method: str, folder: Path) -> tuple[list[list[str]], float]:
    """imagededup's ``find_duplicates`` at its default threshold; its map becomes groups of files."""
    hasher = getattr(hashing(), method)(verbose=False)
    started = time.perf_counter()
    found = hasher.find_duplicates(image_dir=str(folder))
    seconds = time.perf_counter() - started
    groups = [[name, *dups] for name, dups in found.items() if dups]  # the scorer merges them transitively
    return groups, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("dataset", type=Path, help="folder with images/ and groups.json (make_neardup.py output)")
    parser.add_argument("--scorer", type=Path, required=True, help="the shared score_groups.py")
    parser.add_argument("--sensitivity", choices=SENSITIVITIES, default="normal")
    parser.add_argument("--all-sensitivities", action="store_true", help="also score strict and loose")
    parser.add_argument("--workers", type=int, default=2, help="analysis processes")
    parser.add_argument("--no-baseline", action="store_true", help="skip imagededup")
    parser.add_argument("--out", type=Path, default=None, help="where to write the predictions (default: a temp dir)")
    parser.add_argument("--short", action="store_true", help="a quick look: ours only, default sensitivity")
    args = parser.parse_args(argv)
    for noisy in ("httpx", "imagededup", "mcp", "alembic", "server"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if args.short:
        args.no_baseline, args.all_sensitivities = True, False
    images = args.dataset / "images"
    truth = json.loads((args.dataset / "groups.json").read_text())
    scorer = load_scorer(args.scorer)
    out_dir = args.out or Path(tempfile.mkdtemp(prefix="bench-duplicates-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    print(machine_line())
    feats, analyse_s = analyse_folder(images, args.workers)
    print(f"analysed {len(feats)} files in {analyse_s:.1f}s with {args.workers} processes (the import's analysis)")
    rows: list[list[Any]] = []
    scores: dict[str, dict[str, Any]] = {}
    levels = SENSITIVITIES if args.all_sensitivities else (args.sensitivity,)
    for level in levels:
        started = time.perf_counter()
        grouping = group_photos(feats, sensitivity=level, include_similar=True)
        seconds = time.perf_counter() - started
        pred = {"groups": [[m.image_id for m in g.members] for g in grouping.duplicates]}
        path = out_dir / f"ours-{level}.json"
        path.write_text(json.dumps(pred))
        score = scorer.score(truth, pred)
        scores[f"ours ({level})"] = score
        rows.append(
            [
                f"ours ({level})",
                score["precision"],
                score["recall"],
                score["f1"],
                score["pred_groups"],
                len(grouping.similar),
                f"{seconds:.3f}",
            ]
        )
    if not args.no_baseline:
        for method in ("PHash", "DHash"):
            try:
                groups, seconds = imagededup_groups(method, images)
            except ImagededupMissing as exc:
                print(f"imagededup {method}: skipped ({exc})")
                continue
            pred = {"groups": groups}
            (out_dir / f"imagededup-{method}.json").write_text(json.dumps(pred))
            score = scorer.score(truth, pred)
            scores[f"imagededup {method}"] = score
            rows.append(
                [
                    f"imagededup {method} (default)",
                    score["precision"],
                    score["recall"],
                    score["f1"],
                    score["pred_groups"],
                    "-",
                    f"{seconds:.3f} (incl. hashing)",
                ]
            )
    print()
    print_table(["method", "precision", "recall", "F1", "groups", "similar groups", "seconds"], rows)
    ours = scores[f"ours ({args.sensitivity})"]
    for name, score in scores.items():
        if name.startswith("imagededup"):
            print(f"F1 ours / {name}: {ours['f1'] / score['f1']:.2f}x" if score["f1"] else f"{name}: F1 0")
    ok = ours["precision"] >= 0.98 and ours["recall"] >= 0.90
    print(
        f"target precision >= 0.98 and recall >= 0.90 at {args.sensitivity}: "
        f"P {ours['precision']:.4f} R {ours['recall']:.4f} -> {verdict(ok)}"
    )
    print(f"predictions in {out_dir}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
