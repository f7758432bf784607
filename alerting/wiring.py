"""Who listens to which domain event: every subscription, in one place, called by ``create_app``.

Listeners run in the order written here, inside the transaction that published the event: the
update webhook message is recorded before the flow runs.
"""
from __future__ import annotations

from alerting import events
from alerting.flows import triggers
from alerting.update_webhooks import outbox


def wire() -> None:
    """Subscribe every listener (idempotent: each ``create_app`` in a process calls it)."""
    events.subscribe(events.StatusChanged, outbox.on_status_changed)
    events.subscribe(events.NotificationSettled, outbox.on_notification_settled)
    events.subscribe(events.ResponseRecorded, outbox.on_response_recorded)
    events.subscribe(events.AlertCreated, triggers.on_event)
    events.subscribe(events.StatusChanged, triggers.on_event)
    events.subscribe(events.NotificationSettled, triggers.on_event)
    events.subscribe(events.ResponseRecorded, triggers.on_event)
    events.subscribe(events.CommentAdded, outbox.on_comment_added)  # comments start no flow
    events.subscribe(events.GroupEscalated, outbox.on_group_escalated)
    events.subscribe(events.RecipientFailed, outbox.on_recipient_failed)
