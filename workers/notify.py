"""Notification jobs: dispatch new alerts, retry one notification, take one escalation step."""
from alerting.notifications import dispatch as notify
from alerting.notifications import escalation
from workers import job


@job
def dispatch_pending() -> int:
    return notify.dispatch_pending()


@job
def retry_notification(notification_id: int) -> int:
    return notify.retry_notification(notification_id)


@job
def escalate_target(target_id: int) -> int:
    return escalation.run_target(target_id)
