"""Candidate search: which photo pairs are worth verifying, without comparing all pairs.

A 100,000-photo library has 5 billion pairs. Instead, each photo's 128-bit keys (pHash and
dHash together) give ``TABLES`` sub-keys of ``key_bits_for(n)`` bits each (about log2 of the
library's size, 12 to 16), the bits of every sub-key drawn from across the 128 (a fixed,
seeded sampling: multi-index hashing with scattered rather than contiguous chunks, so that
neighbouring, correlated hash bits do not share a sub-key). Two photos become candidates
when any sub-key of one equals the same sub-key of the other. Keys ``d`` bits apart share a
given sub-key with probability about ``(1 - d/128) ** bits``; unrelated photos (about 64 bits
apart) with ``2 ** -bits``. With 16 bits and 24 tables (100,000 photos) a copy 12 bits away
is found with probability 0.996, one 20 bits away 0.80, and an unrelated pair turns up in
about one pair in 2,700 per probe; with 12 bits (a few thousand photos) a copy 20 bits away
is found with probability 0.96. Copies further apart are mostly found through their content
and centre keys, or joined to their group through another copy. A cheap check on each raw
hit (``keep``) drops most unrelated pairs before they are deduplicated, and every candidate
is then verified on all its hashes (``tools.duplicates.matching``): the index only decides
what gets compared.

The search is a sort per table and vectorised range expansion: no Python loop over photos,
and memory in proportion to the hits found.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import numpy as np

MIN_KEY_BITS = 12
MAX_KEY_BITS = 16
TABLES = 24
SEED = 20260522
CONSTANT_BITS = (0,)  # the pHash's first bit (the DC term against the median) is always set
_MAX_BUCKET = 4096  # a sub-key shared by more entries carries no information (e.g. flat images)


@cache
def sampling(words: int, tables: int, key_bits: int) -> np.ndarray:
    """(tables, key_bits) bit positions; every bit is used about equally often."""
    rng = np.random.default_rng(SEED)
    usable = np.setdiff1d(np.arange(words * 64), CONSTANT_BITS)
    needed = tables * key_bits
    order = np.concatenate([rng.permutation(usable) for _ in range(-(-needed // len(usable)))])
    return order[:needed].reshape(tables, key_bits)


def key_bits_for(n: int) -> int:
    """Sub-key width for a library of ``n`` photos: about log2(n), so each photo meets a steady
    number of unrelated photos per table whatever the library's size (the usual LSH choice)."""
    return int(np.clip(np.ceil(np.log2(max(2, n))), MIN_KEY_BITS, MAX_KEY_BITS))


def sub_keys(keys: np.ndarray, key_bits: int, tables: int = TABLES) -> np.ndarray:
    """(n, k, words) uint64 keys -> (n, k, tables) int64 sub-keys of ``key_bits`` sampled bits each."""
    n, k, words = keys.shape
    flat = keys.reshape(-1, words)
    picks = sampling(words, tables, key_bits)
    out = np.zeros((len(flat), tables), np.int64)
    one = np.uint64(1)
    for table in range(tables):
        acc = np.zeros(len(flat), np.uint64)
        for pos in picks[table]:
            word, shift = divmod(int(pos), 64)
            acc = (acc << one) | ((flat[:, word] >> np.uint64(63 - shift)) & one)
        out[:, table] = acc.astype(np.int64)
    return out.reshape(n, k, tables)


Filter = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def candidate_pairs(table: np.ndarray, probes: np.ndarray, key_bits: int, keep: Filter | None = None) -> np.ndarray:
    """Unique photo pairs (i < j) where a probe sub-key of one equals the same table's sub-key of the other.

    ``table``: (n, t, tables) int64 sub-keys each photo is found by; ``probes``: (n, q, tables)
    sub-keys each photo looks with (``sub_keys`` of e.g. its content hashes and their mirrors).
    ``keep(a, b, probe, entry)``, when given, is a cheap vectorised check run on the raw hits
    (photo ``a``'s probe number ``probe`` met photo ``b``'s table entry number ``entry``) before
    they are deduplicated: most hits of unrelated photos are dropped there, so the expensive
    steps only see likely pairs. Returns an (m, 2) int64 array sorted by (i, j).
    """
    n = table.shape[0]
    if n < 2:
        return np.empty((0, 2), np.int64)
    t_count, q_count = table.shape[1], probes.shape[1]
    t_keys = table.reshape(-1, table.shape[2])
    q_keys = probes.reshape(-1, probes.shape[2])
    buckets = 1 << key_bits
    found: list[np.ndarray] = []
    for pos in range(t_keys.shape[1]):
        keys = t_keys[:, pos]
        order = np.argsort(keys, kind="stable")
        all_counts = np.bincount(keys, minlength=buckets)
        starts = np.concatenate(([0], np.cumsum(all_counts)[:-1]))
        counts = np.where(all_counts > _MAX_BUCKET, 0, all_counts)
        wanted = q_keys[:, pos]
        hits = counts[wanted]
        sel = np.nonzero(hits)[0]
        if sel.size == 0:
            continue
        hits = hits[sel]
        total = int(hits.sum())
        first = np.repeat(starts[wanted[sel]] - np.concatenate(([0], np.cumsum(hits)[:-1])), hits)
        probe_rows = np.repeat(sel, hits)
        entry_rows = order[first + np.arange(total)]
        a, probe = np.divmod(probe_rows, q_count)
        b, entry = np.divmod(entry_rows, t_count)
        mask = a != b
        if keep is not None:
            mask &= keep(a, b, probe, entry)
        a, b = a[mask], b[mask]
        found.append(np.minimum(a, b) * n + np.maximum(a, b))
    if not found:
        return np.empty((0, 2), np.int64)
    codes = np.sort(np.concatenate(found))
    codes = codes[np.concatenate(([True], codes[1:] != codes[:-1]))] if len(codes) else codes
    return np.stack((codes // n, codes % n), axis=1)
