"""200 alerts posted at once to a real `klaxon serve`: every 202 has its own number, found in the database."""
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import create_engine, text

pytestmark = pytest.mark.slow


def test_200_concurrent_alerts_get_distinct_numbers_that_are_all_stored(live_klaxon):
    server = live_klaxon(workers=1)  # the web takes the 200 posts; no job matters here
    token = server.create_token()
    headers = {"Authorization": f"Bearer {token}"}
    cfg = requests.post(server.url + "/api/v1/configurations", json={"name": "Load"}, headers=headers,
                        timeout=10).json()
    url = cfg["integrationUrl"].replace(cfg["integrationUrl"].split("/api/")[0], server.url)
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=32))

    def fire(n):
        return session.post(url, json={"subject": f"load {n}", "properties": {"n": n}}, timeout=30)

    with ThreadPoolExecutor(max_workers=32) as pool:
        replies = list(pool.map(fire, range(200)))
    assert [r.status_code for r in replies] == [202] * 200
    numbers = [r.json()["eventIdentifier"] for r in replies]
    assert len(set(numbers)) == 200
    db_url = server.env.get("KLAXON_DATABASE_URL") or f"sqlite:///{server.data_dir / 'klaxon.db'}"
    engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as conn:
        stored = {row[0] for row in conn.execute(text("SELECT id FROM alerts"))}
    engine.dispose()
    assert set(numbers) <= stored
