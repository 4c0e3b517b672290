"""The report in a real headless Chromium (Debian ``chromium``): no console errors, charts drawn.

Chromium's ``--enable-logging=stderr`` prints every console message (errors, uncaught
exceptions, Content-Security-Policy violations) as an ``INFO:CONSOLE`` line; the page's only
script writes the number of charts into ``<html data-rendered>``, read back with ``--dump-dom``.
The screenshot is decoded with the standard library (zlib) and numpy: no image package needed.
"""

from __future__ import annotations

import datetime as dt
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest

from adherence.plan import parse_plans
from adherence.report import write_report
from ingest.store import Store
from tests.export_helpers import add_good_patient, fill, good_plan_doc

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
WIDTH, HEIGHT = 1200, 2000


def chromium(tmp: Path, url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium once, offline-minded flags, a private profile in ``tmp``."""
    exe = shutil.which("chromium") or (CHROMIUM if Path(CHROMIUM).exists() else None)
    if exe is None:
        pytest.fail("chromium not found: install the Debian package `chromium`")
    cmd = [
        exe,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={tmp / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
        *extra,
        url,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def console_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def decode_png(data: bytes) -> np.ndarray:
    """Decode an 8-bit RGB/RGBA non-interlaced PNG to an (H, W, C) uint8 array."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, []
    width = height = channels = 0
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            width, height, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and interlace == 0 and ctype in (2, 6)
            channels = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat.append(body)
    raw = zlib.decompress(b"".join(idat))
    stride = width * channels
    out = np.zeros((height, stride), np.uint8)
    prev = np.zeros(stride, np.int64)
    for y in range(height):
        f = raw[y * (stride + 1)]
        row = np.frombuffer(raw, np.uint8, stride, y * (stride + 1) + 1).astype(np.int64)
        if f == 0:
            cur = row
        elif f == 1:  # Sub: running sum per channel
            cur = np.cumsum(row.reshape(width, channels), axis=0).reshape(-1) & 0xFF
        elif f == 2:  # Up
            cur = (row + prev) & 0xFF
        else:  # Average, Paeth: sequential along the row
            r, p = row.tolist(), prev.tolist()
            c = [0] * stride
            for i in range(stride):
                a = c[i - channels] if i >= channels else 0
                b = p[i]
                if f == 3:
                    c[i] = (r[i] + ((a + b) >> 1)) & 0xFF
                else:
                    cc = p[i - channels] if i >= channels else 0
                    pa, pb, pc = abs(b - cc), abs(a - cc), abs(a + b - 2 * cc)
                    pred = a if pa <= pb and pa <= pc else (b if pb <= pc else cc)
                    c[i] = (r[i] + pred) & 0xFF
            cur = np.array(c, np.int64)
        out[y] = cur
        prev = cur
    return out.reshape(height, width, channels)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("report")
    store = Store(d / "store.sqlite")
    fill(store, with_scores=False)
    add_good_patient(store)
    path = write_report(
        store, parse_plans(good_plan_doc()), d / "report.html", today=dt.date(2026, 11, 16)
    )
    store.close()
    return path


def test_page_loads_without_console_errors(report: Path, tmp_path: Path) -> None:
    res = chromium(tmp_path, report.as_uri(), "--dump-dom")
    assert res.returncode == 0, res.stderr[-2000:]
    assert console_lines(res.stderr) == []
    # the page's script ran to the end and found 3 patients x 3 charts
    assert '<html lang="en" data-rendered="9">' in res.stdout


def test_console_errors_are_detected(tmp_path: Path) -> None:
    """The check above can fail: an error, an uncaught exception and a blocked load are seen."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy"'
        " content=\"default-src 'none'; script-src 'unsafe-inline'\"></head><body>"
        '<img src="http://192.0.2.1/x.png"><script>console.error("e1");'
        ' throw new Error("boom");</script></body></html>'
    )
    res = chromium(tmp_path, bad.as_uri(), "--dump-dom")
    lines = console_lines(res.stderr)
    assert len(lines) == 3
    assert any("Uncaught Error: boom" in line for line in lines)
    assert any("Content Security Policy" in line for line in lines)


def test_screenshot_shows_the_charts(report: Path, tmp_path: Path) -> None:
    png = tmp_path / "shot.png"
    res = chromium(
        tmp_path, report.as_uri(), f"--screenshot={png}", f"--window-size={WIDTH},{HEIGHT}"
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert console_lines(res.stderr) == []
    img = decode_png(png.read_bytes())
    assert img.shape[:2] == (HEIGHT, WIDTH)
    rgb = img[:, :, :3].astype(np.int32)
    colour = rgb[:, :, 0] << 16 | rgb[:, :, 1] << 8 | rgb[:, :, 2]

    def pixels(hex_colour: str) -> int:
        return int(np.count_nonzero(colour == int(hex_colour.lstrip("#"), 16)))

    # solid fills of the charts: step bars, repetitions done, repetitions prescribed
    assert pixels("#4a7fc1") > 2000
    assert pixels("#2e8b57") > 1000
    assert pixels("#d5dde8") > 1000
    # the header band and the three risk badges
    assert pixels("#1f3a5f") > 20000
    assert pixels("#c0392b") > 100
    # the charts sit below the cohort table, in the upper part of the page
    rows = np.flatnonzero((colour == 0x4A7FC1).any(axis=1))
    assert 300 < rows.min() < HEIGHT


def test_demo_report_fills_the_page_with_pain_and_components(tmp_path: Path) -> None:
    """Issue 16 item 7 / issue 17: the demo's report left the bottom 40% of a 1200 x 2000 window
    blank; with the pain-against-baseline chart and the programme components beside the three
    charts, content now reaches the last tenth of the window, and the pain line is drawn."""
    from adherence.cli import main

    store = tmp_path / "demo.sqlite"
    assert main(["demo", "--store", str(store), "--no-progress"]) == 0
    out = tmp_path / "report.html"
    plans = Path(__file__).resolve().parents[1] / "sample_data" / "care_plans.json"
    assert main(["report", "--store", str(store), "--plans", str(plans), "--out", str(out)]) == 0
    html = out.read_text()
    assert html.count('data-chart="pain"') == 2 and html.count('data-table="components"') == 2
    png = tmp_path / "shot.png"
    res = chromium(tmp_path, out.as_uri(), f"--screenshot={png}", f"--window-size={WIDTH},{HEIGHT}")
    assert res.returncode == 0, res.stderr[-2000:]
    rgb = decode_png(png.read_bytes())[:, :, :3].astype(np.int32)
    background = rgb[-1, 0]
    content = np.flatnonzero((np.abs(rgb - background).sum(axis=2) > 30).any(axis=1))
    assert content.max() > 0.9 * HEIGHT
    colour = rgb[:, :, 0] << 16 | rgb[:, :, 1] << 8 | rgb[:, :, 2]
    assert np.count_nonzero(colour == 0x8E44AD) > 200  # the pain line and its dots
