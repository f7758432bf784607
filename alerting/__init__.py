"""Klaxon's domain: alerts, recipients, messages, update webhooks, flows and sources."""
