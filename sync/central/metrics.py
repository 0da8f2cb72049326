"""Prometheus metrics of the central server, read from the database at scrape time.

Several central processes may run behind a load balancer, and a scrape reaches one of them:
counters in one process's memory would show that process's share only. So every figure is
computed from the shared database when ``/metrics`` is read: batches from ``sync_batches``,
events from the devices' counts, the forwarding queue from ``lrs_queue``, silent sites from
the devices' last contact. What no table holds (rejected batches by reason, ingest latency)
each process adds to ``central_metric_counts`` with one upsert per request, outside the
ingest transaction. No Flask here; the view in ``views_metrics`` checks access.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from peewee import EXCLUDED, CharField, CompositeKey, FloatField, fn

from . import fleet_health, lrs_forward
from .models import CentralModel, Device, SyncBatch

log = logging.getLogger(__name__)

# Upper bounds (seconds) of the ingest latency histogram: a small batch takes tens of ms, a
# 500-event batch on a busy PostgreSQL up to seconds.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
REJECTS = "batch_rejects"
LATENCY = "ingest_latency_bucket"
LATENCY_SUM = "ingest_latency_sum"
INF = "+Inf"


class MetricCount(CentralModel):
    metric = CharField()
    label = CharField()
    value = FloatField(default=0)

    class Meta:
        table_name = "central_metric_counts"
        primary_key = CompositeKey("metric", "label")


def _bucket(seconds: float) -> str:
    for bound in LATENCY_BUCKETS:
        if seconds <= bound:
            return repr(bound)
    return INF


def _add(rows: list[tuple[str, str, float]]) -> None:
    """Add ``rows`` (metric, label, amount) to the shared counters; never fail the request."""
    # Key order, so two processes adding the same rows cannot deadlock on PostgreSQL.
    values = [{"metric": m, "label": lab, "value": v} for m, lab, v in sorted(rows)]
    try:
        MetricCount.insert_many(values).on_conflict(
            conflict_target=[MetricCount.metric, MetricCount.label],
            update={MetricCount.value: MetricCount.value + EXCLUDED.value},
        ).execute()
    except Exception as exc:  # a lost sample must not turn an ingest into a 500
        log.warning("could not record a metric: %s", exc)


def record_ingest(seconds: float) -> None:
    """Count one accepted batch that took ``seconds`` to answer in the latency histogram."""
    _add([(LATENCY, _bucket(seconds), 1), (LATENCY_SUM, "", seconds)])


def record_reject(reason: str) -> None:
    """Count one batch refused for ``reason`` (the error code the site was sent)."""
    _add([(REJECTS, reason[:100], 1)])


def _silent_cutoff(now: datetime, days: int) -> str:
    # last_seen_at is written by models.utcnow(): ISO 8601 in UTC, seconds, so text compares.
    return (now - timedelta(days=days)).isoformat(timespec="seconds")


def _last_seen_seconds(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def snapshot(settings: Any, now: datetime | None = None) -> dict[str, Any]:
    """Return every figure ``/metrics`` shows, read from the database now."""
    now = now or datetime.now(UTC)
    days = settings["central.silent_days"]
    cutoff = _silent_cutoff(now, days)
    query: Any = Device.select(
        Device.device_id, Device.province, Device.enabled, Device.last_seen_at
    ).tuples()
    devices: list[tuple[str, str, bool, str | None]] = list(query)
    enabled = [d for d in devices if d[2]]
    stored: Any = MetricCount.select(
        MetricCount.metric, MetricCount.label, MetricCount.value
    ).tuples()
    counts: dict[tuple[str, str], float] = {(m, lab): v for m, lab, v in stored}
    buckets = {lab: v for (m, lab), v in counts.items() if m == LATENCY}
    return {
        "batches": SyncBatch.select(fn.COUNT(SyncBatch.id)).scalar() or 0,
        "events": Device.select(fn.SUM(Device.events_received)).scalar() or 0,
        "rejects": {lab: v for (m, lab), v in counts.items() if m == REJECTS},
        "latency_buckets": buckets,
        "latency_sum": counts.get((LATENCY_SUM, ""), 0.0),
        "lrs": lrs_forward.status(),
        "devices": {"enabled": len(enabled), "disabled": len(devices) - len(enabled)},
        "silent_days": days,
        "silent": sum(1 for d in enabled if d[3] and d[3] < cutoff),
        "never_seen": sum(1 for d in enabled if not d[3]),
        "last_seen": {(d[0], d[1]): _last_seen_seconds(d[3]) for d in enabled if d[3]},
        "warnings": fleet_health.fleet(days, now)["counts"],
    }


class _Collector:
    """A prometheus_client collector over one :func:`snapshot`."""

    def __init__(self, figures: dict[str, Any]) -> None:
        self.figures = figures

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        f = self.figures
        yield CounterMetricFamily(
            "kru_central_batches", "Sync batches stored (new batch ids).", value=f["batches"]
        )
        yield CounterMetricFamily(
            "kru_central_events", "Learning events stored, each once.", value=f["events"]
        )
        rejects = CounterMetricFamily(
            "kru_central_batch_rejects", "Batches refused, by error code.", labels=["reason"]
        )
        for reason, n in sorted(f["rejects"].items()):
            rejects.add_metric([reason], n)
        yield rejects
        yield HistogramMetricFamily(
            "kru_central_ingest_seconds",
            "Time to answer an accepted batch, in seconds.",
            buckets=_cumulative(f["latency_buckets"]),
            sum_value=f["latency_sum"],
        )
        queue = GaugeMetricFamily(
            "kru_central_lrs_queue",
            "xAPI statements for the learning record store, by state.",
            labels=["state"],
        )
        for state in ("pending", "sent", "rejected"):
            queue.add_metric([state], f["lrs"][state])
        yield queue
        devices = GaugeMetricFamily(
            "kru_central_devices", "Registered site devices, by state.", labels=["state"]
        )
        for state in ("enabled", "disabled"):
            devices.add_metric([state], f["devices"][state])
        yield devices
        yield GaugeMetricFamily(
            "kru_central_sites_silent",
            f"Enabled sites last heard from more than {f['silent_days']} days ago "
            "(setting central.silent_days).",
            value=f["silent"],
        )
        yield GaugeMetricFamily(
            "kru_central_sites_never_seen",
            "Enabled sites that have not sent a batch or probe yet.",
            value=f["never_seen"],
        )
        warnings = GaugeMetricFamily(
            "kru_central_sites_warning",
            "Enabled sites the dashboard lists as needing attention, by warning.",
            labels=["warning"],
        )
        for code in fleet_health.WARNINGS:
            warnings.add_metric([code], f["warnings"].get(code, 0))
        yield warnings
        seen = GaugeMetricFamily(
            "kru_central_site_last_seen_timestamp_seconds",
            "When each enabled site was last heard from (Unix time).",
            labels=["device_id", "province"],
        )
        for (device_id, province), when in sorted(f["last_seen"].items()):
            seen.add_metric([device_id, province], when)
        yield seen


def _cumulative(buckets: dict[str, float]) -> list[tuple[str, float]]:
    total, out = 0.0, []
    bounds: Iterable[str] = [repr(b) for b in LATENCY_BUCKETS] + [INF]
    for bound in bounds:
        total += buckets.get(bound, 0)
        out.append((bound, total))
    return out


def render(settings: Any) -> tuple[bytes, str]:
    """Return the exposition (text format) of every metric and its content type."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
    from prometheus_client.registry import CollectorRegistry

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(snapshot(settings)))
    return generate_latest(registry), CONTENT_TYPE_LATEST
