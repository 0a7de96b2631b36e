"""When a pipeline runs and who hears about it: `schedule:`, `retries:`, `freshness:` and `alerts:`.

```yaml
schedule: "*/10 * * * *"            # cron; or {every: 10 minutes}; or continuous; or manual
retries: {attempts: 3, backoff: 30 seconds}
freshness: {warn_after: 15 minutes, error_after: 30 minutes}
alerts:
  - {type: email, host: smtp.example.com, port: 587, user: me, password_env: SMTP_PASSWORD,
     security: starttls, from: shopflow@example.com, to: [data@example.com]}
  - {type: webhook, url: "https://hooks.example.com/shopflow"}
  - {type: slack, url: "https://hooks.slack.com/services/..."}
```
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from shopflow.config.base import StrictModel
from shopflow.config.database import parse_lookback

ScheduleKind = Literal["cron", "every", "continuous", "manual"]
AlertEvent = Literal["failure", "quarantine", "freshness", "recovery"]
ALERT_EVENTS: tuple[AlertEvent, ...] = ("failure", "quarantine", "freshness", "recovery")
DEFAULT_POLL = timedelta(seconds=5)
_CRON_EXAMPLE = "e.g. '*/10 * * * *' (every 10 minutes) or '0 6 * * *' (daily at 06:00)"


def parse_duration(value: object, key: str) -> timedelta:
    """`"10 minutes"` (or a timedelta) -> timedelta.

    Raises:
        ValueError: Not a positive number followed by a unit; the message names `key`.
    """
    if isinstance(value, timedelta):
        return value
    try:
        amount, unit = parse_lookback(str(value))
    except ValueError:
        unit = None
        amount = 0
    if unit is None or amount <= 0:
        raise ValueError(f"{key} {value!r} must be a positive number and a unit, e.g. '30 seconds', '10 minutes', "
                         "'2 hours', '1 day'")
    return timedelta(**{unit: amount})


def check_cron(expression: str) -> str:
    """Return `expression` if croniter reads it as a 5-field cron line (or @hourly, @daily, ...).

    Raises:
        ValueError: croniter rejects it; the message quotes its reason and an example.
    """
    from croniter import croniter

    fields = expression.split()
    if not expression.startswith("@") and len(fields) != 5:
        raise ValueError(f"cron {expression!r} has {len(fields)} fields, not the 5 of minute hour day month "
                         f"weekday; {_CRON_EXAMPLE}")
    if not croniter.is_valid(expression):
        raise ValueError(f"cron {expression!r} is not a valid cron expression; {_CRON_EXAMPLE}")
    return expression


class _Times(StrictModel):
    """The times of a schedule: a cron line or an interval."""

    cron: str | None = None
    every: timedelta | None = None

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        return None if value is None else check_cron(value)

    @field_validator("every", mode="before")
    @classmethod
    def _every(cls, value: object) -> object:
        return None if value is None else parse_duration(value, "every")


class TableSchedule(_Times):
    """A schedule of its own for one source or table, inside `schedule.tables`."""

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: object) -> object:
        return _schedule_shorthand(value, allow_loop=False)

    @model_validator(mode="after")
    def _one_kind(self) -> TableSchedule:
        if (self.cron is None) == (self.every is None):
            raise ValueError("give either cron or every, e.g. {every: 1 hour} or {cron: '0 * * * *'}")
        return self

    def describe(self) -> str:
        """The schedule in a few words."""
        return f"cron {self.cron}" if self.cron else f"every {_words(self.every or DEFAULT_POLL)}"


class ScheduleConfig(_Times):
    """When `shopflow serve` runs the pipeline.

    Attributes:
        kind: cron (at the times of `cron`), every (each `every` after the last slot),
            continuous (poll again `interval` after each run ends) or manual (only when asked).
        catch_up: After downtime that missed slots, run once at start (True) or wait for the
            next slot (False). Never once per missed slot.
        tables: Schedules of their own for some sources or tables (`shop.users` or `shop`):
            those run in their own job, never at the same time as another job of the pipeline.
    """

    kind: ScheduleKind
    interval: timedelta = DEFAULT_POLL
    catch_up: bool = True
    tables: dict[str, TableSchedule] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: object) -> object:
        return _schedule_shorthand(value, allow_loop=True)

    @field_validator("interval", mode="before")
    @classmethod
    def _interval(cls, value: object) -> object:
        return parse_duration(value, "interval")

    @model_validator(mode="after")
    def _fits_kind(self) -> ScheduleConfig:
        if self.kind == "cron" and self.cron is None:
            raise ValueError(f"a cron schedule needs cron: {_CRON_EXAMPLE}")
        if self.kind == "every" and self.every is None:
            raise ValueError("an every schedule needs every:, e.g. {every: 10 minutes}")
        if self.kind != "continuous" and "interval" in self.model_fields_set:
            raise ValueError("interval applies to continuous schedules only: {continuous: true, interval: 2 seconds}")
        return self

    def describe(self) -> str:
        """The schedule in a few words, for tables and logs."""
        if self.kind == "cron":
            return f"cron {self.cron}"
        if self.kind == "every":
            return f"every {_words(self.every or DEFAULT_POLL)}"
        if self.kind == "continuous":
            return f"continuous (polls {_words(self.interval)} after each run)"
        return "manual"


def _schedule_shorthand(value: object, *, allow_loop: bool) -> object:
    """Accept `"*/10 * * * *"`, `"every 10 minutes"`, `"continuous"`, `"manual"` and `{every: ...}` / `{cron: ...}`."""
    if isinstance(value, str):
        text = value.strip()
        if allow_loop and text in ("continuous", "manual"):
            return {"kind": text}
        found = {"every": text[6:]} if text.lower().startswith("every ") else {"cron": text}
        return {"kind": next(iter(found)), **found} if allow_loop else found
    if isinstance(value, dict) and "kind" not in value:
        given: dict[str, object] = dict(value)
        if allow_loop and given.get("continuous") is True:
            del given["continuous"]
            return {"kind": "continuous", **given}
        if "cron" in given:
            return {"kind": "cron", **given} if allow_loop else given
        if "every" in given:
            return {"kind": "every", **given} if allow_loop else given
        if allow_loop:
            raise ValueError("schedule needs cron, every or continuous, e.g. schedule: {every: 10 minutes}")
    return value


def _words(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds % size == 0 and seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{delta.total_seconds():g} second{'s' if delta.total_seconds() != 1 else ''}"


class RetryPolicy(StrictModel):
    """How a failed scheduled run is retried: `attempts` more times, waiting `backoff`, then twice that, ..."""

    attempts: int = Field(0, ge=0, le=100, description="retries after a failed run (0: none)")
    backoff: timedelta = Field(timedelta(seconds=30), description="wait before the first retry")
    factor: float = Field(2.0, ge=1.0, description="each further retry waits this much longer")
    max_backoff: timedelta = Field(timedelta(minutes=30), description="the longest wait between retries")

    @field_validator("backoff", "max_backoff", mode="before")
    @classmethod
    def _durations(cls, value: object) -> object:
        return parse_duration(value, "backoff")

    def delay(self, retry: int) -> timedelta:
        """The wait before retry number `retry` (1 for the first)."""
        return min(self.backoff * (self.factor ** max(retry - 1, 0)), self.max_backoff)


class FreshnessTarget(StrictModel):
    """How old the newest source change visible in the warehouse may get before a warning or an error."""

    warn_after: timedelta | None = None
    error_after: timedelta | None = None

    @field_validator("warn_after", "error_after", mode="before")
    @classmethod
    def _durations(cls, value: object) -> object:
        return None if value is None else parse_duration(value, "freshness")

    @model_validator(mode="after")
    def _order(self) -> FreshnessTarget:
        if self.warn_after and self.error_after and self.warn_after > self.error_after:
            raise ValueError("warn_after must not be longer than error_after")
        return self

    @property
    def has_threshold(self) -> bool:
        """True if the target has a threshold."""
        return self.warn_after is not None or self.error_after is not None


class FreshnessConfig(FreshnessTarget):
    """Freshness targets: the defaults for every table, and per table or model (`tables:`, `models:`)."""

    tables: dict[str, FreshnessTarget] = Field(default_factory=dict)
    models: dict[str, FreshnessTarget] = Field(default_factory=dict)

    def for_table(self, table: str) -> FreshnessTarget:
        """The target of raw table `table`: its own, else the defaults."""
        return self.tables.get(table) or FreshnessTarget(warn_after=self.warn_after, error_after=self.error_after)


class _AlertBase(StrictModel):
    events: list[AlertEvent] = Field(default_factory=lambda: list(ALERT_EVENTS), description="which events to send")
    enabled: bool = True


class EmailAlert(_AlertBase):
    """Mail over SMTP. The password is read from the variable `password_env` when a mail is sent."""

    type: Literal["email"]
    host: str
    port: int = 587
    user: str | None = None
    password_env: str | None = Field(None, description="the environment variable holding the SMTP password")
    security: Literal["starttls", "tls", "none"] = "starttls"
    sender: str = Field(alias="from")
    to: list[str]
    timeout: float = 30.0

    @field_validator("to", mode="before")
    @classmethod
    def _to_list(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @field_validator("user", mode="before")
    @classmethod
    def _empty_user(cls, value: object) -> object:
        return None if value == "" else value


class WebhookAlert(_AlertBase):
    """A JSON POST of the alert to `url`; `headers` may carry a token (`${HOOK_TOKEN}`)."""

    type: Literal["webhook"]
    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: float = 10.0


class SlackAlert(_AlertBase):
    """A Slack-compatible incoming webhook: a POST of `{"text": ...}`."""

    type: Literal["slack"]
    url: str
    timeout: float = 10.0


AlertTarget = Annotated[EmailAlert | WebhookAlert | SlackAlert, Field(discriminator="type")]
