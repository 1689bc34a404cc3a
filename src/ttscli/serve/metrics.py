"""What the server has done, for people (``GET /v1/stats``) and for Prometheus
(``GET /metrics``), counted in one place as each request ends."""

from __future__ import annotations

import statistics
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST as METRICS_CONTENT_TYPE
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

__all__ = ["METRICS_CONTENT_TYPE", "Metrics", "RequestRecord"]

FIRST_AUDIO_BUCKETS = (0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0)
RTF_BUCKETS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)


@dataclass
class RequestRecord:
    """One request as it goes: when its text was ready, what it has heard."""

    route: str
    first_audio: float | None = None
    audio_seconds: float = 0.0
    started: float = field(default_factory=time.perf_counter)

    def heard(self, seconds: float, text_ready_at: float | None) -> None:
        if self.first_audio is None and seconds > 0 and text_ready_at is not None:
            self.first_audio = max(0.0, time.perf_counter() - text_ready_at)
        self.audio_seconds += seconds


class Metrics:
    """Counters for ``/v1/stats`` and the Prometheus registry behind ``/metrics``."""

    def __init__(self, counts: Callable[[], tuple[int, int]]) -> None:
        self.counts = counts
        self.served = 0
        self.failed = 0
        self.refused = 0
        self.first_audio: deque[float] = deque(maxlen=1000)
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "ttscli_requests", "Requests by route and outcome (HTTP status or event).",
            ["route", "status"], registry=self.registry,
        )  # fmt: skip
        self.refusals = Counter(
            "ttscli_refused_requests", "Requests refused because every slot was taken.",
            registry=self.registry,
        )  # fmt: skip
        in_flight = Gauge(
            "ttscli_requests_in_flight", "Requests being synthesised.", registry=self.registry
        )
        in_flight.set_function(lambda: self.counts()[0])
        queued = Gauge("ttscli_requests_queued", "Requests waiting.", registry=self.registry)
        queued.set_function(lambda: self.counts()[1])
        self.first_audio_seconds = Histogram(
            "ttscli_first_audio_seconds", "From a request's first text to its first audio.",
            buckets=FIRST_AUDIO_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.real_time_factor = Histogram(
            "ttscli_real_time_factor",
            "A request's time from start to end over the seconds of audio it got.",
            buckets=RTF_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.audio_seconds = Counter(
            "ttscli_audio_seconds", "Seconds of audio sent to clients.", registry=self.registry
        )

    def refused_one(self, route: str) -> None:
        self.refused += 1
        self.refusals.inc()
        self.requests.labels(route, "503").inc()

    def ended(self, record: RequestRecord, status: str | int, ok: bool) -> None:
        """A request is over: ``ok`` when its audio was all sent."""
        self.requests.labels(record.route, str(status)).inc()
        self.audio_seconds.inc(record.audio_seconds)
        if record.first_audio is not None:
            self.first_audio.append(record.first_audio)
            self.first_audio_seconds.observe(record.first_audio)
        if ok:
            self.served += 1
            if record.audio_seconds > 0:
                wall = time.perf_counter() - record.started
                self.real_time_factor.observe(wall / record.audio_seconds)
        else:
            self.failed += 1

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    def as_json(self) -> dict[str, Any]:
        active, queued = self.counts()
        latencies = sorted(self.first_audio)

        def percentile(p: float) -> float | None:
            if not latencies:
                return None
            return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))], 4)

        return {
            "served": self.served,
            "failed": self.failed,
            "refused": self.refused,
            "in_flight": active,
            "queued": queued,
            "first_audio_p50_seconds": percentile(0.5),
            "first_audio_p95_seconds": percentile(0.95),
            "first_audio_mean_seconds": (
                round(statistics.fmean(latencies), 4) if latencies else None
            ),
        }
