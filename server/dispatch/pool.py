"""The process pool CPU-bound operation steps run in."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor


def make_cpu_pool(workers: int) -> ProcessPoolExecutor:
    # "spawn": a forked child of an asyncio process with threads and open sockets is unsafe.
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
