"""Incidents: what goes wrong is opened once, escalated once, and closed once, each with one alert.

Every evaluation (after a run, on each freshness check) reports the state of each thing that
can fail as an `Observation`. A key with no open incident that is now bad opens one; one
already open stays quiet unless it got worse (warn -> error); a good observation closes it
and sends a recovery. The incident and its alerts are written in one SQLite transaction, and
alerts are delivered from that outbox, so a restarted `shopflow serve` neither re-alerts an
incident it already announced nor loses an alert it had not yet sent.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from shopflow.config.model import PipelineConfig
from shopflow.config.schedule import AlertEvent
from shopflow.orchestrate.ledger import Ledger, iso, now

log = logging.getLogger(__name__)

SEVERITY_RANK = {"warn": 1, "error": 2}
MAX_DELIVERY_ATTEMPTS = 10


@dataclass(frozen=True)
class Observation:
    """The state of one thing that can fail.

    Attributes:
        key: Names the thing: `failure`, `quarantine`, `freshness:table:orders`, `freshness:model:x`.
        kind: The alert event it raises: failure, quarantine or freshness.
        severity: warn or error when bad; None when good (closes an open incident).
        summary: One line for the alert.
        run_id: The run that saw it, if a run did.
        details: Extra JSON values for webhook payloads.
    """

    key: str
    kind: AlertEvent
    severity: str | None
    summary: str
    run_id: str | None = None
    details: dict[str, Any] | None = None


def observe(ledger: Ledger, config: PipelineConfig, observations: list[Observation]) -> int:
    """Open, escalate or close the incidents `observations` describe; queue their alerts. Returns alerts queued."""
    queued = 0
    for seen in observations:
        with ledger.transaction() as con:
            row = con.execute("SELECT id, severity, opened_at FROM incidents WHERE key = ? AND closed_at IS NULL",
                              [seen.key]).fetchone()
            at = iso(now())
            if seen.severity is None:
                if row is None:
                    continue
                con.execute("UPDATE incidents SET closed_at = ?, updated_at = ? WHERE id = ?", [at, at, row[0]])
                payload = _payload(config, seen, "recovery", "recovered", int(row[0]), str(row[2]),
                                   f"recovered: {seen.summary}", str(row[1]))
                queued += _queue(con, config, int(row[0]), "recovery", payload)
                continue
            if row is None:
                cursor = con.execute(
                    "INSERT INTO incidents (pipeline, key, kind, severity, summary, opened_at, updated_at, run_id) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [config.pipeline, seen.key, seen.kind, seen.severity, seen.summary, at, at, seen.run_id],
                )
                incident = int(cursor.lastrowid or 0)
                payload = _payload(config, seen, seen.kind, "opened", incident, str(at), seen.summary, seen.severity)
                queued += _queue(con, config, incident, seen.kind, payload)
                continue
            worse = SEVERITY_RANK.get(seen.severity, 0) > SEVERITY_RANK.get(str(row[1]), 0)
            con.execute("UPDATE incidents SET severity = ?, summary = ?, updated_at = ? WHERE id = ?",
                        [seen.severity if worse else row[1], seen.summary, at, row[0]])
            if worse:
                payload = _payload(config, seen, seen.kind, "escalated", int(row[0]), str(row[2]), seen.summary,
                                   seen.severity)
                queued += _queue(con, config, int(row[0]), seen.kind, payload)
    return queued


def _payload(
    config: PipelineConfig, seen: Observation, event: str, state: str, incident: int, opened_at: str,
    summary: str, severity: str,
) -> dict[str, Any]:
    return {
        "pipeline": config.pipeline, "event": event, "state": state, "severity": severity, "key": seen.key,
        "summary": summary, "incident": incident, "opened_at": opened_at, "at": iso(now()),
        "run_id": seen.run_id, "details": seen.details or {},
    }


def _queue(con: Any, config: PipelineConfig, incident: int, event: AlertEvent, payload: dict[str, Any]) -> int:
    """Add one outbox row per enabled alert target that wants `event`."""
    count = 0
    for index, target in enumerate(config.alerts):
        if target.enabled and event in target.events:
            con.execute("INSERT INTO outbox (incident_id, event, target, payload, created_at) VALUES (?, ?, ?, ?, ?)",
                        [incident, event, index, json.dumps(payload), payload["at"]])
            count += 1
    return count


def deliver_pending(ledger: Ledger, config: PipelineConfig) -> int:
    """Send every queued alert; a failed delivery stays queued for the next call. Returns alerts delivered."""
    from shopflow.errors import ShopflowError
    from shopflow.orchestrate.alerts import send

    delivered = 0
    for outbox_id, index, payload, attempts in ledger.pending_alerts():
        if attempts >= MAX_DELIVERY_ATTEMPTS:
            continue
        if index >= len(config.alerts):
            ledger.alert_done(outbox_id, "the alert target is no longer in the pipeline file")
            continue
        try:
            send(config.alerts[index], payload)
        except Exception as exc:  # one broken target must not stop the others
            reason = exc.message if isinstance(exc, ShopflowError) else f"{type(exc).__name__}: {exc}"
            log.warning("alert %s to %s not delivered (attempt %d): %s", payload["key"],
                        config.alerts[index].type, attempts + 1, reason)
            ledger.alert_done(outbox_id, reason)
            continue
        ledger.alert_done(outbox_id, None)
        delivered += 1
    return delivered
