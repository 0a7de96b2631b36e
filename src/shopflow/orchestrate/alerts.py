"""Deliver one alert: a mail over SMTP (smtplib), a JSON POST to a webhook, or a Slack-style `{"text": ...}` POST.

The standard library does it: smtplib gives exact control of TLS and STARTTLS and its
errors name the server's reply; urllib posts JSON. (apprise would put the SMTP password
into a URL and add some twenty packages for three kinds of target.)
"""

from __future__ import annotations

import json
import logging
import os
import smtplib
import ssl
import urllib.error
import urllib.request
from email.message import EmailMessage
from typing import Any

from shopflow.config.schedule import EmailAlert, SlackAlert, WebhookAlert
from shopflow.errors import ShopflowError

log = logging.getLogger(__name__)


class AlertError(ShopflowError):
    """An alert could not be delivered."""


def subject(payload: dict[str, Any]) -> str:
    """`[shopflow] totesys: run failed ...`: one line for a mail subject or a chat message."""
    level = "" if payload["state"] == "recovered" else f" ({payload['severity']})"
    first = str(payload["summary"]).splitlines()[0] if payload["summary"] else ""
    return f"[shopflow] {payload['pipeline']}: {first[:160]}{level}"


def body(payload: dict[str, Any]) -> str:
    """The alert as plain text."""
    lines = [subject(payload), "", str(payload["summary"]), "", f"event: {payload['event']} ({payload['state']})",
             f"incident: {payload['incident']} ({payload['key']}), opened {payload['opened_at']}",
             f"at: {payload['at']}"]
    if payload.get("run_id"):
        lines.append(f"run: {payload['run_id']}  (shopflow runs -c <pipeline file> shows it)")
    for key, value in (payload.get("details") or {}).items():
        lines.append(f"{key}: {value}")
    return "\n".join(lines) + "\n"


def send(target: EmailAlert | WebhookAlert | SlackAlert, payload: dict[str, Any]) -> None:
    """Deliver `payload` to `target`.

    Raises:
        AlertError: The server refused or could not be reached; names the target and the reason.
    """
    if isinstance(target, EmailAlert):
        _mail(target, payload)
    elif isinstance(target, SlackAlert):
        _post(target.url, {"text": subject(payload)}, {}, target.timeout)
    else:
        _post(target.url, payload, target.headers, target.timeout)


def _mail(target: EmailAlert, payload: dict[str, Any]) -> None:
    message = EmailMessage()
    message["Subject"] = subject(payload)
    message["From"] = target.sender
    message["To"] = ", ".join(target.to)
    message.set_content(body(payload))
    password = None
    if target.password_env:
        password = os.environ.get(target.password_env)
        if password is None:
            raise AlertError(f"the SMTP password variable {target.password_env} is not set",
                             fix=f"export {target.password_env}=... for `shopflow serve`", host=target.host)
    context = ssl.create_default_context()
    try:
        smtp: smtplib.SMTP = (
            smtplib.SMTP_SSL(target.host, target.port, timeout=target.timeout, context=context)
            if target.security == "tls" else smtplib.SMTP(target.host, target.port, timeout=target.timeout)
        )
        with smtp:
            if target.security == "starttls":
                smtp.starttls(context=context)
            if target.user:
                smtp.login(target.user, password or "")
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise AlertError(f"mail to {', '.join(target.to)} via {target.host}:{target.port} failed: {exc}",
                         fix="check alerts: host, port, security (starttls | tls | none), user and password_env",
                         host=target.host) from exc
    log.info("alert mailed to %s: %s", ", ".join(target.to), message["Subject"])


def _post(url: str, payload: dict[str, Any], headers: dict[str, str], timeout: float) -> None:
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "shopflow", **headers},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        raise AlertError(f"webhook {_safe(url)} answered {exc.code} {exc.reason}",
                         fix="check the alert's url and headers") from exc
    except (OSError, urllib.error.URLError) as exc:
        raise AlertError(f"webhook {_safe(url)} could not be reached: {exc}", fix="check the alert's url") from exc
    log.info("alert posted to %s", _safe(url))


def _safe(url: str) -> str:
    """`url` without its path: Slack webhook paths are secrets."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/..."
