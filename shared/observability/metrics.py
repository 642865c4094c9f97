"""Prometheus metrics of one service process (its own registry: tests build many apps)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest


@dataclass
class ServiceMetrics:
    service: str
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.events_handled = Counter(
            "hotro_events_handled_total", "Upstream events processed",
            ["service", "event_type", "outcome"], registry=r)
        self.redeliveries = Counter(
            "hotro_redeliveries_total", "Messages seen more than once",
            ["service"], registry=r)
        self.dead_letters = Counter(
            "hotro_dead_letters_total", "Messages sent to the dead-letter subject",
            ["service", "reason"], registry=r)
        self.relay_published = Counter(
            "hotro_relay_published_total", "Events published by the outbox relay",
            ["service"], registry=r)
        self.relay_lag = Gauge(
            "hotro_relay_lag", "Stored notifications not yet published",
            ["service"], registry=r)
        self.consumer_lag = Gauge(
            "hotro_consumer_lag", "Messages pending for a partition consumer",
            ["service", "partition"], registry=r)
        self.partitions_held = Gauge(
            "hotro_partitions_held", "Partitions this replica consumes",
            ["service"], registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)
