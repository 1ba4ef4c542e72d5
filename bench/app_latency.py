"""Latency of the app as a planner feels it, measured in headless Chromium (Debian's
``/usr/bin/chromium``) against a Streamlit server on localhost.

Three figures:

* painted: a key lever moved with the keyboard (a value not seen before, so the model
  runs) until the total-scale chart's pixels have changed; median and max of ``--repeats``;
* new session: a new browser page on a warm server until the chart is painted and the
  rerun is done;
* N sessions: ``--sessions`` pages (default 20) each move a lever at the same moment;
  per page, the time until its chart is painted again (median and max). On a small machine
  this also counts 20 Chromium pages painting, so the server side is measured too: the same
  number of sessions rerunning at once in one process (threads, as the server runs them).

Goals: painted median ≤ 250 ms; new session ≤ 2 s; 20 sessions' reruns median ≤ 2 s.

Run: ``python bench/app_latency.py`` (starts its own server on 127.0.0.1, port 8589 by
default, and stops it), or ``--url http://127.0.0.1:PORT`` to measure a running one.
Only localhost is ever contacted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
#: NEV demand: investment growth does not move the baseline (demand-limited), so its chart
#: would not change.
LEVER = "新能源汽车及核心零部件"
GOALS = {"painted": 0.250, "new session": 2.0, "sessions": 2.0, "server": 2.0}

#: In the page: remember the chart as drawn (Vega's SVG, or a canvas's pixels), then check
#: every animation frame until it changes; the time is kept in ``window.__painted`` (epoch ms, comparable across pages).
_ARM = """() => {
  const snap = () => {
    const el = document.querySelector('[data-testid="stVegaLiteChart"] svg, '
      + '[data-testid="stVegaLiteChart"] canvas');
    if (!el) return '';
    return el.tagName === 'CANVAS' ? el.toDataURL() : el.innerHTML;
  };
  const before = snap();
  window.__painted = null;
  window.__armed = Date.now();
  const poll = () => {
    const now = snap();
    if (now && now !== before) { window.__painted = Date.now(); return; }
    requestAnimationFrame(poll);
  };
  requestAnimationFrame(poll);
  return window.__armed;
}"""
_IDLE = (
    "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
    " || !/Running|运行/.test(document.querySelector('[data-testid=\"stStatusWidget\"]')"
    ".innerText)"
)


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def _server(port: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    command = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py")]
    command += ["--server.headless", "true", "--server.port", str(port)]
    command += ["--server.address", "127.0.0.1", "--server.fileWatcherType", "none"]
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def _ready(page) -> None:
    page.locator('[data-testid="stVegaLiteChart"] svg').first.wait_for(timeout=120_000)
    page.wait_for_function(_IDLE, timeout=120_000)
    page.wait_for_timeout(500)


def _thumb(page):
    return page.locator('[data-testid="stMain"]').get_by_role("slider", name=LEVER).first


def _lever_home(page) -> None:
    thumb = _thumb(page)
    thumb.focus()
    thumb.press("Home")
    page.wait_for_function(_IDLE, timeout=60_000)
    page.wait_for_timeout(800)


def _move(page, key: str = "ArrowRight") -> float:
    """Seconds from a key press on the lever until the chart is repainted."""
    start = page.evaluate(_ARM)
    _thumb(page).press(key)
    page.wait_for_function("() => window.__painted !== null", timeout=60_000)
    painted = page.evaluate("() => window.__painted")
    page.wait_for_function(_IDLE, timeout=60_000)
    return (painted - start) / 1000


def measure(url: str, repeats: int, sessions: int) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    out: dict[str, list[float]] = {"painted": [], "new session": [], "sessions": []}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        view = {"width": 1440, "height": 900}
        warm = browser.new_page(viewport=view)
        warm.goto(url)
        _ready(warm)  # compiles the model, fills the caches
        _lever_home(warm)
        for _ in range(repeats):
            out["painted"].append(_move(warm))
            warm.wait_for_timeout(300)
        for _ in range(3):
            page = browser.new_page(viewport=view)
            start = time.perf_counter()
            page.goto(url)
            _ready(page)
            out["new session"].append(time.perf_counter() - start - 0.5)
            page.close()
        pages = []
        for _ in range(sessions):
            page = browser.new_page(viewport=view)
            page.goto(url)
            pages.append(page)
        for page in pages:
            _ready(page)
            _lever_home(page)
        for i, page in enumerate(pages):  # values not seen before by the cache
            for _ in range(repeats + 2 + i):
                _thumb(page).press("ArrowRight")
            page.wait_for_function(_IDLE, timeout=120_000)
        for page in pages:
            page.wait_for_timeout(200)
        starts = [page.evaluate(_ARM) for page in pages]
        for page in pages:
            _thumb(page).press("ArrowRight")
        for page in pages:
            page.wait_for_function("() => window.__painted !== null", timeout=120_000)
            out["sessions"].append((page.evaluate("() => window.__painted") - min(starts)) / 1000)
        browser.close()
    return out


def server_side(sessions: int) -> list[float]:
    """Seconds per rerun when ``sessions`` sessions rerun at the same moment in one process
    (threads, as the Streamlit server runs them; AppTest, no browser), after each moved a lever
    to a value not seen before."""
    import threading

    from streamlit.testing.v1 import AppTest

    apps = [AppTest.from_file(str(ROOT / "app.py"), default_timeout=300) for _ in range(sessions)]
    for at in apps:
        at.run()
    times = [0.0] * sessions
    barrier = threading.Barrier(sessions)

    def rerun(i: int) -> None:
        at = apps[i]
        key = f"p:{at.session_state['rev']}:demand_growth_nev"
        at.slider(key=key).set_value(round(15.0 + 0.25 * i, 2))
        barrier.wait()
        start = time.perf_counter()
        at.run()
        times[i] = time.perf_counter() - start

    threads = [threading.Thread(target=rerun, args=(i,)) for i in range(sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running app on localhost (default: start one)")
    parser.add_argument("--port", type=int, default=8589)
    parser.add_argument("--repeats", type=int, default=15, help="lever moves (default 15)")
    parser.add_argument("--sessions", type=int, default=20, help="simultaneous sessions")
    args = parser.parse_args()
    if args.url and not args.url.startswith(("http://127.0.0.1", "http://localhost")):
        parser.error("only a server on localhost is measured")
    server = None
    url = args.url or f"http://127.0.0.1:{args.port}"
    if not args.url:
        server = _server(args.port)
        deadline = time.monotonic() + 120
        while not _healthy(url):
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("the app did not start")
            time.sleep(0.5)
    try:
        figures = measure(url, args.repeats, min(args.sessions, 20))
        figures["server"] = server_side(min(args.sessions, 20))
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=20)
    print(
        f"App latency in headless Chromium, seconds; load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    names = {
        "painted": f"lever → chart painted ({args.repeats} moves)",
        "new session": "new session, warm server (3)",
        "sessions": f"{min(args.sessions, 20)} browser sessions at once, until painted",
        "server": f"{min(args.sessions, 20)} sessions' reruns at once, server side",
    }
    for key, times in figures.items():
        median = statistics.median(times)
        goal = GOALS[key]
        verdict = "met" if median <= goal else "MISSED"
        print(
            f"  {names[key]:<44} median {median:6.3f}  max {max(times):6.3f}"
            f"  goal ≤ {goal:g}: {verdict}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
