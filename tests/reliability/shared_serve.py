"""One live `klaxon serve` shared by the tests of a module (each start costs ~5-10 s on 2 cores).

A module's fixture ``shared`` (scope="module", ``yield from shared_serve(...)``) gives its tests a
factory: ``shared(env=..., workers=...)`` is a Site (tests/reliability/conftest.py; one RQ worker
unless ``workers`` says more);
the server is kept while the next test asks for the same settings, and replaced (stopped, then a
fresh one started on an empty database) when a test asks for others. Only one runs at a time: in
PostgreSQL mode every live server of a pytest-xdist worker uses that worker's one live database
and Redis db, so a module using this must not also use the function-scoped ``site`` fixture.
Order a module's tests so the ones asking for the same settings are together. Tests that share a
server see each other's rows: they use names, configurations and receivers of their own, or reset
what they need through the REST API.
"""
from __future__ import annotations

import shutil

from tests.conftest import TEST_DB, TEST_REDIS, TWO_WEB_WORKERS
from tests.reliability.conftest import Site
from tests.support import LiveKlaxon, empty_postgres_database, stop_live


class SharedServe:
    def __init__(self, tmp_path_factory, live_database, template_database, web_workers):
        self.tmp_path_factory, self.live_database, self.template = tmp_path_factory, live_database, template_database
        self.web_workers = web_workers
        self.site: Site | None = None
        self.key: tuple | None = None

    def __call__(self, env=None, workers=1, web_workers=None) -> Site:
        web_workers = web_workers or self.web_workers
        key = (tuple(sorted((env or {}).items())), workers, web_workers)
        if self.site is not None and self.key == key and self.site.server.proc.poll() is None:
            return self.site
        self.close()
        self.site, self.key = Site(self._start(env or {}, workers, web_workers)), key
        return self.site

    def _start(self, env, workers, web_workers) -> LiveKlaxon:
        # what tests/conftest.py's live_env and live_klaxon give a server
        merged = {"KLAXON_SECRET_KEY": "live-test-secret", "KLAXON_WEBHOOK_RETRY_SCHEDULE": "0,1,2,3",
                  "KLAXON_WEB_WORKERS": str(web_workers), **env}
        if TEST_DB:
            merged["KLAXON_DATABASE_URL"] = self.live_database
            empty_postgres_database(self.live_database)
        if TEST_REDIS:
            from redis import Redis

            merged["KLAXON_REDIS_URL"] = TEST_REDIS
            Redis.from_url(TEST_REDIS).flushdb()
        server = LiveKlaxon(self.tmp_path_factory.mktemp("shared-serve"), env=merged, workers=workers)
        if not TEST_DB:
            server.env.pop("KLAXON_DATABASE_URL", None)
            server.data_dir.mkdir(parents=True, exist_ok=True)
            shutil.copy(self.template, server.data_dir / "klaxon.db")  # migrated already: the serve builds no app to migrate
        if not TEST_REDIS:
            server.env.pop("KLAXON_REDIS_URL", None)
        return server.start()

    def close(self) -> None:
        if self.site is not None:
            stop_live(self.site.server)
            self.site, self.key = None, None


def shared_serve(request, tmp_path_factory, live_database, template_database):
    """The body of a module's fixture (scope="module"; ``yield from`` this): a SharedServe, closed after
    the module. Its servers have the web workers tests/conftest.py's live_web_workers gives the module."""
    name = request.module.__name__.rsplit(".", 1)[-1]
    web_workers = getattr(request.module, "LIVE_WEB_WORKERS", 2 if name in TWO_WEB_WORKERS else 1)
    serve = SharedServe(tmp_path_factory, live_database, template_database, web_workers)
    try:
        yield serve
    finally:
        serve.close()
