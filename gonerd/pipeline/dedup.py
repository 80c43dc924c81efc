"""Duplicate removal: same URL, exact (normalised-text hash), then near-duplicates by MinHash LSH.

Shingles are word n-grams of the normalised text, hashed to 32 bits. LSH proposes candidate pairs
(documents sharing a band of their MinHash signature); a pair is merged only when its estimated
Jaccard similarity reaches the threshold, so banding false positives are dropped. Each cluster keeps
one representative: the longest document (earliest on ties). Band keys are grouped in buckets that
an executor can spread over processes or a cluster; the pairs, hence the output, never change.
"""

from __future__ import annotations

import hashlib
import zlib
from functools import lru_cache
from itertools import combinations
from typing import Any

import numpy as np
from datasketch import MinHash, MinHashLSH

from gonerd.config import DedupConfig
from gonerd.errors import ConfigError
from gonerd.pipeline.executor import Executor, LocalExecutor
from gonerd.records import exclusion
from gonerd.text import normalize

# datasketch 2.0's unbiased 32-bit scheme; signatures of different schemes must never be mixed.
SCHEME = "affine32"


# Band keys per bucket of the near-duplicate search: each bucket is grouped by one task.
BUCKET_ENTRIES = 250_000

_PRIME = np.uint64(1_000_003)
_MASK = np.uint64(0xFFFFFFFF)


def shingle_hashes(text: str, size: int) -> np.ndarray:
    """Distinct 32-bit hashes of the word ``size``-grams of the normalised text.

    Words are hashed once (CRC-32) and each n-gram's hash is a polynomial of its words' hashes,
    computed in numpy: hashing every n-gram string in Python would cost more than the MinHash.
    A text shorter than ``size`` words is one shingle.
    """
    words = normalize(text).split()
    codes = np.fromiter((zlib.crc32(w.encode()) for w in words), dtype=np.uint64, count=len(words))
    if len(codes) == 0:
        return np.zeros(1, dtype=np.uint64)
    n = min(size, len(codes))
    acc = np.zeros(len(codes) - n + 1, dtype=np.uint64)
    for k in range(n):
        acc = (acc * _PRIME + codes[k:len(codes) - n + 1 + k]) & _MASK
    return np.unique(acc)


@lru_cache(maxsize=8)
def _template(num_perm: int, seed: int) -> MinHash:
    # Building the permutations is the costly part of a MinHash; share them between documents.
    return MinHash(num_perm=num_perm, seed=seed, scheme=SCHEME)


def minhash_signature(text: str, config: DedupConfig) -> np.ndarray:
    """MinHash hash values (``num_perm`` uint32, the affine32 scheme) of ``text``'s shingles."""
    template = _template(config.num_perm, config.seed)
    mh = MinHash(num_perm=config.num_perm, seed=config.seed, permutations=template.permutations,
                 scheme=SCHEME, hashfunc=int)
    mh.update_batch(shingle_hashes(text, config.shingle_size).tolist())
    return mh.hashvalues


def content_hash(text: str) -> str:
    """Hash of the normalised text: equal for copies that differ only in case, punctuation, spacing."""
    return hashlib.sha1(normalize(text).encode()).hexdigest()


def _preferred(docs: list[dict[str, Any]], members: list[int]) -> int:
    return min(members, key=lambda i: (-docs[i]["n_tokens"], i))


def _clusters(pairs: list[tuple[int, int]], n: int) -> dict[int, list[int]]:
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    return groups


def new_lsh(config: DedupConfig) -> MinHashLSH:
    """An empty LSH index for ``config``; a threshold it cannot band with ``num_perm`` is a ConfigError."""
    try:
        return MinHashLSH(threshold=config.threshold, num_perm=config.num_perm)
    except ValueError as e:
        raise ConfigError(f"config.dedup.threshold: {config.threshold} is too high for num_perm={config.num_perm} "
                          f"(datasketch: {e}); lower the threshold or raise num_perm") from e


def lsh_shape(config: DedupConfig) -> tuple[int, int]:
    """(bands, rows per band) that datasketch's ``MinHashLSH`` picks for ``config``'s threshold and ``num_perm``."""
    lsh = new_lsh(config)
    return lsh.b, lsh.r


def band_keys(signature: np.ndarray, bands: int, rows: int) -> list[bytes]:
    """One key per band: the band's number and its rows' hash values. Two signatures are LSH
    candidates when any of their keys are equal, the rule of ``MinHashLSH.query``."""
    return [k.to_bytes(4, "big") + signature[k * rows:(k + 1) * rows].tobytes() for k in range(bands)]


def candidate_pairs(entries: list[tuple[bytes, int]]) -> list[tuple[int, int]]:
    """Pairs ``(i, j)``, ``i < j``, of documents that share a band key among ``(key, document)`` entries."""
    groups: dict[bytes, list[int]] = {}
    for key, i in entries:
        groups.setdefault(key, []).append(i)
    return sorted({pair for members in groups.values() if len(members) > 1
                   for pair in combinations(sorted(members), 2)})


def near_duplicate_pairs(signatures: list[np.ndarray], config: DedupConfig, executor: Executor | None = None,
                         buckets: int | None = None) -> list[tuple[int, int, float]]:
    """Index pairs ``(i, j, jaccard)``, ``i < j``, whose estimated Jaccard is ≥ the threshold.

    Band keys are spread over ``buckets`` (default: one per :data:`BUCKET_ENTRIES` keys) by a hash
    of the key, so equal keys always meet in one bucket; ``executor`` groups each bucket. The
    candidates are exactly those of datasketch's ``MinHashLSH`` whatever the buckets or executor, and
    each is kept only if its estimated Jaccard reaches the threshold.
    """
    bands, rows = lsh_shape(config)
    n_buckets = buckets or max(1, -(-len(signatures) * bands // BUCKET_ENTRIES))
    keyed: list[list[tuple[bytes, int]]] = [[] for _ in range(n_buckets)]
    for i, signature in enumerate(signatures):
        for key in band_keys(signature, bands, rows):
            keyed[zlib.crc32(key) % n_buckets].append((key, i))
    candidates: set[tuple[int, int]] = set()
    for found in (executor or LocalExecutor()).map(candidate_pairs, keyed):
        candidates.update(found)
    pairs = []
    for i, j in sorted(candidates):
        jaccard = float(np.mean(signatures[i] == signatures[j]))
        if jaccard >= config.threshold:
            pairs.append((i, j, round(jaccard, 4)))
    return pairs


def deduplicate(docs: list[dict[str, Any]], signatures: list[np.ndarray], config: DedupConfig,
                executor: Executor | None = None
                ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, int]]:
    """Drop same-id, exact, then near duplicates; returns kept docs (input order), exclusions, stage counts.

    Documents share an id when they share a URL (a page fetched twice); the longest copy stays.
    ``executor`` groups the LSH band keys (:func:`near_duplicate_pairs`); the result never depends on it.
    """
    exclusions: list[dict[str, Any]] = []

    def keep_one_per(groups: dict[str, list[int]], filter_name: str, what: str) -> list[int]:
        kept = []
        for members in groups.values():
            keep = _preferred(docs, members)
            kept.append(keep)
            exclusions.extend(exclusion(docs[i], "dedup", filter_name, f"{what} {docs[keep]['id']}", docs[keep]["id"])
                              for i in members if i != keep)
        return sorted(kept)

    by_id: dict[str, list[int]] = {}
    for i, doc in enumerate(docs):
        by_id.setdefault(doc["id"], []).append(i)
    id_kept = keep_one_per(by_id, "same-url", "same URL (id) as")
    by_hash: dict[str, list[int]] = {}
    for i in id_kept:
        by_hash.setdefault(content_hash(docs[i]["text"]), []).append(i)
    exact_kept = keep_one_per(by_hash, "exact-duplicate", "same normalised text as")
    after_exact = len(exact_kept)

    pairs = near_duplicate_pairs([signatures[i] for i in exact_kept], config, executor)
    best = {}
    for a, b, jac in pairs:
        for x in (a, b):
            best[x] = max(best.get(x, 0.0), jac)
    kept = []
    for members in _clusters([(a, b) for a, b, _ in pairs], len(exact_kept)).values():
        idx = [exact_kept[m] for m in members]
        keep = _preferred(docs, idx)
        kept.append(keep)
        for m, i in zip(members, idx):
            if i != keep:
                exclusions.append(exclusion(docs[i], "dedup", "near-duplicate",
                                            f"near-duplicate of {docs[keep]['id']} (estimated Jaccard ≥ {config.threshold})",
                                            best[m]))
    kept.sort()
    counts = {"dedup-url": len(id_kept), "dedup-exact": after_exact, "dedup-near": len(kept)}
    return [docs[i] for i in kept], exclusions, counts
