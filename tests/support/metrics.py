"""Reading the service's /metrics the way Prometheus does: parsed, not substring-matched."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families


@dataclass(frozen=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float


class Scrape:
    """One /metrics answer, parsed into its samples (e.g. golive_http_request_duration_seconds_count)."""

    def __init__(self, text: str):
        self.samples = [
            Sample(sample.name, dict(sample.labels), sample.value)
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        ]

    def series(self, name: str, **labels: str) -> list[Sample]:
        """Samples of this name whose labels include the given ones."""
        return [
            sample
            for sample in self.samples
            if sample.name == name and all(sample.labels.get(key) == value for key, value in labels.items())
        ]

    def value(self, name: str, **labels: str) -> float:
        """The sum over the matching series; 0 when there is none (a counter not yet incremented)."""
        return sum(sample.value for sample in self.series(name, **labels))

    def label_values(self, name: str, label: str) -> set[str]:
        return {sample.labels[label] for sample in self.samples if sample.name == name and label in sample.labels}


def scrape(http: httpx.Client) -> Scrape:
    response = http.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return Scrape(response.text)
