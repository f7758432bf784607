"""Maintenance windows (SPEC §10): windows (windows.py) and the alerts they hold quiet (holds.py)."""
