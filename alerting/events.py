"""Domain events: what happened to an alert, told to listeners inside the transaction that caused it.

``publish`` calls each listener synchronously, so the rows a listener writes (an update webhook
message, a flow run) commit or roll back together with the change itself: the outbox pattern.
Listeners are subscribed explicitly, in one place (``alerting.wiring.wire``, called by
``create_app``); nothing subscribes at import time.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from models import Alert, Notification, Response


@dataclass(frozen=True)
class AlertCreated:
    """A new alert was created (not a duplicate); ``username`` is who created it, if anyone."""
    alert: Alert
    username: str | None = None


@dataclass(frozen=True)
class StatusChanged:
    """The alert's status is now ``status`` (creation counts: it becomes ACTIVE)."""
    alert: Alert
    status: str
    username: str | None = None


@dataclass(frozen=True)
class NotificationSettled:
    """A notification reached its device (``delivered``) or failed for good; ``message`` says how."""
    alert: Alert
    notification: Notification
    delivered: bool
    message: str | None = None


@dataclass(frozen=True)
class ResponseRecorded:
    """A recipient answered the alert with one of its response options."""
    alert: Alert
    response: Response
    recipient: str
    device: str | None = None
    annotation: str | None = None


@dataclass(frozen=True)
class CommentAdded:
    """Someone (or a flow) added a comment to the alert's timeline."""
    alert: Alert
    comment: str
    username: str | None = None


@dataclass(frozen=True)
class GroupEscalated:
    """A group's escalation moved on to its next members (or repeated its timeline) at ``level``.

    ``group`` is the group's name, ``shift`` the name of the shift notified (None for a group
    without shifts), ``recipients`` the usernames notified at this step; ``level`` counts the
    group's steps from 1 (the first members notified).
    """
    alert: Alert
    group: str
    shift: str | None
    recipients: tuple[str, ...]
    level: int


@dataclass(frozen=True)
class RecipientFailed:
    """A targeted recipient of the alert resolved to nobody or to no device; ``reason`` says which."""
    alert: Alert
    recipient: str
    reason: str


Event = (AlertCreated | StatusChanged | NotificationSettled | ResponseRecorded | CommentAdded | GroupEscalated
         | RecipientFailed)
E = TypeVar("E")

_listeners: dict[type, list[Callable]] = {}


def subscribe(event_class: type[E], listener: Callable[[E], object]) -> None:
    """Call ``listener(event)`` for every published ``event_class``, after those subscribed before it.

    Subscribing the same listener twice does nothing: every ``create_app`` in a process wires again.
    """
    listeners = _listeners.setdefault(event_class, [])
    if listener not in listeners:
        listeners.append(listener)


def publish(event: Event) -> None:
    """Tell the event's listeners, in order, inside the current transaction.

    Raises RuntimeError if nothing was ever subscribed: the process did not build its app with
    ``create_app``, and an event no one hears would silently lose update webhooks and flow runs.
    """
    if not _listeners:
        raise RuntimeError("no event listeners are subscribed: build the app with app.create_app()")
    for listener in _listeners.get(type(event), ()):
        listener(event)
