"""Two central processes on one PostgreSQL behind a round-robin proxy serve one fleet (issue 21
item 6): sessions, sign-in limits and ingest hold whichever process answers.

Real parts: two ``kru central serve`` subprocesses sharing a data directory (the secret key and
the pack library) and a fresh PostgreSQL database, and Debian's nginx in front, which names
the process that answered each request in a header.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
import tomllib
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
import requests

from bench.server import free_port
from sync import protocol
from sync.protocol import Batch, EventRecord, ItemRecord, UserRecord
from tests.sync_support import CentralServer, pg_base_url, pg_database, wait_until

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
PASSWORD = "lotus-pond-7"

CONF = """\
{user}
worker_processes 1;
daemon off;
pid {work}/nginx.pid;
error_log {work}/error.log;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {work}/body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    upstream central {{ server 127.0.0.1:{a}; server 127.0.0.1:{b}; }}
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 64m;
        location / {{
            proxy_pass http://central;
            proxy_set_header Host $http_host;
            proxy_next_upstream off;
            add_header X-Answered-By $upstream_addr always;
        }}
    }}
}}
"""


class Fleet:
    def __init__(self, url: str, servers: list[CentralServer], database_url: str) -> None:
        self.url = url
        self.servers = servers
        self.database_url = database_url

    def count(self, sql: str) -> int:
        con = psycopg2.connect(self.database_url)
        try:
            with con.cursor() as cur:
                cur.execute(sql)
                return int(cur.fetchone()[0])
        finally:
            con.close()


@pytest.fixture(scope="module")
def fleet(tmp_path_factory) -> Iterator[Fleet]:
    base = pg_base_url()
    if base is None:
        pytest.skip("KRU_TEST_DATABASE_URL is not set (export it to run PostgreSQL tests)")
    work = tmp_path_factory.mktemp("scale")
    data = work / "central"  # shared by both processes, as on shared storage
    with pg_database(base) as url:
        servers = [CentralServer(data, database_url=url) for _ in range(2)]
        servers[0].start()
        servers[0].cli("user", "add", "--username", "officer1", "--password", PASSWORD)
        servers[0].cli(
            "user", "add", "--username", "admin1", "--password", PASSWORD, "--role", "admin"
        )
        servers[1].start()
        port = free_port()
        conf = work / "nginx.conf"
        user = "user root;" if os.geteuid() == 0 else ""
        conf.write_text(
            CONF.format(user=user, work=work, a=servers[0].port, b=servers[1].port, port=port)
        )
        proxy = subprocess.Popen([NGINX, "-c", str(conf), "-p", str(work)])
        url_front = f"http://127.0.0.1:{port}"

        def up() -> bool:
            try:
                return requests.get(url_front + "/healthz", timeout=1).status_code == 200
            except requests.RequestException:
                return False

        try:
            wait_until(up, timeout=20)
            yield Fleet(url_front, servers, url)
        finally:
            proxy.terminate()
            proxy.wait(timeout=10)
            for server in servers:
                server.stop()


def sign_in(fleet: Fleet, username: str = "officer1") -> requests.Session:
    s = requests.Session()
    token = s.get(fleet.url + "/api/v1/session").json()["csrf_token"]
    s.headers["X-CSRFToken"] = token
    r = s.post(fleet.url + "/api/v1/session", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    s.headers["X-CSRFToken"] = s.get(fleet.url + "/api/v1/session").json()["csrf_token"]
    return s


def test_a_session_holds_whichever_process_answers(fleet):
    s = sign_in(fleet)
    answered = Counter()
    for _ in range(12):
        r = s.get(fleet.url + "/api/v1/session")
        assert r.json()["user"]["username"] == "officer1"
        answered[r.headers["X-Answered-By"]] += 1
    assert len(answered) == 2, answered  # both processes served the signed-in user
    page = s.get(fleet.url + "/exports")
    assert page.status_code == 200 and page.url.endswith("/exports")  # not sent to /login

    # Signing out on one process ends the session on both.
    assert s.delete(fleet.url + "/api/v1/session").status_code in (200, 204)
    for _ in range(4):
        assert s.get(fleet.url + "/api/v1/session").json().get("user") is None


def test_failed_sign_ins_are_counted_across_both_processes(fleet):
    s = requests.Session()
    s.headers["X-CSRFToken"] = s.get(fleet.url + "/api/v1/session").json()["csrf_token"]
    answered, codes = set(), []
    for _ in range(12):
        r = s.post(
            fleet.url + "/api/v1/session", json={"username": "admin1", "password": "wrong-one-1"}
        )
        answered.add(r.headers["X-Answered-By"])
        codes.append(r.status_code)
        if r.status_code == 429:
            break
    assert len(answered) == 2
    assert codes[-1] == 429, codes  # the account's limit, counted in the shared database
    # Now even the right password waits, on either process.
    for _ in range(2):
        r = s.post(fleet.url + "/api/v1/session", json={"username": "admin1", "password": PASSWORD})
        assert r.status_code == 429


def _device(fleet: Fleet, name: str) -> dict:
    out = fleet.servers[0].cli("device", "add", "--name", name, "--url", fleet.url)
    return tomllib.loads(out.stdout.split("\n", 1)[1])


def _batch(device_id: str, after: int, count: int, course: str) -> Batch:
    now = int(time.time() * 1000)
    events = [
        EventRecord(
            after + i + 1,
            str(uuid.uuid4()),
            "u1",
            "experienced",
            f"{course}/i1",
            None,
            None,
            None,
            now + i,
            "boot",
        )
        for i in range(count)
    ]
    return Batch(
        batch_id=protocol.batch_id_for(device_id, after, after + count),
        device_id=device_id,
        after=after,
        last=after + count,
        clock_ms=now,
        users=[UserRecord("u1", "learner1", "សិស្ស", "learner")],
        items=[
            ItemRecord(f"{course}/i1", "lesson", "មេរៀន", "Lesson", f"{course}/c", "វគ្គ", "C", 1)
        ],
        events=events,
    )


def _send(fleet: Fleet, device: dict, batch: Batch) -> requests.Response:
    body = protocol.encode_batch(batch)
    headers = protocol.signed_headers(
        device["secret"],
        "POST",
        protocol.BATCHES_PATH,
        device["device_id"],
        batch.batch_id,
        body,
        batch.clock_ms,
    )
    return requests.post(fleet.url + protocol.BATCHES_PATH, data=body, headers=headers, timeout=30)


def test_batches_from_many_sites_are_stored_once_whichever_process_takes_them(fleet):
    sites = [_device(fleet, f"TEC {n}") for n in range(6)]
    answered: set[str] = set()
    errors: list[str] = []

    def site_syncs(device: dict) -> None:
        after = 0
        for _ in range(5):
            batch = _batch(device["device_id"], after, 40, device["device_id"])
            for _attempt in range(2):  # each batch is sent twice, as after a lost answer
                r = _send(fleet, device, batch)
                answered.add(r.headers.get("X-Answered-By", "?"))
                if r.status_code != 200 or r.json()["acked_seq"] != batch.last:
                    errors.append(f"{device['device_id']}: {r.status_code} {r.text[:200]}")
            after = batch.last

    threads = [threading.Thread(target=site_syncs, args=(d,)) for d in sites]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert len(answered) == 2
    ids = ", ".join(f"'{d['device_id']}'" for d in sites)
    stored = fleet.count(
        "SELECT COUNT(*) FROM central_events e JOIN devices d ON d.id = e.device_id "
        f"WHERE d.device_id IN ({ids})"
    )
    assert stored == 6 * 5 * 40  # every event once, none twice
    acked = fleet.count(f"SELECT SUM(acked_seq) FROM devices WHERE device_id IN ({ids})")
    assert acked == 6 * 200


def test_each_process_has_its_own_pid_file(fleet):
    data = fleet.servers[0].data_dir
    for server in fleet.servers:
        pid = Path(data, f"central-{server.port}.pid").read_text().strip()
        assert int(pid) == server.proc.pid
