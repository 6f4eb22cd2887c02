"""Benchmark: the emulator serving 100,000 accounts (all columns, pages of 5,000).

Compares the time to page through the emulator with the time to fetch the very same JSON
bytes from a trivial keep-alive http.server handler, so the ratio is the emulator's own cost.

    PYTHONPATH=. python bench/bench_emulator.py [--rows 100000] [--page 5000]
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from l2tui.emulator import Emulator  # noqa: E402


def read_all(session: requests.Session, url: str, page: int) -> tuple[int, int, list[tuple[str, bytes]]]:
    """Follow nextLinks to the end; returns (rows, requests, [(path?query, body)])."""
    rows = requests_made = 0
    pages: list[tuple[str, bytes]] = []
    headers = {"Prefer": f"odata.maxpagesize={page}", "Accept": "application/json"}
    next_url: str | None = url
    while next_url:
        resp = session.get(next_url, headers=headers)
        resp.raise_for_status()
        body = resp.json()
        requests_made += 1
        rows += len(body["value"])
        split = urlsplit(next_url)
        pages.append((split.path + ("?" + split.query if split.query else ""), resp.content))
        next_url = body.get("@odata.nextLink")
    return rows, requests_made, pages


def serve_static(pages: dict[str, bytes]) -> tuple[ThreadingHTTPServer, str]:
    """A trivial keep-alive server answering each recorded URL with its recorded bytes."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def do_GET(self) -> None:  # noqa: N802
            body = pages[self.path]
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--page", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs")
    args = parser.parse_args()

    t0 = time.perf_counter()
    emu = Emulator(rows=args.rows, seed=1, auth=False).start()
    seeded = time.perf_counter() - t0
    session = requests.Session()
    session.trust_env = False
    try:
        emu_times: list[float] = []
        pages: list[tuple[str, bytes]] = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            rows, count, pages = read_all(session, emu.url("accounts"), args.page)
            emu_times.append(time.perf_counter() - t0)
        assert rows == args.rows, rows
        # The same bytes from a trivial server: nextLinks in them point at the emulator, so
        # rewrite the recorded bodies' links to the static server.
        static_pages = {path: body for path, body in pages}
        server, root = serve_static(static_pages)
        for path, body in pages:
            static_pages[path] = body.replace(emu.root_url.encode(), root.encode())
        base_times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            base_rows, base_count, _ = read_all(session, root + pages[0][0], args.page)
            base_times.append(time.perf_counter() - t0)
        server.shutdown()
        assert base_rows == rows
    finally:
        emu.stop()
    cold = emu_times[0]
    warm = min(emu_times[1:]) if len(emu_times) > 1 else cold
    baseline = min(base_times)
    size = sum(len(b) for _, b in pages)
    print(f"seeded {args.rows} accounts in {seeded:.2f} s")
    print(f"emulator, first read : {rows} rows, {count} requests, {size / 1e6:.1f} MB in "
          f"{cold:.3f} s ({rows / cold:,.0f} rows/s)")
    print(f"emulator, again      : {warm:.3f} s ({rows / warm:,.0f} rows/s; rows pre-serialized)")
    print(f"baseline             : same bytes from a trivial http.server in {baseline:.3f} s "
          f"({rows / baseline:,.0f} rows/s)")
    print(f"ratio                : first {cold / baseline:.2f}x, again {warm / baseline:.2f}x "
          f"(client parses JSON in every loop; best of {args.repeat} where repeated)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
