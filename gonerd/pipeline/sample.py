"""Domain-weighted sampling: a seeded sample where named domains get target shares.

Without ``n``, the sample is the largest one the targets allow: e.g. with 30 ``justice.gov``
documents and a 25% target, at most 120 documents. A target domain with no documents cannot be
met; it is reported as such and the rest is sampled as usual.
"""

from __future__ import annotations

import math
import random
from typing import Any

from gonerd.config import SampleConfig
from gonerd.records import exclusion


def _in_domain(domain: str | None, target: str) -> bool:
    return domain is not None and (domain == target or domain.endswith("." + target))


def sample_documents(docs: list[dict[str, Any]], config: SampleConfig
                     ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    """Return (sampled docs in input order, exclusions for the rest, a report of target vs achieved shares)."""
    if sum(config.domain_shares.values()) > 1 or any(s < 0 for s in config.domain_shares.values()):
        raise ValueError(f"domain shares must be ≥ 0 and sum to ≤ 1, got {config.domain_shares}")
    pools: dict[str, list[int]] = {t: [] for t in config.domain_shares}
    others: list[int] = []
    for i, doc in enumerate(docs):
        target = next((t for t in config.domain_shares if _in_domain(doc.get("domain"), t)), None)
        (pools[target] if target else others).append(i)
    live = {t: s for t, s in config.domain_shares.items() if pools[t] and s > 0}
    rest_share = 1 - sum(live.values())
    caps = [len(docs)] + [len(pools[t]) / s for t, s in live.items()]
    if rest_share > 0 and others:
        caps.append(len(others) / rest_share)
    n = min(config.n, len(docs)) if config.n is not None else math.floor(min(caps) + 1e-9)

    rng = random.Random(config.seed)
    quota = {t: min(len(pools[t]), round(n * s)) for t, s in live.items()}
    n_rest = min(len(others), n - sum(quota.values()))
    chosen = set(rng.sample(others, n_rest))
    for t in config.domain_shares:
        chosen.update(rng.sample(pools[t], quota.get(t, 0)))
    shortfall = n - len(chosen)
    if shortfall > 0:  # a pool ran dry: top up from whatever is left, still seeded
        left = [i for i in range(len(docs)) if i not in chosen]
        chosen.update(rng.sample(left, min(shortfall, len(left))))

    kept = [docs[i] for i in sorted(chosen)]
    dropped = [exclusion(docs[i], "sample", "domain-weighted-sample",
                         f"not drawn: sample of {n} from {len(docs)} (domain {docs[i].get('domain')})",
                         docs[i].get("domain")) for i in range(len(docs)) if i not in chosen]
    achieved = {t: round(sum(_in_domain(d.get("domain"), t) for d in kept) / len(kept), 4) if kept else 0.0
                for t in config.domain_shares}
    report = {"n": len(kept), "available": len(docs), "seed": config.seed, "target_shares": dict(config.domain_shares),
              "achieved_shares": achieved, "unmet": sorted(t for t in config.domain_shares if t not in live)}
    return kept, dropped, report
