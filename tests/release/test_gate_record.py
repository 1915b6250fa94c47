"""The release's gates step: the gates' source, and a fallback from Prometheus, reach the reporter and the audit
record (the observation itself is stubbed: tests/release/test_gates_prometheus.py runs it for real)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from foundation.metrics.gates import GateResult, Thresholds
from foundation.sections import Monitoring, SyntheticTraffic
from release.gates import watch
from release.gates.sources import Observation
from release.plan import Action, Step
from release.run import GateFailed
from release.steps import verify

PASSING = [GateResult(name, 0.0, 1.0, 100, 10, "pass", "fine", "scrape") for name in ("error_rate", "p95_latency")]
FAILING = [GateResult("error_rate", 0.2, 0.01, 100, 10, "fail", "bad", "prometheus")]
OBSERVE = Step(Action.OBSERVE)


def engine(monitoring: Monitoring | None) -> tuple[SimpleNamespace, list[tuple[str, str]]]:
    said: list[tuple[str, str]] = []
    env = SimpleNamespace(
        gates=Thresholds(),
        synthetic_traffic=SyntheticTraffic(),
        monitoring=monitoring,
        inconclusive="hold",
    )
    reporter = SimpleNamespace(
        line=lambda text: said.append(("line", text)), warn=lambda text: said.append(("warn", text))
    )
    fleet = SimpleNamespace(endpoints=SimpleNamespace(urls=lambda: ["http://x"]))
    return SimpleNamespace(env=env, reporter=reporter, fleet=fleet), said


def test_a_fallback_is_warned_about_and_recorded(monkeypatch: pytest.MonkeyPatch):
    fallback = "Prometheus unusable before the window: no answer from http://198.18.0.40:9090 (ConnectError)"
    seen = {}

    def observed(urls, thresholds, monitoring, **_):
        seen["monitoring"] = monitoring
        return Observation(PASSING, "scrape", fallback)

    monkeypatch.setattr(watch, "observe_gates", observed)
    fake, said = engine(Monitoring("http://198.18.0.40:9090"))
    run = SimpleNamespace(record={})

    verify.observe(fake, OBSERVE, run)  # type: ignore[arg-type]

    assert seen["monitoring"] == Monitoring("http://198.18.0.40:9090")
    assert run.record["gate_source"] == "scrape" and run.record["gate_fallback"] == fallback
    assert run.record["gate_verdict"] == "pass"
    assert run.record["gates"]["error_rate"] == {"value": 0.0, "samples": 100, "verdict": "pass"}
    assert ("warn", f"gates judged from /metrics, not Prometheus: {fallback}") in said
    assert ("line", "error_rate: pass (fine) [scrape]") in said


def test_prometheus_figures_that_fail_fail_the_release(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(watch, "observe_gates", lambda *_, **__: Observation(FAILING, "prometheus"))
    fake, said = engine(Monitoring("http://198.18.0.40:9090"))
    run = SimpleNamespace(record={})

    with pytest.raises(GateFailed, match="error_rate"):
        verify.observe(fake, OBSERVE, run)  # type: ignore[arg-type]

    assert run.record["gate_source"] == "prometheus" and "gate_fallback" not in run.record
    assert run.record["gate_verdict"] == "fail"
    assert not [text for kind, text in said if kind == "warn"]
