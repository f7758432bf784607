"""Responses: signed response links and the actions a response option takes (SPEC §3).

A response link is ``{KLAXON_BASE_URL}/respond/{token}``; the token is an itsdangerous
URL-safe signature (the app's SECRET_KEY, salt ``klaxon.respond``) of ``[notification id,
option index]``. It is good until the alert expires or ends, and for one response: the
Response row's unique (``notification_id``, ``response``) marks that option of the message as
answered (another option of the same message is a new response, SPEC §3).
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.exc import IntegrityError

from alerting import events
from alerting.alerts.lifecycle import add_timeline, change_status, lock_alert
from alerting.errors import Conflict, FieldError
from alerting.notifications import targets
from extensions import db
from models import Alert, AlertTarget, Notification, Response, User, utcnow

SALT = "klaxon.respond"
# The device of a response recorded through the REST API: it came through no notification.
REST_API_DEVICE = "REST API"


class InvalidToken(Exception):
    """A response link that cannot be used; ``status`` is 400 (not ours) or 410 (no longer good)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message, self.status = message, status


@dataclass
class Link:
    """What a valid response link stands for."""
    notification: Notification
    alert: Alert
    option: dict


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def make_token(notification: Notification, option_index: int) -> str:
    """The signed token for one notification and one option (by its index in the alert's options)."""
    return _serializer().dumps([notification.id, option_index])


def response_url(notification: Notification, option: dict | int) -> str:
    """The link a recipient follows to answer ``notification`` with ``option`` (a dict or its index)."""
    if isinstance(option, dict):
        option = [o["text"] for o in notification.alert.response_options].index(option["text"])
    base = current_app.config["KLAXON"].base_url
    return f"{base}/respond/{make_token(notification, option)}"


def read_token(token: str) -> Link:
    """Check a token and return what it stands for, or raise InvalidToken saying why."""
    try:
        payload = _serializer().loads(token)
        notification_id, index = payload
        if not isinstance(notification_id, int) or not isinstance(index, int):
            raise ValueError
    except (BadSignature, ValueError, TypeError):
        raise InvalidToken("This response link is not valid. Check that you copied all of it.") from None
    notification = db.session.get(Notification, notification_id)
    alert = notification.alert if notification else None
    if alert is None or not 0 <= index < len(alert.response_options or []):
        raise InvalidToken("This response link does not belong to any alert here.")
    option = alert.response_options[index]
    if answered(notification, option["text"]):
        raise InvalidToken(already_recorded(alert, option["text"]), 410)
    if not alert.is_open:
        raise InvalidToken(f"Alert #{alert.id} has ended; it takes no more responses.", 410)
    if alert.expires_at and alert.expires_at <= utcnow():
        raise InvalidToken(f"Alert #{alert.id} has expired; it takes no more responses.", 410)
    return Link(notification, alert, option)


def answered(notification: Notification, option_text: str) -> bool:
    """Whether this option was already chosen from this message."""
    return db.session.query(Response.id).filter_by(notification_id=notification.id,
                                                   response=option_text).first() is not None


def already_recorded(alert: Alert, option_text: str) -> str:
    return f"The response {option_text!r} to alert #{alert.id} was already recorded from this message."


def find_option(alert: Alert, option_text: str) -> dict:
    """The alert's response option with this text (any case), or a FieldError listing them."""
    options = alert.response_options or []
    for option in options:
        if option["text"].lower() == option_text.strip().lower():
            return option
    if not options:
        raise FieldError("response", f"alert #{alert.id} has no response options")
    raise FieldError("response", f"{option_text!r} must be one of " + ", ".join(o["text"] for o in options))


def record_response(alert: Alert, recipient: str, option_text: str, comment: str | None = None,
                    notification: Notification | None = None, actor: str | None = None,
                    device: str | None = None) -> Response:
    """Record ``recipient``'s response and apply the option's action; the caller commits.

    The alert's row is locked first, so concurrent responses to one alert are decided one after
    the other (an END ends it once; the rest find it ended). The response's device is the
    notification's; without one, ``device`` names where it came from (``REST_API_DEVICE``). A
    comment is also a comment update (CommentAdded), as an annotation is.
    """
    alert = lock_alert(alert)
    if not alert.is_open:
        raise Conflict(f"Alert #{alert.id} is {alert.status}; it takes no more responses.")
    option = find_option(alert, option_text)
    user = db.session.query(User).filter_by(username=recipient).first()
    if user is None:
        raise FieldError("recipient", f"no user named {recipient!r}")
    if notification is not None and answered(notification, option["text"]):
        raise Conflict(already_recorded(alert, option["text"]))
    response = _insert_response(Response(alert_id=alert.id, notification_id=notification.id if notification else None,
                        user_id=user.id, recipient=user.username,
                        device_name=notification.device_name if notification else device,
                        response=option["text"], action=option["action"], comment=comment or None,
                        created_at=utcnow()), alert)
    add_timeline(alert, "RESPONSE_RECEIVED", actor=actor or user.username, recipient=user.username,
                 device=response.device_name, response=response.response, action=response.action,
                 comment=response.comment)
    events.publish(events.ResponseRecorded(alert, response, recipient=user.username, device=response.device_name,
                                           annotation=response.comment))
    if response.comment:
        events.publish(events.CommentAdded(alert, response.comment, username=user.username))
    apply_action(alert, response, user, notification, actor)
    return response


def _insert_response(response: Response, alert: Alert) -> Response:
    """Add the row in a savepoint; the unique (notification, option) is the last word on "already"."""
    try:
        with db.session.begin_nested():
            db.session.add(response)
    except IntegrityError:
        raise Conflict(already_recorded(alert, response.response)) from None
    return response


def _source_targets(alert: Alert, user: User, notification: Notification | None) -> list[AlertTarget]:
    """The targets the response came through: the notification's, else every one that reached the user."""
    if notification is not None:
        ids = {notification.target_id}
    else:
        ids = {t for (t,) in db.session.query(Notification.target_id)
               .filter(Notification.alert_id == alert.id, Notification.user_id == user.id)}
    ids.discard(None)
    return db.session.query(AlertTarget).filter(AlertTarget.id.in_(ids)).all() if ids else []


def apply_action(alert: Alert, response: Response, user: User, notification: Notification | None,
                 actor: str | None = None) -> None:
    """Do what the option's action says (RECORD_RESPONSE does nothing more).

    STOP_NOTIFYING_USER, STOP_NOTIFYING_TARGET, ASSIGN_TO_USER and END are stopping actions: the
    escalate-in-order groups they stop go no further, as a responder who acknowledged expects.
    """
    action = response.action
    if action == "STOP_NOTIFYING_USER":
        # the Response row itself keeps the user from being notified again (recipients.stopped_user_ids);
        # only escalations still running stop, so the rest of an all-at-once group still gets theirs
        for target in _source_targets(alert, user, None):
            if target.state == "active":
                targets.stop_target(target)
    elif action == "STOP_NOTIFYING_TARGET":
        for target in _source_targets(alert, user, notification):
            targets.stop_target(target)
    elif action == "ESCALATE":
        chosen = _source_targets(alert, user, notification) or \
            db.session.query(AlertTarget).filter_by(alert_id=alert.id, state="active").all()
        for target in chosen:
            targets.escalate_now(target)
    elif action == "ASSIGN_TO_USER":
        alert.assigned_user_id = user.id
        targets.stop_all_targets(alert)
    elif action == "END":
        targets.stop_all_targets(alert)
        change_status(alert, "TERMINATED_EXTERNAL", actor=actor or user.username,
                      reason=f"response {response.response!r}")
