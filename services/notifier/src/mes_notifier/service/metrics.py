"""The notifier's own Prometheus metrics, beside the platform's."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

__all__ = ["BACKLOG", "NOTIFICATIONS", "SEND_SECONDS"]

NOTIFICATIONS = Counter(
    "mes_notifications_total",
    "Notifications by kind and the state an attempt left them in (sent, retrying, failed, "
    "not_notifiable)",
    ["kind", "state"],
)
BACKLOG = Gauge("mes_notifications_backlog", "Notifications queued or waiting for a retry")
SEND_SECONDS = Histogram(
    "mes_notification_send_seconds",
    "Time for the relay or push provider to accept one notification",
    ["channel"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
