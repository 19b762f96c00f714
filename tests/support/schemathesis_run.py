"""Running schemathesis's engine (what ``schemathesis run`` runs: examples, coverage, fuzzing
and stateful phases) from a test, and summing up what it did.

The engine is used instead of schemathesis's pytest plugin (``schemathesis.pytest.from_fixture``)
because the plugin 4.32.5 fails under pytest 9.2 (``'Function' object has no attribute
'_nodeid'``); the engine also runs the phases the CLI runs, in its order, with its reports.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from schemathesis.engine import Status, events


@dataclass
class RunReport:
    """What one engine run tried and found."""

    operations: set[str] = field(default_factory=set)
    cases: int = 0
    cases_by_phase: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    phases: dict[str, str] = field(default_factory=dict)
    """Phase → how it ended (success, failure, error, skip)."""
    failures: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    checks_run: Counter[str] = field(default_factory=Counter)
    links: tuple[int, int] = (0, 0)
    """Links the stateful phase found in the document, and how many it used."""
    links_followed: int = 0
    """Stateful steps that took their input from an earlier answer through a link."""
    seconds: float = 0.0
    stop_reason: str = ""

    def summary(self) -> str:
        lines = [
            f"operations tested: {len(self.operations)}; cases: {self.cases} "
            f"({', '.join(f'{k} {v}' for k, v in sorted(self.cases_by_phase.items()))}); "
            f"engine time {self.seconds:.1f} s; stopped: {self.stop_reason}",
            "phases: " + ", ".join(f"{k}={v}" for k, v in self.phases.items()),
            f"links: {self.links[0]} in the document, {self.links[1]} used; "
            f"{self.links_followed} stateful steps followed one",
            "checks: " + ", ".join(f"{k} {v}" for k, v in sorted(self.checks_run.items())),
            "statuses: " + ", ".join(f"{k}×{v}" for k, v in sorted(self.statuses.items())),
            f"failures: {len(self.failures)}; errors: {len(self.errors)}",
        ]
        return "\n".join(lines + self.failures + self.errors)


def _record(report: RunReport, phase: str, recorder: Any) -> None:
    if phase != "stateful":  # a stateful scenario is labelled by its chain, not one operation
        report.operations.add(recorder.label)
    report.cases += len(recorder.cases)
    report.links_followed += sum(1 for node in recorder.cases.values() if node.is_transition_applied)
    report.cases_by_phase[phase] += len(recorder.cases)
    for interaction in recorder.interactions.values():
        if interaction.response is not None:
            report.statuses[interaction.response.status_code] += 1
    seen: set[tuple[str, str]] = set()
    for case_id, checks in recorder.checks.items():
        interaction = recorder.interactions.get(case_id)
        answer = interaction.response if interaction is not None else None
        for check in checks:
            report.checks_run[check.name] += 1
            if check.status != Status.FAILURE or check.failure_info is None:
                continue
            failure = check.failure_info.failure
            key = (failure.title, failure.message)
            if key in seen:
                continue
            seen.add(key)
            answered = "" if answer is None else f"{answer.status_code} {_text(answer)[:300]}"
            report.failures.append(
                f"[{phase}] {recorder.label}: {failure.title}: {failure.message}\n"
                f"    {check.failure_info.code_sample}\n    → {answered}"
            )


def _text(response: Any) -> str:
    content = getattr(response, "content", None) or b""
    return content.decode(errors="replace") if isinstance(content, bytes) else str(content)


def run_engine(schema: Any) -> RunReport:
    """Run every configured phase of ``schema`` (a loaded schemathesis schema)."""
    report = RunReport()
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
            phase = getattr(event, "phase", "fuzzing")
            _record(report, str(getattr(phase, "value", phase)), event.recorder)
        elif isinstance(event, events.PhaseStarted) and event.payload is not None:
            report.links = (event.payload.transitions_total, event.payload.transitions_selected)
        elif isinstance(event, events.PhaseFinished):
            report.phases[event.phase.name.value] = event.status.value
        elif isinstance(event, events.NonFatalError):
            report.errors.append(f"error in {event.label}: {event.info.title}: {event.info.message}")
        elif isinstance(event, events.FatalError):
            report.errors.append(f"fatal: {event.exception!r}")
        elif isinstance(event, events.EngineFinished):
            report.seconds = event.running_time
            report.stop_reason = event.stop_reason.value
            report.failures += [f"[after run] {f.title}: {f.message}" for f in event.failures]
    return report
