"""A frontier shared by several crawler processes: scrapy-redis's scheduler and dupe filter.

Each worker runs ``gonerd crawl --redis-url URL --out ITS_OWN_DIR``; requests and seen fingerprints
live in Redis, so a URL is fetched by one worker only. Imported only when ``--redis-url`` is given.
"""

from __future__ import annotations

from typing import Any

from scrapy_redis.dupefilter import RFPDupeFilter as RedisDupeFilter

from gonerd.crawl.middlewares import ResumeMixin


class RedisResumeDupeFilter(ResumeMixin, RedisDupeFilter):
    """scrapy-redis's shared fingerprint set with :class:`~gonerd.crawl.middlewares.ResumeMixin`."""

    @classmethod
    def from_spider(cls, spider: Any) -> RedisResumeDupeFilter:
        """Build like scrapy-redis does and keep the spider, which holds this worker's finished URLs."""
        dupefilter = super().from_spider(spider)
        dupefilter.spider = spider
        return dupefilter


def redis_settings(redis_url: str) -> dict[str, Any]:
    """Scrapy settings that move the scheduler queue and the seen set to Redis at ``redis_url``."""
    return {
        "SCHEDULER": "scrapy_redis.scheduler.Scheduler",
        "DUPEFILTER_CLASS": "gonerd.crawl.redis_frontier.RedisResumeDupeFilter",
        "SCHEDULER_QUEUE_CLASS": "scrapy_redis.queue.FifoQueue",
        # The frontier outlives a worker: one that stops or crashes leaves the rest for the others.
        "SCHEDULER_PERSIST": True,
        "REDIS_URL": redis_url,
    }
