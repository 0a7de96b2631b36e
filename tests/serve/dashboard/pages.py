"""Reading the dashboard's pages in tests: fetch over HTTP, and pick KPIs and links out of the HTML."""

from __future__ import annotations

import html
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import yaml

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


@dataclass(frozen=True)
class Answer:
    status: int
    body: str
    headers: dict[str, str]  # names lowercased


def fetch(url: str, *, headers: dict[str, str] | None = None, data: bytes | None = None) -> Answer:
    """GET (or POST `data`) without following redirects."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with opener.open(request, timeout=30) as response:
            return Answer(response.status, response.read().decode("utf-8", "replace"),
                          {k.lower(): v for k, v in response.headers.items()})
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, exc.read().decode("utf-8", "replace"), {k.lower(): v for k, v in exc.headers.items()})


def kpi(page: str, title: str) -> str:
    """The raw value (`data-value`) of the KPI titled `title`."""
    found = re.search(r'data-value="([^"]*)">\s*<h2>' + re.escape(html.escape(title)) + "</h2>", page)
    assert found, f"no KPI {title!r} on the page"
    return html.unescape(found.group(1))


def page_names(pipeline: str) -> list[str]:
    """The pages of an example's dashboard.yml, then its health page."""
    config = yaml.safe_load((EXAMPLES / pipeline / "dashboard.yml").read_text(encoding="utf-8"))
    return [p["name"] for p in config["pages"]] + ["health"]


def chart_errors(page: str) -> list[str]:
    return [html.unescape(e) for e in re.findall(r'class="(?:chart-error|problem)"[^>]*>(.*?)</', page, re.S)]
