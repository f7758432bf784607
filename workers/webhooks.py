"""RQ jobs for update webhooks."""
from alerting.update_webhooks.post import deliver
from workers import job


@job
def deliver_message(message_id: int) -> str:
    """One delivery attempt of a WebhookMessage (a no-op if it is not due or another worker has it)."""
    return deliver(message_id)
