"""Prometheus metrics shared by every service process (one service per process)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "EVENTS_HANDLED",
    "EVENTS_PARKED",
    "GROUP_COMMITS",
    "GROUP_COMMIT_MEMBERS",
    "HTTP_LATENCY",
    "HTTP_REQUESTS",
    "OUTBOX_PENDING",
    "OUTBOX_PUBLISHED",
]

HTTP_REQUESTS = Counter(
    "mes_http_requests_total", "HTTP requests served", ["service", "method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "mes_http_request_duration_seconds",
    "HTTP request duration",
    ["service", "method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
OUTBOX_PENDING = Gauge("mes_outbox_pending", "Outbox rows seen waiting by the relay", ["service"])
OUTBOX_PUBLISHED = Counter("mes_outbox_published_total", "Events published", ["service"])
EVENTS_HANDLED = Counter(
    "mes_events_handled_total", "Events handled by consumers", ["service", "consumer", "outcome"]
)
EVENTS_PARKED = Counter("mes_events_parked_total", "Events parked", ["service", "consumer"])
GROUP_COMMITS = Counter(
    "mes_group_commits_total",
    "SQLite transactions committed for a group of units of work",
    ["service"],
)
GROUP_COMMIT_MEMBERS = Counter(
    "mes_group_commit_members_total",
    "Units of work committed in a group (divided by mes_group_commits_total: the group's size)",
    ["service"],
)
