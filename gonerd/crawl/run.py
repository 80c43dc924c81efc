"""Run one crawl in this process with Scrapy's ``CrawlerProcess``.

Twisted's reactor can start only once per process, so :func:`run_crawl` is meant to be called once
(the ``gonerd crawl`` command); tests run the command in a subprocess.
"""

from __future__ import annotations

from typing import Any

from gonerd.crawl.output import CrawlOutput
from gonerd.crawl.settings import CrawlOptions, scrapy_settings


def run_crawl(options: CrawlOptions) -> dict[str, Any]:
    """Crawl with ``options`` until the frontier is empty, a cap is reached or the user stops it; return the summary."""
    from scrapy.crawler import CrawlerProcess

    from gonerd.crawl.spider import GonerdSpider

    output = CrawlOutput(options)
    process = CrawlerProcess(settings=scrapy_settings(options))
    crawler = process.create_crawler(GonerdSpider)
    try:
        process.crawl(crawler, options=options, output=output)
        process.start()
    finally:
        summary = output.close(crawler.stats.get_value("finish_reason") if crawler.stats else None)
    return summary
