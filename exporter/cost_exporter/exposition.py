"""Format the derived figures as Prometheus bytes, once per change.

`/metrics` only hands out the bytes rendered here, so a scrape never calls a
provider and costs the same whether one provider or twenty are configured.
Nothing is computed here: every value comes from `figures.Figures`, which the
status page and `/api/summary` read too.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.exposition import choose_encoder, gzip_accepted
from prometheus_client.exposition import generate_latest as generate_text
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics

from cost_exporter import __version__, catalog
from cost_exporter.catalog import Family, Kind
from cost_exporter.figures import Figures, LabelValues

TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"


@dataclass(frozen=True)
class Rendered:
    """The page in both formats, each also gzipped once here rather than per scrape."""

    text: bytes
    text_gzip: bytes
    openmetrics: bytes
    openmetrics_gzip: bytes

    def body(self, accept: str, accept_encoding: str) -> tuple[bytes, str, bool]:
        """(body, content type, gzipped) for a scrape's Accept and Accept-Encoding headers,
        chosen as prometheus_client chooses: OpenMetrics when the client lists it (Prometheus
        lists it first), the text format otherwise, gzip whenever the client takes it."""
        _, chosen = choose_encoder(accept)
        zipped = gzip_accepted(accept_encoding)
        if chosen.startswith("application/openmetrics-text"):
            body = self.openmetrics_gzip if zipped else self.openmetrics
            return body, OPENMETRICS_CONTENT_TYPE, zipped
        return (self.text_gzip if zipped else self.text), TEXT_CONTENT_TYPE, zipped


def render(figures: Figures, *, demo: bool = False) -> Rendered:
    """`demo`: the figures come from `cost-exporter demo`'s fake providers; the build info
    says so, so that a dashboard or an alert can tell made-up data from real bills."""
    metrics = list(build(figures, demo=demo))
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FixedMetrics(metrics))
    text = generate_text(registry)
    openmetrics: bytes = generate_openmetrics(registry)  # type: ignore[no-untyped-call]
    return Rendered(
        text=text,
        text_gzip=gzip.compress(text, compresslevel=6, mtime=0),
        openmetrics=openmetrics,
        openmetrics_gzip=gzip.compress(openmetrics, compresslevel=6, mtime=0),
    )


class FixedMetrics:
    """A registry collector that yields metrics built beforehand."""

    def __init__(self, metrics: list[Metric]) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        return iter(self._metrics)


def build(figures: Figures, *, demo: bool = False) -> Iterator[Metric]:
    for family in catalog.PUBLISHED:
        if family is catalog.BUILD_INFO:
            info = InfoMetricFamily(family.name, family.help, labels=[])
            info.add_metric([], {"version": __version__, "demo": "true" if demo else "false"})
            yield info
        elif family in figures:
            yield _metric(family, figures[family])


def _metric(family: Family, values: Mapping[LabelValues, Decimal]) -> Metric:
    metric: GaugeMetricFamily | CounterMetricFamily
    if family.kind is Kind.COUNTER:
        metric = CounterMetricFamily(family.name, family.help, labels=list(family.labels))
    else:
        metric = GaugeMetricFamily(family.name, family.help, labels=list(family.labels))
    for label_values in sorted(values):
        metric.add_metric(list(label_values), float(values[label_values]))
    return metric
