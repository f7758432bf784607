"""Source payload parsers: each turns one inbound body into a list of AlertChange (pure, no database).

One module per workflow template, registered in PARSERS by its slug, behind one generic route.
"""
from __future__ import annotations

from collections.abc import Callable

from alerting.sources import alertmanager, custom, grafana, pagerduty, webhook
from alerting.sources.base import AlertChange, SourceError

PARSERS: dict[str, Callable[..., list[AlertChange]]] = {
    "webhook": webhook.parse,
    "alertmanager": alertmanager.parse,
    "grafana": grafana.parse,
    "pagerduty": pagerduty.parse,
    "custom": custom.parse,  # the only one that takes a mapping
}

__all__ = ["PARSERS", "AlertChange", "SourceError", "parse"]


def parse(template: str, payload, mapping: str | None = None) -> list[AlertChange]:
    """Parse ``payload`` as the ``template`` source sends it; ``mapping`` is the custom template's."""
    parser = PARSERS.get(template)
    if parser is None:
        raise SourceError("template", f"{template!r} is not one of " + ", ".join(PARSERS))
    if template == "custom":
        return parser(payload, mapping)
    return parser(payload)
