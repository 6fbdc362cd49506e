"""What operations call: ``/healthz`` for a load balancer, ``/metrics`` for Prometheus,
and the release's version in the staff footer and on every API response.

Requests are counted in memory (a counter and a latency histogram per endpoint);
the database is read only when ``/metrics`` or ``/healthz`` is asked. Under gunicorn,
``PROMETHEUS_MULTIPROC_DIR`` (set before the app starts) makes every worker write its
counts to files there and a scrape sum them all; without it each process reports its own.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, g, jsonify, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from .. import storage
from ..version import package_version
from .db import get_db
from .ruleset import get_ruleset
from .security import ConfigError

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Paths without a blueprint of the API's own: the version header goes on both.
API_BLUEPRINTS = frozenset({"api", "fhir"})


class RequestMetrics:
    """One app's request counter and latency histogram, and who may read them."""

    def __init__(self, allowed: tuple[Network, ...]) -> None:
        self.allowed = allowed
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "screening_http_requests",
            "HTTP requests answered, by endpoint, method and status code.",
            ["endpoint", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "screening_http_request_duration_seconds",
            "Time from the request reaching the app to its response, by endpoint.",
            ["endpoint"],
            registry=self.registry,
        )


def parse_allowed(setting: Any) -> tuple[Network, ...]:
    """METRICS_ALLOW as networks: a list, or a string of addresses and networks split by commas or spaces."""
    entries = setting.replace(",", " ").split() if isinstance(setting, str) else list(setting or ())
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(str(entry).strip(), strict=False))
        except ValueError as error:
            raise ConfigError(f"METRICS_ALLOW: {entry!r} is not an IP address or network ({error})") from None
    return tuple(networks)


def _metrics() -> RequestMetrics:
    metrics: RequestMetrics = current_app.extensions["request_metrics"]
    return metrics


def start_timer() -> None:
    """Note when the request reached the app."""
    g.request_started = time.perf_counter()


def count_request(response: Response) -> Response:
    """Count the answered request and its latency (in memory, no database), and tag API responses."""
    started = g.get("request_started")
    endpoint = request.endpoint or "none"  # an unmatched path: one label, not one per path
    metrics = _metrics()
    metrics.requests.labels(endpoint, request.method, str(response.status_code)).inc()
    if started is not None:
        metrics.latency.labels(endpoint).observe(time.perf_counter() - started)
    if request.blueprint in API_BLUEPRINTS:
        response.headers["Screening-Version"] = f"{package_version()}; rules={get_ruleset().full_version}"
    return response


def _database_families(db: storage.Database) -> Iterator[Metric]:
    statuses = GaugeMetricFamily(
        "screening_screenings",
        "Screenings stored, by verdict status and whether staff decided.",
        labels=["status", "reviewed"],
    )
    for (status, reviewed), n in sorted(storage.screenings_by_status(db).items()):
        statuses.add_metric([status, "yes" if reviewed else "no"], n)
    backlog = GaugeMetricFamily(
        "screening_outbox_backlog", "E-mails and webhooks queued and not yet delivered, by channel.", labels=["channel"]
    )
    failed = GaugeMetricFamily(
        "screening_outbox_failed",
        "E-mails and webhooks given up after their last attempt, by channel.",
        labels=["channel"],
    )
    counts = storage.outbox_backlog(db)
    for channel, count in sorted(counts.items()):
        backlog.add_metric([channel], count["undelivered"])
        failed.add_metric([channel], count["failed"])
    yield from (statuses, backlog, failed)


class Scrape(Collector):
    """One scrape: the request metrics (every worker's in multiprocess mode) and the database's gauges."""

    def __init__(self, requests: Collector, database: list[Metric], up: bool, version: str, rules: str) -> None:
        self.requests, self.database, self.up = requests, database, up
        self.version, self.rules = version, rules

    def collect(self) -> Iterable[Metric]:
        """Every family of this scrape."""
        yield from self.requests.collect()
        info = GaugeMetricFamily(
            "screening_build_info", "The release and rules version in force.", labels=["version", "rules"]
        )
        info.add_metric([self.version, self.rules], 1)
        up = GaugeMetricFamily("screening_database_up", "1 if the database answered this scrape's queries.")
        up.add_metric([], 1 if self.up else 0)
        yield from (info, up, *self.database)


def _is_allowed(allowed: tuple[Network, ...]) -> bool:
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in network for network in allowed)


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus's text format, to the addresses of METRICS_ALLOW only (404 to any other)."""
    state = _metrics()
    if not _is_allowed(state.allowed):
        abort(404)
    requests: Collector = state.registry
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        requests = MultiProcessCollector(None)  # type: ignore[no-untyped-call]
    try:
        database = list(_database_families(get_db()))
        up = True
    except (sqlite3.Error, storage.StorageUnavailable) as error:
        log.warning("metrics: the database did not answer: %s", error)
        database, up = [], False
    version, rules = package_version(), get_ruleset().full_version
    body = generate_latest(Scrape(requests, database, up, version, rules))
    return Response(body, mimetype=None, content_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})


def _health_of(db: storage.Database) -> tuple[bool, dict[str, Any]]:
    storage.check_database(db)
    pending = storage.pending_migrations(db)
    counts = storage.outbox_backlog(db)
    outbox = {
        "undelivered": sum(c["undelivered"] for c in counts.values()),
        "failed": sum(c["failed"] for c in counts.values()),
    }
    return not pending, {"database": "ok", "migrations": {"pending": pending}, "outbox": outbox}


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """200 when the database answers and its migrations are this release's; 503 otherwise. JSON either way."""
    database = current_app.config["DATABASE"]
    try:
        if storage.is_postgres_url(database):
            # A connection of its own, not the pool's: a stopped server is reported at once,
            # where borrowing from the pool would wait out its 10-second timeout.
            db = storage.connect(database)
            try:
                healthy, report = _health_of(db)
            finally:
                db.close()
        else:
            healthy, report = _health_of(get_db())
    except (sqlite3.Error, storage.StorageUnavailable) as error:
        log.warning("healthz: the database did not answer: %s", error)
        healthy, report = False, {"database": "unreachable"}
    body = jsonify({"status": "ok" if healthy else "unavailable", **report})
    body.headers["Cache-Control"] = "no-store"
    return body, 200 if healthy else 503


def init_app(app: Flask) -> None:
    """Register /healthz and /metrics, count every request, and put the version in the footer and API headers."""
    # The *_created series (a timestamp per label set) double the output and no alert reads them.
    disable_created_metrics()  # type: ignore[no-untyped-call]
    app.extensions["request_metrics"] = RequestMetrics(parse_allowed(app.config["METRICS_ALLOW"]))
    # The rules in force, read per page: an edited rule file (web/reload.py) is named at once.
    app.context_processor(lambda: {"release": {"version": package_version(), "rules": get_ruleset().full_version}})
    app.before_request(start_timer)
    app.after_request(count_request)
    app.register_blueprint(bp)
