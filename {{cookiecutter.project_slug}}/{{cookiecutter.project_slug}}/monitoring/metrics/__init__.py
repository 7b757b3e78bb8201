"""Prometheus metrics: GET /metrics for the web, an exporter port for Celery workers.

The metric objects and the functions that record them are in `instruments`, who may read
them in `access`, what a scrape returns in `exposition`, the HTTP side in `middleware`, the
Celery side in `worker`.
"""
