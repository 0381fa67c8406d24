"""What the server counts, for Prometheus at GET /metrics.  Counts only: no text, no ids.

    tsunagu_webhook_requests_total{channel,status}   every POST to /webhooks/*, by answer
    tsunagu_reply_seconds{channel}                   webhook in -> reply accepted by the platform
    tsunagu_referrals_total{need}                    intents of each referral (best 3)
    tsunagu_crisis_referrals_total{channel}          referrals that led with the crisis lines
    tsunagu_api_errors_total{channel,kind}           LINE/Telegram calls that failed: HTTP status or timeout/network
    tsunagu_rate_limited_total{channel}              messages over a resident's limit
    tsunagu_database_errors_total{operation}         reads and writes the database refused
    tsunagu_catalogue_info{version}                  1 for the catalogue in service
    tsunagu_catalogue_reloads_total{result}          ok | refused
    tsunagu_admissions_total{channel,priority,outcome}  each event on arrival: queued | parked (in the
                                                     database, queue full) | kept (in memory, the
                                                     database would not take it) | refused (503)
    tsunagu_queue_events                             events waiting in memory now
    tsunagu_queue_wait_seconds{priority}             arrival -> start of work: crisis | resident | other
    tsunagu_deliveries_total{channel,how}            answers taken by the platform: reply | push | send
    tsunagu_engine_cpu_seconds_total                 CPU time in the engine (matching and routing)
    tsunagu_engine_hurried_total                     messages read without the encoder, the desk being
                                                     past its capacity (HURRY_WAITING calls waiting)

Each app has its own registry (tests run several apps in one process).  With
several worker processes set PROMETHEUS_MULTIPROC_DIR to an empty directory:
every worker writes there and /metrics adds them up (prometheus-client's
multiprocess mode).
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0)
WAIT_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0)


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.webhooks = Counter("tsunagu_webhook_requests", "Webhook requests by channel and HTTP status",
                                ["channel", "status"], registry=r)
        self.reply_seconds = Histogram("tsunagu_reply_seconds", "Webhook received to reply accepted, seconds",
                                       ["channel"], buckets=LATENCY_BUCKETS, registry=r)
        self.referrals = Counter("tsunagu_referrals", "Referrals by need (intent id)", ["need"], registry=r)
        self.crisis = Counter("tsunagu_crisis_referrals", "Referrals that led with the crisis lines", ["channel"],
                              registry=r)
        self.api_errors = Counter("tsunagu_api_errors", "Failed calls to the LINE or Telegram API",
                                  ["channel", "kind"], registry=r)
        self.rate_limited = Counter("tsunagu_rate_limited", "Messages over a resident's rate limit", ["channel"],
                                    registry=r)
        self.db_errors = Counter("tsunagu_database_errors", "Database reads or writes that failed", ["operation"],
                                 registry=r)
        self.catalogue = Gauge("tsunagu_catalogue_info", "1 for the catalogue version in service", ["version"],
                               registry=r, multiprocess_mode="livemax")
        self.reloads = Counter("tsunagu_catalogue_reloads", "Catalogue reloads by result", ["result"], registry=r)
        self.admissions = Counter("tsunagu_admissions", "Webhook events on arrival, by what became of them",
                                  ["channel", "priority", "outcome"], registry=r)
        self.queued = Gauge("tsunagu_queue_events", "Events waiting in memory", registry=r,
                            multiprocess_mode="livesum")
        self.queue_wait = Histogram("tsunagu_queue_wait_seconds", "Arrival to start of work, seconds", ["priority"],
                                    buckets=WAIT_BUCKETS, registry=r)
        self.deliveries = Counter("tsunagu_deliveries", "Answers the platform took, by how", ["channel", "how"],
                                  registry=r)
        self.engine_seconds = Counter("tsunagu_engine_cpu_seconds", "CPU seconds spent in the engine", registry=r)
        self.hurried = Counter("tsunagu_engine_hurried", "Messages read without the encoder, the server being busy",
                               registry=r)
        self._version: str | None = None

    def catalogue_in_service(self, version: str) -> None:
        if version == self._version:
            return
        if self._version is not None:
            self.catalogue.labels(self._version).set(0)
        self.catalogue.labels(version).set(1)
        self._version = version

    def referral(self, channel: str, needs: list[str], crisis: bool) -> None:
        for need in needs or ["none"]:
            self.referrals.labels(need).inc()
        if crisis:
            self.crisis.labels(channel).inc()

    def render(self) -> bytes:
        """The exposition text: this process's registry, or every worker's in multiprocess mode."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)
