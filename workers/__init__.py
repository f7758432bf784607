"""RQ job entry points: thin functions taking ids, calling alerting/."""
import functools

from flask import has_app_context

from app import create_app
from extensions import db

_app = None


def worker_app():
    """The process's app, made once (the worker usually pushes its context itself)."""
    global _app
    if _app is None:
        _app = create_app()
    return _app


def job(func):
    """Run inside an app context and always hand the database session back afterwards."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if not has_app_context():
            with worker_app().app_context():
                return wrapper(*args, **kwargs)
        try:
            return func(*args, **kwargs)
        finally:
            db.session.remove()
    return wrapper
