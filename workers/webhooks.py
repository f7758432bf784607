"""RQ jobs for update webhooks."""
from alerting.delivery import deliver

from . import job


@job
def deliver_message(message_id: int) -> str:
    """One delivery attempt of a WebhookMessage (a no-op if it is not due or another worker has it)."""
    return deliver(message_id)
