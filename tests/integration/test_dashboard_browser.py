"""The dashboard in a real headless Chromium: no console errors, charts drawn, links working.

Chromium is driven through the DevTools protocol with a minimal WebSocket client written
here on the standard library (no test dependency). Pages are served by ``http.server`` on
127.0.0.1 and also opened from ``file://``. Screenshots are decoded (a small PNG decoder,
also stdlib + numpy) and checked not to be blank; set ``DASKBENCH_SCREENSHOTS=DIR`` to keep
them. Without Chromium the tests skip, except under ``CI=true`` where they fail: install it
with ``bash .ci/start-chromium.sh``.
"""

from __future__ import annotations

import base64
import functools
import http.server
import json
import os
import shutil
import socket
import struct
import subprocess
import threading
import time
import urllib.parse
import urllib.request
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from daskbench.models import Environment, Measurement, Outcome, Result, Run
from daskbench.report.dashboard import build_dashboard
from daskbench.store import MemoryStore

pytestmark = pytest.mark.browser

TIMEOUT = 30.0


# -- a minimal WebSocket + DevTools client ----------------------------------------------------


class DevTools:
    """One DevTools page session over a WebSocket (RFC 6455, client side, text frames)."""

    def __init__(self, ws_url: str) -> None:
        url = urllib.parse.urlsplit(ws_url)
        self.sock = socket.create_connection((url.hostname, url.port), timeout=TIMEOUT)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET {url.path} HTTP/1.1\r\nHost: {url.hostname}:{url.port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                raise ConnectionError("DevTools closed during the handshake")
            head += chunk
        assert head.split(b"\r\n", 1)[0].split()[1] == b"101", head
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def _exact(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("DevTools closed the connection")
            data += chunk
        return data

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        n = len(payload)
        if n < 126:
            header = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 2**16:
            header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        masked = np.frombuffer(payload, np.uint8) ^ np.resize(np.frombuffer(mask, np.uint8), n)
        self.sock.sendall(header + mask + masked.tobytes())

    def _receive(self) -> dict[str, Any]:
        message = b""
        while True:
            first, second = self._exact(2)
            n = second & 0x7F
            if n == 126:
                (n,) = struct.unpack("!H", self._exact(2))
            elif n == 127:
                (n,) = struct.unpack("!Q", self._exact(8))
            payload = self._exact(n)
            opcode = first & 0x0F
            if opcode == 0x9:  # ping
                self._send_frame(0xA, payload)
                continue
            if opcode == 0x8:
                raise ConnectionError("DevTools closed the WebSocket")
            message += payload
            if first & 0x80:  # FIN
                return dict(json.loads(message))

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        wanted = self.next_id
        self._send_frame(
            0x1, json.dumps({"id": wanted, "method": method, "params": params}).encode()
        )
        while True:
            message = self._receive()
            if message.get("id") == wanted:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))
            if "method" in message:
                self.events.append(message)

    def wait_event(self, method: str) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT
        for i, event in enumerate(self.events):
            if event["method"] == method:
                return self.events.pop(i)
        while time.monotonic() < deadline:
            message = self._receive()
            if message.get("method") == method:
                return message
            if "method" in message:
                self.events.append(message)
        raise TimeoutError(method)

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def close(self) -> None:
        self.sock.close()


def console_errors(events: list[dict[str, Any]]) -> list[str]:
    """Uncaught exceptions, console.error/assert calls and error log entries (404s, CSP...)."""
    errors = []
    for event in events:
        method, params = event["method"], event.get("params", {})
        if method == "Runtime.exceptionThrown":
            errors.append(json.dumps(params["exceptionDetails"])[:500])
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append(
                " ".join(str(a.get("value", a.get("description"))) for a in params["args"])
            )
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            errors.append(f"{params['entry'].get('url', '')}: {params['entry']['text']}")
    return errors


# -- PNG decoding (8-bit RGB/RGBA, non-interlaced: what Chromium writes) ---------------------


def decode_png(data: bytes) -> np.ndarray:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        (length,) = struct.unpack("!I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack("!IIBBBBB", body)
            assert (depth, interlace) == (8, 0), (depth, interlace)
            assert color in (2, 6), color
            channels = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(height, 1 + width * channels)
    out = np.zeros((height, width * channels), np.int32)
    prev = np.zeros(width * channels, np.int32)
    for y in range(height):
        kind, line = raw[y, 0], raw[y, 1:].astype(np.int32)
        if kind == 0:
            row = line
        elif kind == 2:
            row = (line + prev) & 0xFF
        elif kind == 1:  # Sub: a running sum per channel
            row = np.cumsum(line.reshape(width, channels), axis=0).reshape(-1) & 0xFF
        else:  # Average, Paeth: sequential in x
            row = line.copy()
            for x in range(width * channels):
                a = row[x - channels] if x >= channels else 0
                b = prev[x]
                if kind == 3:
                    row[x] = (row[x] + (a + b) // 2) & 0xFF
                else:
                    c = prev[x - channels] if x >= channels else 0
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                    row[x] = (row[x] + pred) & 0xFF
        out[y] = row
        prev = row
    return out.reshape(height, width, channels)[:, :, :3].astype(np.uint8)


def assert_not_blank(png: bytes, *, min_colors: int = 8) -> np.ndarray:
    pixels = decode_png(png)
    flat = pixels.reshape(-1, 3)
    colors = np.unique(flat[:: max(1, len(flat) // 50_000)], axis=0)
    assert len(colors) >= min_colors, f"screenshot looks blank: {len(colors)} colours"
    assert float(pixels.std()) > 5.0
    return pixels


# -- fixtures ---------------------------------------------------------------------------------


def chromium_binary() -> str:
    found = os.environ.get("DASKBENCH_CHROMIUM") or next(
        (p for p in map(shutil.which, ("chromium", "chromium-browser")) if p), None
    )
    if not found:
        hint = "Chromium not found; install it with: bash .ci/start-chromium.sh"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {hint}")
        pytest.skip(hint)
    return found


T0 = datetime(2025, 1, 1, 2, tzinfo=UTC)


def make_history(store: MemoryStore, source: Path) -> None:
    """Two labels, three tests, a 15% step, failures, an acknowledged memory change."""
    rng = np.random.default_rng(3)
    for label, n in (("nightly", 60), ("gpu", 30)):
        for i in range(n):
            at = T0 + timedelta(days=i)
            env = Environment(
                python_version="3.11.9",
                packages={"dask": f"2025.{1 + i // 20}.0", "numpy": "2.1.3"},
                git_commit=f"{i:04d}cafe{label}",
            )
            run_id = f"{label}-{i:03d}"
            store.add_run(Run(run_id, label, at, environment=env))
            for k, test in enumerate(("test_sum", "test_groupby[p2p]", "test_read_parquet")):
                path = f"{source}::{test}"
                if label == "nightly" and test == "test_read_parquet" and i in (20, 59):
                    store.add_result(Result(run_id, test, 0, Outcome.FAILED, at, at,
                                            error="OSError: disk full", path=path))  # fmt: skip
                    continue
                wall = (
                    (1 + k)
                    * rng.normal(1.0, 0.02)
                    * (1.15 if test == "test_sum" and i >= 50 else 1)
                )
                memory = 1e9 * rng.normal(1.0, 0.01) * (1.3 if i >= 40 else 1.0)
                ms = (Measurement("wall_time", wall, "s"), Measurement("peak_memory", memory, "B"))
                if test == "test_groupby[p2p]":  # with a breakdown: the stacked activities
                    ms += tuple(
                        Measurement(f"activity.{name}", share * wall * 4, "s")
                        for name, share in (("compute", 0.6), ("transfer", 0.2), ("idle", 0.3))
                    )
                store.add_result(Result(run_id, test, 0, Outcome.PASSED, at, at, ms, path=path))
    from daskbench.history import acknowledge

    acknowledge(store, "test_sum", "peak_memory", "nightly-040", "bigger shuffle buffers")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("dashboard")
    source = root / "test_io.py"
    source.write_text('def test_sum():\n    """Sum a large array: a tree reduction."""\n')
    store = MemoryStore()
    make_history(store, source)
    build_dashboard(store, root / "site")
    return root / "site"


@pytest.fixture(scope="module")
def server(site: Path) -> Iterator[str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevTools]:
    binary = chromium_binary()
    profile = tmp_path_factory.mktemp("chromium-profile")
    proc = subprocess.Popen(
        [
            binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--user-data-dir={profile}", "--remote-debugging-port=0",
            "--window-size=1300,900", "--hide-scrollbars", "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + TIMEOUT
        while not (port_file.exists() and port_file.read_text().strip()):
            assert proc.poll() is None, f"chromium exited with {proc.returncode}"
            assert time.monotonic() < deadline, "chromium did not open its DevTools port"
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            pages = [t for t in json.load(r) if t["type"] == "page"]
        devtools = DevTools(pages[0]["webSocketDebuggerUrl"])
        for domain in ("Page", "Runtime", "Log"):
            devtools.call(f"{domain}.enable")
        yield devtools
        devtools.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def open_page(browser: DevTools, url: str) -> list[str]:
    """Navigate, wait for load and for the page script to settle; return console errors."""
    browser.events.clear()
    browser.call("Page.navigate", url=url)
    browser.wait_event("Page.loadEventFired")
    browser.evaluate("new Promise(r => requestAnimationFrame(() => setTimeout(r, 100)))")
    browser.call("Runtime.evaluate", expression="1")  # flush pending events
    return console_errors(browser.events)


def screenshot(browser: DevTools, name: str) -> bytes:
    png = base64.b64decode(browser.call("Page.captureScreenshot", format="png")["data"])
    keep = os.environ.get("DASKBENCH_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        (Path(keep) / name).write_bytes(png)
    return png


CANVAS_INK = """(() => Array.from(document.querySelectorAll('#charts canvas')).map(c => {
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; }))()"""


# -- tests ------------------------------------------------------------------------------------


def test_index_page(browser: DevTools, server: str) -> None:
    assert open_page(browser, f"{server}/index.html") == []
    rows = browser.evaluate(
        "Array.from(document.querySelectorAll('#tests tbody tr'))"
        ".map(r => [r.dataset.test, r.dataset.label, r.dataset.status])"
    )
    assert sorted(rows) == sorted(
        [
            ["test_sum", "nightly", "regressed"],
            ["test_groupby[p2p]", "nightly", "stable"],
            ["test_read_parquet", "nightly", "failing"],
            ["test_sum", "gpu", "stable"],
            ["test_groupby[p2p]", "gpu", "stable"],
            ["test_read_parquet", "gpu", "stable"],
        ]
    )
    assert browser.evaluate("document.querySelectorAll('svg.spark polyline').length") == 6
    # Filters: by label, then by status.
    browser.evaluate(
        "const s = document.getElementById('f-label'); s.value = 'gpu';"
        "s.dispatchEvent(new Event('change'))"
    )
    assert browser.evaluate("document.getElementById('f-count').textContent") == "3 of 6 shown"
    browser.evaluate(
        "const l = document.getElementById('f-label'); l.value = '';"
        "l.dispatchEvent(new Event('change'));"
        "const t = document.getElementById('f-status'); t.value = 'regressed';"
        "t.dispatchEvent(new Event('change'))"
    )
    assert browser.evaluate("document.getElementById('f-count').textContent") == "1 of 6 shown"
    browser.evaluate(
        "const t2 = document.getElementById('f-status'); t2.value = '';"
        "t2.dispatchEvent(new Event('change'))"
    )
    assert_not_blank(screenshot(browser, "index.png"))


def test_test_page_draws_charts_and_hover(browser: DevTools, server: str) -> None:
    assert open_page(browser, f"{server}/tests/test_sum.html") == []
    assert browser.evaluate("document.querySelector('pre.doc').textContent") == (
        "Sum a large array: a tree reduction."
    )
    metrics = browser.evaluate(
        "Array.from(document.querySelectorAll('.chart')).map(c => c.dataset.metric)"
    )
    assert metrics == ["wall_time", "peak_memory"]  # wall time first, then memory
    ink = browser.evaluate(CANVAS_INK)
    assert len(ink) == 2
    assert min(ink) > 1000, ink  # lines, points, markers: not an empty canvas
    changes = browser.evaluate(
        "DASHBOARD_TEST.labels.nightly.metrics.wall_time.changes.map(c => [c.bad, c.failing])"
    )
    assert changes == [["nightly-050", True]]
    acked = browser.evaluate("DASHBOARD_TEST.labels.nightly.metrics.peak_memory.changes[0].ack")
    assert acked == "bigger shuffle buffers"

    # Hover over the right edge of the wall_time chart: the tooltip names the run and commit.
    box = browser.evaluate(
        "(() => { const r = document.querySelectorAll('.chart .u-over')[0]"
        ".getBoundingClientRect(); return [r.right - 2, r.top + r.height / 2]; })()"
    )
    browser.call("Input.dispatchMouseEvent", type="mouseMoved", x=box[0], y=box[1])
    tip = browser.evaluate("document.querySelectorAll('.chart .tip')[0].innerText")
    assert "nightly-059" in tip
    assert "commit: 0059cafenigh" in tip  # 12 characters of the commit
    assert "dask 2025.3.0" in tip
    assert_not_blank(screenshot(browser, "test_sum.png"), min_colors=12)


def test_test_page_stacks_time_per_activity(browser: DevTools, server: str) -> None:
    assert open_page(browser, f"{server}/tests/test_groupby-p2p.html") == []
    metrics = browser.evaluate(
        "Array.from(document.querySelectorAll('.chart')).map(c => c.dataset.metric)"
    )
    assert metrics == ["wall_time", "activities", "peak_memory"]  # no chart per activity
    ink = browser.evaluate(CANVAS_INK)
    assert ink[1] > 3 * ink[0], ink  # filled areas, not lines
    assert_not_blank(screenshot(browser, "test_groupby_activities.png"), min_colors=12)
    box = browser.evaluate(
        "(() => { const r = document.querySelectorAll('.chart .u-over')[1]"
        ".getBoundingClientRect(); return [r.right - 2, r.top + r.height / 2]; })()"
    )
    browser.call("Input.dispatchMouseEvent", type="mouseMoved", x=box[0], y=box[1])
    tip = browser.evaluate("document.querySelectorAll('.chart .tip')[1].innerText")
    assert "nightly-059" in tip
    assert "compute: " in tip
    assert "idle: " in tip
    assert console_errors(browser.events) == []


def test_label_tabs_and_failed_runs(browser: DevTools, server: str) -> None:
    assert open_page(browser, f"{server}/tests/test_read_parquet.html") == []
    failed = browser.evaluate("DASHBOARD_TEST.labels.nightly.failed")
    assert len(failed) == 2
    browser.evaluate("document.querySelector('.tab[data-label=gpu]').click()")
    assert browser.evaluate("document.querySelector('.tab.active').dataset.label") == "gpu"
    assert len(browser.evaluate(CANVAS_INK)) == 2
    assert console_errors(browser.events) == []


def test_links_between_pages(browser: DevTools, server: str) -> None:
    hrefs: set[str] = set()
    pages = ("index.html", "runs.html", "ab/index.html", "tests/test_sum.html")
    for page in (*pages, "tests/test_groupby-p2p.html"):
        assert open_page(browser, f"{server}/{page}") == [], page
        hrefs |= set(
            browser.evaluate("Array.from(document.querySelectorAll('a')).map(a => a.href)")
        )
    local = sorted(h for h in hrefs if h.startswith(server))
    assert len(local) > 8
    for href in local:
        with urllib.request.urlopen(href.split("#")[0], timeout=10) as response:
            assert response.status == 200, href
    assert not [h for h in hrefs if not h.startswith(server)], "links leave the site"

    # Click through: index -> a test page -> back to the index.
    open_page(browser, f"{server}/index.html")
    browser.evaluate("document.querySelector('#tests a[href=\"tests/test_sum.html\"]').click()")
    browser.wait_event("Page.loadEventFired")
    assert browser.evaluate("location.pathname") == "/tests/test_sum.html"
    assert browser.evaluate("document.querySelectorAll('#charts canvas').length") >= 2
    browser.evaluate("document.querySelector('a[href=\"../runs.html#run-nightly-050\"]').click()")
    browser.wait_event("Page.loadEventFired")
    assert browser.evaluate("location.hash") == "#run-nightly-050"
    assert browser.evaluate("document.querySelector(':target td').textContent") == "nightly-050"


def test_pages_work_from_file_urls(browser: DevTools, site: Path) -> None:
    assert open_page(browser, (site / "index.html").as_uri()) == []
    assert open_page(browser, (site / "tests" / "test_sum.html").as_uri()) == []
    assert min(browser.evaluate(CANVAS_INK)) > 1000


def test_site_needs_no_network(site: Path) -> None:
    for path in site.rglob("*"):
        if path.suffix in (".html", ".js", ".css") and path.name != "uPlot.iife.min.js":
            text = path.read_text(encoding="utf-8")
            assert "http://" not in text
            assert "https://" not in text, path
