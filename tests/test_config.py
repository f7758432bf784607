"""Settings: typed, validated, and a bad value names its variable."""
import pytest

from config import ConfigError, ensure_secret_key, load_settings, mask


def env(tmp_path, **extra):
    values = {"KLAXON_DATA_DIR": str(tmp_path)}
    values.update(extra)
    return values


def test_it_has_the_documented_defaults(tmp_path):
    s = load_settings(env=env(tmp_path))
    assert s.bind == "127.0.0.1:8000"
    assert s.database_url == f"sqlite:///{tmp_path / 'klaxon.db'}"
    assert s.redis_url is None
    assert s.workers == 2
    assert s.max_payload_bytes == 256 * 1024
    assert s.webhook_retry_schedule == (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
    assert s.sweep_interval == 10.0
    assert s.base_url == "http://127.0.0.1:8000"


@pytest.mark.parametrize("name, value, words", [
    ("KLAXON_BIND", "localhost:notaport", "port"),
    ("KLAXON_BIND", "8000", "HOST:PORT"),
    ("KLAXON_WORKERS", "many", "whole number"),
    ("KLAXON_WORKERS", "-1", "at least 0"),
    ("KLAXON_MAX_PAYLOAD_BYTES", "12kb", "whole number"),
    ("KLAXON_DATABASE_URL", "mysql://x/y", "sqlite"),
    ("KLAXON_DATABASE_URL", "not a url", "not a database URL"),
    ("KLAXON_REDIS_URL", "http://localhost:6379", "redis://"),
    ("KLAXON_REDIS_URL", "redis://localhost:port/0", "port"),
    ("KLAXON_WEBHOOK_ALLOW_CIDRS", "127.0.0.0/99", "CIDR"),
    ("KLAXON_WEBHOOK_RETRY_SCHEDULE", "0,5,soon", "seconds"),
    ("KLAXON_SWEEP_INTERVAL", "often", "number"),
    ("KLAXON_BASE_URL", "klaxon.example.com", "http"),
    ("KLAXON_SMTP_URL", "imap://mail.example.com", "KLAXON_SMTP_URL"),
])
def test_it_rejects_a_bad_value_naming_the_variable(tmp_path, name, value, words):
    with pytest.raises(ConfigError) as err:
        load_settings(env=env(tmp_path, **{name: value}))
    assert str(err.value).startswith(name)
    assert words in str(err.value)


def test_it_reads_secrets_from_a_file(tmp_path):
    (tmp_path / "key").write_text("from-a-file\n")
    s = load_settings(env=env(tmp_path, KLAXON_SECRET_KEY_FILE=str(tmp_path / "key")))
    assert s.secret_key == "from-a-file"


def test_it_keeps_a_generated_secret_key_in_the_data_dir(tmp_path):
    first = ensure_secret_key(load_settings(env=env(tmp_path)))
    second = ensure_secret_key(load_settings(env=env(tmp_path)))
    assert first.secret_key and first.secret_key == second.secret_key
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_it_normalises_postgres_urls_to_psycopg(tmp_path):
    s = load_settings(env=env(tmp_path, KLAXON_DATABASE_URL="postgresql://u:p@db/klaxon"))
    assert s.database_url.startswith("postgresql+psycopg://")


def test_it_masks_passwords_and_secrets(tmp_path):
    assert mask("postgresql://u:hunter22@db/k") == "postgresql://u:****@db/k"
    s = load_settings(env=env(tmp_path, KLAXON_SECRET_KEY="supersecretvalue"))
    shown = dict(s.masked())
    assert "supersecretvalue" not in str(shown)
    assert shown["KLAXON_SECRET_KEY"].endswith("****")
