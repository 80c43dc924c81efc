"""``gonerd crawl``: a polite, resumable crawler on Scrapy that writes WARC files for ``gonerd docs``.

Scrapy does the fetching (robots.txt, per-host delays and concurrency, retries, redirect and size
limits, sitemaps); this package holds the spider, its settings, the WARC writer and the crawl log.
"""
