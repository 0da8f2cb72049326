"""Central JSON logs (``central.log_format = json``): one object per line with time, level,
logger, message and the request id the client was sent."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import requests

from edge_server.base import logs
from sync import protocol
from sync.central import registry
from tests.central_support import make_batch
from tests.sync_support import CentralServer, wait_until


@pytest.fixture
def json_logs(tmp_path: Path) -> Iterator[Path]:
    """Configure logging as ``kru central serve`` does with json; restore pytest's after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    logs.configure("INFO", tmp_path / "logs", filename="central.log", fmt="json")
    yield tmp_path / "logs" / "central.log"
    for handler in list(root.handlers):
        handler.close()
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def test_a_refused_batch_is_logged_as_json_with_the_request_id(central_app, json_logs):
    device = registry.add_device("TEC Kandal", "http://central.example", "Kandal").device
    batch = make_batch(device.device_id)
    body = protocol.encode_batch(batch)
    headers = protocol.signed_headers(
        "0" * 64, "POST", protocol.BATCHES_PATH, device.device_id, batch.batch_id, body, 0
    )
    response = central_app.test_client().post(
        protocol.BATCHES_PATH, data=body, headers={**headers, "X-Request-ID": "nginx-req-0001"}
    )
    assert response.status_code == 401
    assert response.headers["X-Request-ID"] == "nginx-req-0001"
    [entry] = [e for e in lines(json_logs) if e["logger"] == "sync.central.views_metrics"]
    assert set(entry) == {"time", "level", "logger", "message", "request_id"}
    assert entry["level"] == "WARNING"
    assert entry["request_id"] == "nginx-req-0001"
    assert protocol.E_BAD_SIGNATURE in entry["message"]
    assert datetime.fromisoformat(entry["time"]).utcoffset().total_seconds() == 0


def test_an_unusable_request_id_is_replaced_by_a_new_one(central_app):
    client = central_app.test_client()
    given = client.get("/healthz", headers={"X-Request-ID": "bad id; with <spaces>"})
    assert re.fullmatch(r"[0-9a-f]{32}", given.headers["X-Request-ID"])
    other = client.get("/healthz")
    assert other.headers["X-Request-ID"] != given.headers["X-Request-ID"]


def test_khmer_and_exceptions_stay_readable_in_json_lines(json_logs):
    log = logging.getLogger("sync.central.test")
    try:
        raise ValueError("ខូច")
    except ValueError:
        log.exception("សាលា %s", "កណ្ដាល")
    [entry] = lines(json_logs)
    assert entry["message"] == "សាលា កណ្ដាល"
    assert entry["request_id"] is None  # outside a request
    assert "ValueError: ខូច" in entry["exception"]
    assert "សាលា" in json_logs.read_text(encoding="utf-8")  # not \\u escapes


def test_kru_central_serve_writes_json_lines_when_set(tmp_path):
    server = CentralServer(tmp_path / "central")
    server.env["KRU_CENTRAL_LOG_FORMAT"] = "json"
    server.start()
    try:
        refused = requests.post(server.url + protocol.BATCHES_PATH, data=b"x", timeout=10)
        assert refused.status_code == 400
        log_file = server.data_dir / "logs" / "central.log"
        wait_until(lambda: "sync batch refused" in log_file.read_text(encoding="utf-8"))
    finally:
        server.stop()
    entries = lines(log_file)  # every line is JSON
    assert any(e["message"].startswith("serving on") for e in entries)
    [refusal] = [e for e in entries if e["message"].startswith("sync batch refused")]
    assert refusal["request_id"] == refused.headers["X-Request-ID"]
