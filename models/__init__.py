"""Klaxon's data model (SPEC §1), one module per part of the product."""
from .alerts import (OPEN_STATUSES, RESPONSE_ACTIONS, STATUSES, TIMELINE_TYPES, Alert, AlertTarget,
                     Notification, Response, TimelineEntry)
from .base import db, iso, new_uuid, utcnow
from .configurations import PRIORITIES, TEMPLATES, UPDATE_TYPES, Configuration, UpdateEndpoint
from .flows import Flow, FlowRun
from .people import DEVICE_KINDS, GROUP_MODES, ROLES, ApiToken, Device, Group, GroupMember, User
from .webhooks import MESSAGE_STATUSES, WebhookAttempt, WebhookMessage, new_message_id

__all__ = [
    "db", "iso", "new_uuid", "utcnow",
    "Alert", "AlertTarget", "Notification", "Response", "TimelineEntry",
    "OPEN_STATUSES", "RESPONSE_ACTIONS", "STATUSES", "TIMELINE_TYPES",
    "Configuration", "UpdateEndpoint", "PRIORITIES", "TEMPLATES", "UPDATE_TYPES",
    "Flow", "FlowRun",
    "ApiToken", "Device", "Group", "GroupMember", "User", "DEVICE_KINDS", "GROUP_MODES", "ROLES",
    "WebhookAttempt", "WebhookMessage", "MESSAGE_STATUSES", "new_message_id",
]
