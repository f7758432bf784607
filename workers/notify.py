"""Notification jobs: dispatch an alert, retry one notification, take one escalation step."""
from alerting import escalation, notify

from . import job


@job
def dispatch_pending() -> int:
    return notify.dispatch_pending()


@job
def dispatch_alert(alert_id: int) -> int:
    return notify.dispatch_alert(alert_id)


@job
def retry_notification(notification_id: int) -> int:
    return notify.retry_notification(notification_id)


@job
def escalate_target(target_id: int) -> int:
    return escalation.run_target(target_id)
