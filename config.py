"""Klaxon's settings: the only module that reads the environment.

Every ``KLAXON_*`` variable is parsed into a typed field of :class:`Settings`.
A value that makes no sense raises :class:`ConfigError` naming the variable,
so ``klaxon serve`` can stop with one clear line.
"""
from __future__ import annotations

import ipaddress
import os
import secrets
from dataclasses import dataclass, fields, replace
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

DEFAULT_RETRY_SCHEDULE = "0,5,300,1800,7200,18000,36000,36000"
SECRET_NAMES = {"secret_key", "database_url", "redis_url", "smtp_url", "metrics_token"}


class ConfigError(ValueError):
    """A setting has a value Klaxon cannot use; the message names the variable."""


def _env(env, name, default=None):
    """Read NAME, or the contents of the file named by NAME_FILE (for secrets)."""
    value = env.get(name)
    if value is None and env.get(name + "_FILE"):
        try:
            value = Path(env[name + "_FILE"]).read_text().strip()
        except OSError as exc:
            raise ConfigError(f"{name}_FILE: cannot read {env[name + '_FILE']!r}: {exc.strerror}") from None
    if value is None or value.strip() == "":
        return default
    return value.strip()


def env_int(env, name, default, minimum=None, maximum=None):
    raw = _env(env, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}: expected a whole number, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name}: must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{name}: must be at most {maximum}, got {value}")
    return value


def env_float(env, name, default, minimum=0.0):
    raw = _env(env, name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}: expected a number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name}: must be at least {minimum}, got {raw}")
    return value


def env_bool(env, name, default):
    raw = _env(env, name)
    if raw is None:
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}: expected true or false, got {raw!r}")


def parse_bind(name, raw):
    host, sep, port = raw.rpartition(":")
    if not sep or not host:
        raise ConfigError(f"{name}: expected HOST:PORT, got {raw!r}")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{name}: port must be a number from 1 to 65535, got {port!r}")
    return host.strip("[]"), int(port)


def parse_database_url(name, raw):
    try:
        url = make_url(raw)
    except ArgumentError:
        raise ConfigError(f"{name}: not a database URL: {raw.split('@')[-1]!r}") from None
    backend = url.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise ConfigError(f"{name}: use sqlite:/// or postgresql:// (got {backend!r})")
    if backend == "postgresql" and url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


def parse_redis_url(name, raw):
    parts = urlsplit(raw)
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise ConfigError(f"{name}: use redis://HOST:PORT/DB, rediss:// or unix:///path (got {raw!r})")
    if parts.scheme != "unix":
        try:
            port = parts.port
        except ValueError:
            raise ConfigError(f"{name}: port is not a number in {raw!r}") from None
        if not parts.hostname:
            raise ConfigError(f"{name}: no host in {raw!r}")
        del port
    return raw


def parse_cidrs(name, raw):
    nets = []
    for item in (raw or "").replace(" ", ",").split(","):
        if item:
            try:
                nets.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise ConfigError(f"{name}: {item!r} is not a CIDR such as 127.0.0.0/8") from None
    return tuple(nets)


def parse_schedule(name, raw):
    """Comma-separated whole seconds (0 or more), one per attempt, such as ``0,5,300``."""
    parts = [part.strip() for part in (raw or "").split(",")]
    if not any(parts):
        raise ConfigError(f"{name}: expected seconds separated by commas, such as 0,5,300; got nothing")
    for part in parts:
        if not (part.isascii() and part.isdigit()):  # rejects blanks, signs, decimals and words alike
            raise ConfigError(f"{name}: expected whole seconds (0 or more) separated by commas, "
                              f"got {part!r} in {raw!r}")
    return tuple(int(part) for part in parts)


def parse_base_url(name, raw):
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{name}: expected an http(s) URL such as https://klaxon.example.com, got {raw!r}")
    return raw.rstrip("/")


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    redis_url: str | None
    secret_key: str | None
    base_url: str
    smtp_url: str | None
    smtp_from: str
    bind_host: str
    bind_port: int
    workers: int
    web_workers: int
    max_payload_bytes: int
    webhook_allow_cidrs: tuple = ()
    webhook_retry_schedule: tuple = ()
    notify_retry_schedule: tuple = ()
    sweep_interval: float = 10.0
    endpoint_concurrency: int = 4
    endpoint_disable_after_hours: float = 120.0
    secret_grace_hours: float = 24.0
    webhook_lease_seconds: float = 30.0
    notify_lease_seconds: float = 90.0
    log_level: str = "INFO"
    metrics_token: str | None = None
    db_lock_timeout_seconds: float = 5.0
    minute_seconds: float = 60.0  # how long a "minute" of heartbeats (and on-call) is; tests shorten it

    @property
    def bind(self):
        return f"{self.bind_host}:{self.bind_port}"

    def masked(self):
        """Settings as (ENV_NAME, value) pairs with secrets masked, for `klaxon check`."""
        rows = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in SECRET_NAMES and value:
                value = mask(str(value))
            rows.append((f"KLAXON_{f.name.upper()}", value))
        return rows


def mask(value):
    """Hide passwords in URLs and whole secrets, keeping enough to recognise them."""
    parts = urlsplit(value)
    if parts.scheme and parts.password:
        return value.replace(":" + parts.password + "@", ":****@")
    if parts.scheme and parts.netloc:
        return value
    return value[:4] + "****" if len(value) > 8 else "****"


def load_settings(env=None, **overrides):
    """Parse the environment into Settings; raise ConfigError naming a bad variable."""
    env = os.environ if env is None else env
    data_dir = Path(_env(env, "KLAXON_DATA_DIR", "./data")).expanduser().resolve()
    bind_host, bind_port = parse_bind("KLAXON_BIND", _env(env, "KLAXON_BIND", "127.0.0.1:8000"))
    db_raw = _env(env, "KLAXON_DATABASE_URL", f"sqlite:///{data_dir / 'klaxon.db'}")
    redis_raw = _env(env, "KLAXON_REDIS_URL")
    smtp_url = _env(env, "KLAXON_SMTP_URL")
    if smtp_url:
        from alerting.notifications.transports.email import parse_smtp_url

        try:
            parse_smtp_url(smtp_url)
        except ValueError as exc:
            message = str(exc).replace(" in KLAXON_SMTP_URL", "")
            raise ConfigError(f"KLAXON_SMTP_URL: {message}") from None
    host_for_url = "127.0.0.1" if bind_host in ("0.0.0.0", "::", "") else bind_host
    settings = Settings(
        data_dir=data_dir,
        database_url=parse_database_url("KLAXON_DATABASE_URL", db_raw),
        redis_url=parse_redis_url("KLAXON_REDIS_URL", redis_raw) if redis_raw else None,
        secret_key=_env(env, "KLAXON_SECRET_KEY"),
        base_url=parse_base_url("KLAXON_BASE_URL", _env(env, "KLAXON_BASE_URL", f"http://{host_for_url}:{bind_port}")),
        smtp_url=smtp_url,
        smtp_from=_env(env, "KLAXON_SMTP_FROM", "klaxon@localhost"),
        bind_host=bind_host,
        bind_port=bind_port,
        workers=env_int(env, "KLAXON_WORKERS", 2, minimum=0, maximum=64),
        web_workers=env_int(env, "KLAXON_WEB_WORKERS", 2, minimum=1, maximum=64),
        max_payload_bytes=env_int(env, "KLAXON_MAX_PAYLOAD_BYTES", 256 * 1024, minimum=1024),
        webhook_allow_cidrs=parse_cidrs("KLAXON_WEBHOOK_ALLOW_CIDRS", _env(env, "KLAXON_WEBHOOK_ALLOW_CIDRS", "")),
        webhook_retry_schedule=parse_schedule(
            "KLAXON_WEBHOOK_RETRY_SCHEDULE", _env(env, "KLAXON_WEBHOOK_RETRY_SCHEDULE", DEFAULT_RETRY_SCHEDULE)),
        notify_retry_schedule=parse_schedule(
            "KLAXON_NOTIFY_RETRY_SCHEDULE", _env(env, "KLAXON_NOTIFY_RETRY_SCHEDULE", "0,5,30,120")),
        sweep_interval=env_float(env, "KLAXON_SWEEP_INTERVAL", 10.0, minimum=0.1),
        endpoint_concurrency=env_int(env, "KLAXON_ENDPOINT_CONCURRENCY", 4, minimum=1, maximum=256),
        endpoint_disable_after_hours=env_float(env, "KLAXON_ENDPOINT_DISABLE_AFTER_HOURS", 120.0, minimum=0.001),
        secret_grace_hours=env_float(env, "KLAXON_SECRET_GRACE_HOURS", 24.0, minimum=0.0),
        # How long a worker holds a claimed row before another may take it (a killed worker's work waits this long).
        webhook_lease_seconds=env_float(env, "KLAXON_WEBHOOK_LEASE_SECONDS", 30.0, minimum=0.5),
        notify_lease_seconds=env_float(env, "KLAXON_NOTIFY_LEASE_SECONDS", 90.0, minimum=0.5),
        log_level=(_env(env, "KLAXON_LOG_LEVEL", "INFO")).upper(),
        metrics_token=_env(env, "KLAXON_METRICS_TOKEN"),
        minute_seconds=env_float(env, "KLAXON_MINUTE_SECONDS", 60.0, minimum=0.01),
        # How long a request waits for SQLite's write lock (or PostgreSQL's connect) before its 503.
        db_lock_timeout_seconds=env_float(env, "KLAXON_DB_LOCK_TIMEOUT_SECONDS", 5.0, minimum=0.1),
    )
    if settings.log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"KLAXON_LOG_LEVEL: use DEBUG, INFO, WARNING or ERROR, got {settings.log_level!r}")
    if settings.metrics_token is not None and len(settings.metrics_token) < 16:
        raise ConfigError("KLAXON_METRICS_TOKEN: use at least 16 characters (e.g. `openssl rand -hex 24`)")
    return replace(settings, **overrides) if overrides else settings


def ensure_secret_key(settings):
    """Return settings with a secret key: the configured one, or one kept in the data dir."""
    if settings.secret_key:
        return settings
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path = settings.data_dir / "secret_key"
    if not path.exists():
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(48))
    return replace(settings, secret_key=path.read_text().strip())
