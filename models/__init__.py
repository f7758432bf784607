"""Klaxon's data model (SPEC §1), one module per part of the product."""
from models.alerts import (
                           OPEN_STATUSES,
                           RESPONSE_ACTIONS,
                           STATUSES,
                           Alert,
                           AlertTarget,
                           DedupKey,
                           Notification,
                           Response,
                           TimelineEntry,
)
from models.base import db, iso, new_uuid, utcnow
from models.configurations import (
                           PRIORITIES,
                           TEMPLATES,
                           UPDATE_TYPES,
                           Configuration,
                           ConfigVersion,
                           UpdateEndpoint,
)
from models.flows import Flow, FlowRun
from models.oncall import (
                           MEMBER_TYPES,
                           ROTATION_DIRECTIONS,
                           ROTATION_EVERY,
                           EscalationPlan,
                           GroupFallback,
                           Override,
                           Shift,
                           ShiftMember,
)
from models.people import DEVICE_KINDS, GROUP_MODES, ROLES, ApiToken, Device, Group, GroupMember, User
from models.webhooks import MESSAGE_STATUSES, WebhookAttempt, WebhookMessage, new_message_id

__all__ = [
                           "DEVICE_KINDS",
                           "GROUP_MODES",
                           "MEMBER_TYPES",
                           "MESSAGE_STATUSES",
                           "OPEN_STATUSES",
                           "PRIORITIES",
                           "RESPONSE_ACTIONS",
                           "ROLES",
                           "ROTATION_DIRECTIONS",
                           "ROTATION_EVERY",
                           "STATUSES",
                           "TEMPLATES",
                           "UPDATE_TYPES",
                           "Alert",
                           "AlertTarget",
                           "ApiToken",
                           "ConfigVersion",
                           "Configuration",
                           "DedupKey",
                           "Device",
                           "EscalationPlan",
                           "Flow",
                           "FlowRun",
                           "Group",
                           "GroupFallback",
                           "GroupMember",
                           "Notification",
                           "Override",
                           "Response",
                           "Shift",
                           "ShiftMember",
                           "TimelineEntry",
                           "UpdateEndpoint",
                           "User",
                           "WebhookAttempt",
                           "WebhookMessage",
                           "db",
                           "iso",
                           "new_message_id",
                           "new_uuid",
                           "utcnow",
]

from models.heartbeats import Heartbeat, HeartbeatPing
from models.maintenance import MaintenanceHold, MaintenanceWindow

__all__ += ["Heartbeat", "HeartbeatPing", "MaintenanceHold", "MaintenanceWindow"]
