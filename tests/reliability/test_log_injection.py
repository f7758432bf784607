"""No request can write a line of its own (or a terminal escape) into the log: a live Klaxon is sent
newlines, carriage returns and ANSI escapes in a response-link path, an integration URL, a login
form and a header, and its captured serve log must show them escaped, each record one line."""
import re

import pytest
import requests

pytestmark = pytest.mark.slow
FORGED = "2030-01-01 00:00:00,000 ERROR klaxon.auth: FORGED admin signed in"
ANSI = "\x1b[2J\x1b[31m"
RECORD = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d|\[\d{4}-\d\d-\d\d |\d+\.\d+\.\d+\.\d+ |\s)")


def test_control_characters_from_requests_are_escaped_in_the_serve_log(site, figures):
    klaxon = site(env={"KLAXON_LOG_LEVEL": "DEBUG"}, workers=1)
    cfg = klaxon.configuration()
    sent = 0
    for evil in (f"x\n{FORGED}", f"x\r\n{FORGED}", f"x{ANSI}red", "x\x85\u2028" + FORGED):
        quoted = requests.utils.quote(evil, safe="")
        for path in (f"/respond/{quoted}", f"/api/integration/1/functions/{quoted}/triggers",
                     f"/api/integration/1/functions/{cfg['uuid']}{quoted}/triggers", f"/alerts/{quoted}"):
            requests.get(klaxon.url + path, timeout=10)
            requests.post(klaxon.url + path, json={"subject": evil}, timeout=10)
            sent += 2
        requests.post(klaxon.trigger_url(cfg), json={"subject": evil, "dedupKey": evil}, timeout=10)
        sent += 1
    requests.get(f"{klaxon.url}/api/v1/alerts", headers={"Authorization": f"Bearer {ANSI}"}, timeout=10)
    klaxon.server.stop()
    log = klaxon.server.log_text()
    assert "FORGED" in log, "the probe never reached the log: the test proves nothing"
    lines = log.splitlines()
    forged = [line for line in lines if line.startswith(FORGED) or line.lstrip().startswith(FORGED)]
    assert not forged, f"{len(forged)} forged log lines, e.g. {forged[0]!r}"
    assert "\x1b" not in log and "\r" not in log and "\x85" not in log and "\u2028" not in log, \
        "a raw control character reached the log"
    assert "\\n" + FORGED in log or "\\x0a" + FORGED in log.lower(), "the newline is not shown escaped"
    loose = [line for line in lines if line and not RECORD.match(line)]
    assert not loose, f"lines that start no record and continue none: {loose[:5]}"
    figures.update(requests=sent, log_lines=len(lines))
