"""Two central processes on one PostgreSQL ingest at once with no duplicates."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
import requests

from sync import protocol
from sync.protocol import Batch, EventRecord, ItemRecord, UserRecord
from tests.sync_support import CentralServer, add_events, make_site, run_agent

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _count(url: str, sql: str) -> int:
    import psycopg2

    con = psycopg2.connect(url)
    try:
        with con.cursor() as cur:
            cur.execute(sql)
            return cur.fetchone()[0]
    finally:
        con.close()


@pytest.fixture
def two_centrals(tmp_path, pg_url):
    servers = [CentralServer(tmp_path / f"central{n}", database_url=pg_url) for n in range(2)]
    started = []
    threads = [threading.Thread(target=lambda s=s: started.append(s.start())) for s in servers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    yield servers
    for server in servers:
        server.stop()


def _batch(device_id: str, count: int) -> Batch:
    now = int(time.time() * 1000)
    events = [
        EventRecord(
            i + 1, str(uuid.uuid4()), "u1", "completed", "p/i1", None, None, None, now + i, "boot"
        )
        for i in range(count)
    ]
    return Batch(
        batch_id=protocol.batch_id_for(device_id, 0, count),
        device_id=device_id,
        after=0,
        last=count,
        clock_ms=now,
        users=[UserRecord("u1", "l1", "L", "learner")],
        items=[ItemRecord("p/i1", "lesson", "ក", "A", "p/c", "ក", "C", 1)],
        events=events,
    )


def test_same_batch_sent_to_both_processes_at_once_is_stored_once(two_centrals, pg_url, tmp_path):
    a, b = two_centrals
    out = a.cli("device", "add", "--name", "TEC", "--url", a.url, "-o", str(tmp_path / "p.toml"))
    device_id = out.stdout.splitlines()[0]
    secret = (tmp_path / "p.toml").read_text().split('secret = "')[1].split('"')[0]
    batch = _batch(device_id, 2000)
    body = protocol.encode_batch(batch)
    headers = protocol.signed_headers(
        secret, "POST", protocol.BATCHES_PATH, device_id, batch.batch_id, body, batch.clock_ms
    )
    answers: list[int] = []

    def send(server: CentralServer) -> None:
        response = requests.post(
            server.url + protocol.BATCHES_PATH, data=body, headers=headers, timeout=(5, 60)
        )
        answers.append(response.status_code)

    threads = [threading.Thread(target=send, args=(s,)) for s in (a, b, a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) == [200, 200, 200, 200]
    assert _count(pg_url, "SELECT COUNT(*) FROM central_events") == 2000
    assert _count(pg_url, "SELECT events_received FROM devices") == 2000


def test_sites_syncing_through_two_processes_arrive_exactly_once(two_centrals, pg_url, tmp_path):
    sites = [make_site(tmp_path, f"pg-site-{n}") for n in range(4)]
    ids = []
    for n, site in enumerate(sites):
        two_centrals[0].provision(site)
        ids += add_events(site, 2000, course=f"pack{n % 2}/course1")
    from tests.sync_support import start_agent

    procs = [
        start_agent(site, two_centrals[n % 2].url, "--batch-size", "250")
        for n, site in enumerate(sites)
    ]
    for proc in procs:
        assert proc.wait(timeout=180) == 0
    # a later run through the other process finds nothing left to send
    for n, site in enumerate(sites):
        assert run_agent(site, two_centrals[(n + 1) % 2].url).returncode == 0
    assert _count(pg_url, "SELECT COUNT(*) FROM central_events") == len(ids)
    assert _count(pg_url, "SELECT COUNT(DISTINCT event_id) FROM central_events") == len(ids)


def test_many_processes_migrating_a_new_database_at_once(pg_url):
    import subprocess
    import sys

    script = (
        "import sys; from peewee import PostgresqlDatabase; from urllib.parse import urlsplit;"
        "from edge_server.base import migrate; u = urlsplit(sys.argv[1]);"
        "db = PostgresqlDatabase(u.path.lstrip('/'), host=u.hostname, port=u.port,"
        " user=u.username); migrate.migrate(db, 'sync.central.migrations'); db.close()"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, pg_url], stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    errors = [p.communicate(timeout=60)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], errors
    from edge_server.base import migrate

    applied = _count(pg_url, "SELECT count(*) FROM kru_migrations")
    assert applied == len(migrate.discover("sync.central.migrations"))
