"""/api/v1/openapi.json: built from Flask's URL map, so every route is described."""
from __future__ import annotations

import re

from flask import current_app, jsonify

from blueprints.api import bp

ERROR = {"type": "object", "required": ["code", "reason", "message"],
         "properties": {"code": {"type": "integer"}, "reason": {"type": "string"}, "message": {"type": "string"},
                        "field": {"type": "string"}}}
OBJ = {"type": "object", "additionalProperties": True}
RECIPIENT = {"type": "object", "required": ["id"],
             "properties": {"id": {"type": "string"}, "recipientType": {"enum": ["PERSON", "GROUP", "DEVICE"]}}}
OPTION = {"type": "object", "required": ["text"],
          "properties": {"text": {"type": "string"}, "description": {"type": "string"},
                         "action": {"enum": ["RECORD_RESPONSE", "STOP_NOTIFYING_USER", "STOP_NOTIFYING_TARGET",
                                             "ESCALATE", "END", "ASSIGN_TO_USER"]}}}
UPDATE = {"type": "object", "properties": {"enabled": {"type": "boolean"},
                                           "url": {"type": ["string", "null"], "format": "uri"}}}
MEMBER = {"oneOf": [{"type": "string"}, {"type": "object", "required": ["member"], "properties": {
    "member": {"type": "string"}, "recipientType": {"enum": ["PERSON", "GROUP"]}}}]}
SHIFT = {"type": "object", "required": ["name", "start", "end", "timeline"], "properties": {
    "name": {"type": "string"}, "start": {"type": "string", "description": "local wall clock, 2026-12-07T09:00"},
    "end": {"type": "string"}, "recurrence": {"type": ["object", "null"], "properties": {
        "frequency": {"enum": ["DAILY", "WEEKLY", "MONTHLY"]}, "interval": {"type": "integer", "minimum": 1},
        "byDay": {"type": "array", "items": {"enum": ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]}},
        "byMonthDay": {"type": "array", "items": {"type": "integer"}}, "until": {"type": ["string", "null"]},
        "count": {"type": "integer", "minimum": 1}}},
    "timeline": {"type": "array", "items": {"type": "object", "required": ["member"], "properties": {
        "member": {"type": "string"}, "recipientType": {"enum": ["PERSON", "GROUP"]},
        "delayMinutes": {"type": "integer", "minimum": 0}}}},
    "rotation": {"type": "object", "properties": {
        "direction": {"enum": ["SECOND_TO_FIRST", "LAST_TO_FIRST", "NONE"]},
        "every": {"enum": ["SHIFT", "ALERT", "INTERVAL"]},
        "intervalHours": {"type": "integer", "minimum": 1}, "exclude": {"type": "array", "items": {"type": "string"}}}},
    "repeat": {"type": "object", "properties": {"afterMinutes": {"type": "integer", "minimum": 0},
                                                "times": {"type": "integer", "minimum": 0}}}}}
SCHEMAS = {
    "Error": ERROR,
    "Trigger": {"type": "object", "properties": {
        "properties": OBJ, "subject": {"type": "string"}, "message": {"type": "string"},
        "priority": {"enum": ["HIGH", "MEDIUM", "LOW"]}, "recipients": {"type": "array", "items": RECIPIENT},
        "responseOptions": {"type": "array", "items": OPTION},
        "expirationInMinutes": {"type": "integer", "minimum": 1}, "dedupKey": {"type": "string"}}},
    "Configuration": {"type": "object", "required": ["name"], "properties": {
        "template": {"enum": ["webhook", "alertmanager", "grafana", "pagerduty", "custom", "heartbeat"]},
        "intervalMinutes": {"type": "integer", "minimum": 1}, "graceMinutes": {"type": "integer", "minimum": 0},
        "name": {"type": "string"}, "description": {"type": "string"}, "senderName": {"type": "string"},
        "priority": {"enum": ["HIGH", "MEDIUM", "LOW"]}, "recipients": {"type": "array", "items": RECIPIENT},
        "responseOptions": {"type": "array", "items": OPTION},
        "updates": {"type": "object", "properties": {"status": UPDATE, "delivery": UPDATE, "response": UPDATE}},
        "includeSubjectAndMessage": {"type": "boolean"}, "enabled": {"type": "boolean"},
        "rateLimitPerMinute": {"type": "integer", "minimum": 0},
        "dedupWindowMinutes": {"type": "integer", "minimum": 0},
        "floodLimitPerMinute": {"type": "integer", "minimum": 0}, "customMapping": {"type": ["string", "null"]}}},
    "StatusChange": {"type": "object", "required": ["status"], "properties": {
        "status": {"enum": ["ACTIVE", "SUSPENDED", "TERMINATED_EXTERNAL"]}, "reason": {"type": "string"}}},
    "ResponseIn": {"type": "object", "required": ["recipient", "response"], "properties": {
        "recipient": {"type": "string"}, "response": {"type": "string"}, "comment": {"type": "string"}}},
    "Annotation": {"type": "object", "required": ["comment"], "properties": {"comment": {"type": "string"}}},
    "User": {"type": "object", "required": ["username"], "properties": {
        "username": {"type": "string"}, "name": {"type": "string"}, "role": {"enum": ["admin", "responder"]},
        "devices": {"type": "array", "items": {"type": "object", "properties": {
            "name": {"type": "string"}, "kind": {"enum": ["email", "webhook", "apprise"]},
            "target": {"type": "string"}, "enabled": {"type": "boolean"}}}}}},
    "Group": {"type": "object", "required": ["name"], "properties": {
        "name": {"type": "string"}, "members": {"type": "array", "items": {"type": "string"}},
        "mode": {"enum": ["all-at-once", "escalate-in-order"]},
        "escalationDelayMinutes": {"type": "number", "minimum": 0},
        "timezone": {"type": "string", "description": "IANA timezone of the shifts' wall-clock times"},
        "shifts": {"type": "array", "items": SHIFT}, "fallback": {"type": "array", "items": MEMBER}}},
    "Override": {"type": "object", "required": ["start", "end", "member"], "properties": {
        "start": {"type": "string", "format": "date-time"}, "end": {"type": "string", "format": "date-time"},
        "member": {"type": "string"}, "replacement": {"type": ["string", "null"]},
        "shift": {"type": ["string", "null"]}}},
    "List": {"type": "object", "required": ["items", "next"], "properties": {
        "items": {"type": "array", "items": OBJ}, "next": {"type": ["string", "null"]}}},
    "MaintenanceWindow": {"type": "object", "required": ["name", "start", "end", "configurations"], "properties": {
        "name": {"type": "string"}, "start": {"type": "string"}, "end": {"type": "string"},
        "timezone": {"type": "string"}, "recurrence": {"type": ["object", "null"]},
        "configurations": {"oneOf": [{"const": "all"}, {"type": "array", "items": {"type": "string"}}]},
        "notifyOnEnd": {"type": "boolean"}}},
    "WindowEnd": {"type": "object", "required": ["end"], "properties": {"end": {"type": "string"}}},
    "XmStatusChange": {"type": "object", "required": ["id", "status"], "properties": {
        "id": {"type": "string"}, "status": {"enum": ["TERMINATED", "SUSPENDED", "ACTIVE"]}}},
    "XmList": {"type": "object", "required": ["count", "total", "data", "links"], "properties": {
        "count": {"type": "integer"}, "total": {"type": "integer"}, "data": {"type": "array", "items": OBJ},
        "links": {"type": "object", "properties": {"self": {"type": "string"}, "next": {"type": "string"}}}}},
    "Object": OBJ,
}
# Request bodies by endpoint suffix; anything else that takes a body gets a generic object.
BODIES = {"create_configuration": "Configuration", "update_configuration": "Configuration",
          "set_status": "StatusChange", "add_response": "ResponseIn", "add_annotation": "Annotation",
          "create_user": "User", "update_user": "User", "create_group": "Group", "update_group": "Group",
          "create_override": "Override",
          "trigger": "Trigger", "create_window": "MaintenanceWindow", "end_window": "WindowEnd",
          "change_event_status": "XmStatusChange"}


def _operation(rule, method, view):
    doc = (view.__doc__ or rule.endpoint).strip().splitlines()[0]
    name = rule.endpoint.split(".")[-1]
    ok = {"201": "Created", "204": "Deleted", "202": "Accepted"}
    code = "201" if method == "post" and name.startswith(("create", "add_")) else "200"
    code = "204" if method == "delete" else "202" if name in ("trigger", "change_event_status") else code
    listed = "XmList" if rule.endpoint.startswith("xm.") else "List"  # xMatters' {count, total, data, links}
    content = {} if code == "204" else {"application/json": {"schema": {
        "$ref": "#/components/schemas/" + (listed if name.startswith(("list", "user_deliveries")) else "Object")}}}
    responses = {code: {"description": ok.get(code, "OK"), **({"content": content} if content else {})}}
    for err in ("400", "401", "404", "409", "413", "415", "429", "503"):
        responses[err] = {"description": "Error", "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Error"}}}}
    op = {"summary": doc, "operationId": rule.endpoint.replace(".", "_"), "responses": responses,
          "parameters": [{"name": a, "in": "path", "required": True, "schema": {"type": "string"}}
                         for a in sorted(rule.arguments)]}
    if method in ("post", "patch", "put"):
        schema = BODIES.get(name, "Object")
        op["requestBody"] = {"required": schema != "Object", "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}
    if name == "trigger":
        op["security"] = [{"apiKeyQuery": []}, {"apiKeyHeader": []}, {"basic": []}]
    elif rule.endpoint.startswith("xm."):
        op["security"] = [{"bearer": []}, {"basic": []}]  # HTTP Basic with a token as the password
    return op


def build_spec(app) -> dict:
    paths: dict = {}
    for rule in app.url_map.iter_rules():
        if not (rule.rule.startswith(("/api/v1/", "/api/xm/1/")) or rule.endpoint == "inbound.trigger") \
                or rule.endpoint == "api.openapi":
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        view = app.view_functions[rule.endpoint]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation(rule, method.lower(), view)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Klaxon", "version": app.config["KLAXON_VERSION"],
                 "description": "Self-hosted alerting: integration URL in, people notified, update webhooks out."},
        "servers": [{"url": app.config["KLAXON"].base_url}],
        "security": [{"bearer": []}],
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": SCHEMAS, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"},
            "apiKeyQuery": {"type": "apiKey", "in": "query", "name": "apiKey"},
            "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
            "basic": {"type": "http", "scheme": "basic"}}},
    }


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3.1 document of this API."""
    return jsonify(build_spec(current_app._get_current_object()))
