"""Notification jobs: dispatch new alerts, send one batch of a big wave, retry one notification,
take one escalation step."""
from alerting.notifications import dispatch as notify
from alerting.notifications import escalation
from workers import job


@job
def dispatch_pending() -> int:
    return notify.dispatch_pending()


@job
def send_batch(alert_id: int, notification_ids: list[int]) -> int:
    return notify.send_batch(alert_id, notification_ids)


@job
def retry_notification(notification_id: int) -> int:
    return notify.retry_notification(notification_id)


@job
def escalate_target(target_id: int) -> int:
    return escalation.run_target(target_id)
