"""Fault injection (failed, dropped and slow requests) and service-protection limits (429)."""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from dataclasses import dataclass

from .errors import CONCURRENCY_LIMIT, REQUEST_LIMIT, ODataError


@dataclass
class _Rule:
    remaining: int
    action: str  # "fail", "fail_after", "drop", "delay", "hold", "garble" or "answer"
    status: int
    method: str | None
    path_contains: str | None
    seconds: float = 0.0
    query_contains: str | None = None  # in the query string as sent (percent-encoded)
    until: str | None = None  # a hold: the text of the query of the request it waits for
    arrived: threading.Event | None = None  # a hold: set once that request has come
    body: bytes = b""  # an answer: its body
    headers: tuple[tuple[str, str], ...] = ()  # an answer: its headers

    def matches(self, method: str, path: str, query: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        if self.query_contains is not None and self.query_contains not in query:
            return False
        if self.path_contains is not None:
            return self.path_contains in path
        return path.startswith("/api/")  # by default, faults hit the Web API only


@dataclass
class Fault:
    """What to do to one request."""

    action: str  # "fail", "fail_after", "drop", "delay", "hold", "garble" or "answer"
    status: int = 500
    seconds: float = 0.0  # a delay: how long the answer waits; a hold: at most
    arrived: threading.Event | None = None  # a hold: what the answer waits for
    body: bytes = b""  # an answer: its body
    headers: tuple[tuple[str, str], ...] = ()  # an answer: its headers


class Faults:
    """Failures chosen by tests: the next N matching requests, or a seeded random rate."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[_Rule] = []
        self._rate = 0.0
        self._rate_status = 500
        self._rng = random.Random(0)
        self.holds_timed_out = 0  # holds whose awaited request never came

    def fail_next(
        self, n: int, status: int = 503, method: str | None = None,
        path_contains: str | None = None, query_contains: str | None = None,
    ) -> None:
        """Answer the next n matching requests with an error status (``query_contains``: text
        of the query string as sent, such as one page's paging cookie)."""
        with self._lock:
            self._rules.append(_Rule(n, "fail", status, method, path_contains,
                                     query_contains=query_contains))

    def fail_after_next(
        self, n: int, status: int = 504, method: str | None = None,
        path_contains: str | None = None,
    ) -> None:
        """Carry out the next n matching requests, then answer each with an error status (a
        gateway that timed out on a request the service did: the client cannot tell)."""
        with self._lock:
            self._rules.append(_Rule(n, "fail_after", status, method, path_contains))

    def drop_next(
        self, n: int, method: str | None = None, path_contains: str | None = None
    ) -> None:
        """Close the connection in the middle of the next n matching responses."""
        with self._lock:
            self._rules.append(_Rule(n, "drop", 0, method, path_contains))

    def delay_next(
        self, n: int, seconds: float, method: str | None = None, path_contains: str | None = None,
        query_contains: str | None = None,
    ) -> None:
        """Answer the next n matching requests after a pause (a slow service)."""
        with self._lock:
            self._rules.append(_Rule(n, "delay", 0, method, path_contains, seconds,
                                     query_contains=query_contains))

    def hold_next(
        self, n: int, until_query_contains: str, seconds: float = 10.0,
        method: str | None = None, path_contains: str | None = None,
        query_contains: str | None = None,
    ) -> None:
        """Answer the next n matching requests once a request whose query contains
        ``until_query_contains`` has come (before them or while they wait), or after
        ``seconds`` (counted in ``holds_timed_out``): whether a client sent one request while it
        waited for another, told without a clock. A client that does so is answered at once, so
        the limit only bounds a failing test. The hold stays armed until that request comes,
        whatever other requests come in between."""
        with self._lock:
            self._rules.append(_Rule(n, "hold", 0, method, path_contains, seconds,
                                     query_contains=query_contains, until=until_query_contains,
                                     arrived=threading.Event()))

    def held_out(self) -> None:
        """Count a hold whose awaited request did not come in time."""
        with self._lock:
            self.holds_timed_out += 1

    def garble_next(
        self, n: int, method: str | None = None, path_contains: str | None = None
    ) -> None:
        """Answer the next n matching requests with 200 and an HTML page, not JSON (a proxy's
        sign-in or error page)."""
        with self._lock:
            self._rules.append(_Rule(n, "garble", 200, method, path_contains))

    def answer_next(
        self, n: int, body: bytes, method: str | None = None, path_contains: str | None = None,
        query_contains: str | None = None, status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next n matching requests with ``status`` and this body in place of the
        service's (a proxy's JSON, an answer of another shape than the service's, a gateway's
        page): JSON unless ``headers`` give another Content-Type (each header given is sent)."""
        sent = {"Content-Type": "application/json", **(headers or {})}
        with self._lock:
            self._rules.append(_Rule(n, "answer", status, method, path_contains,
                                     query_contains=query_contains, body=body,
                                     headers=tuple(sent.items())))

    def fail_rate(self, rate: float, status: int = 500, seed: int = 0) -> None:
        """Fail a random share of Web API requests (reproducible with the seed)."""
        with self._lock:
            self._rate, self._rate_status = rate, status
            self._rng = random.Random(seed)

    def clear(self) -> None:
        """Remove every fault."""
        with self._lock:
            self._rules.clear()
            self._rate = 0.0

    def check(self, method: str, path: str, query: str = "") -> Fault | None:
        """The fault for this request, if any (consumes one use of a rule)."""
        with self._lock:
            for rule in self._rules:
                if rule.arrived is not None and rule.until is not None and rule.until in query:
                    rule.arrived.set()
            for rule in self._rules:
                if rule.remaining > 0 and rule.matches(method, path, query):
                    rule.remaining -= 1
                    return Fault(rule.action, rule.status, rule.seconds, rule.arrived, rule.body,
                                 rule.headers)
            # a rule used up is dropped; a hold's stays until the request it waits for has
            # come (another request in between dropped it, and the held one timed out)
            self._rules = [r for r in self._rules if r.remaining > 0 or (
                r.arrived is not None and not r.arrived.is_set())]
            if self._rate and path.startswith("/api/") and self._rng.random() < self._rate:
                return Fault("fail", self._rate_status)
        return None


class Limits:
    """Dataverse service protection: requests per sliding window and concurrent requests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests_per_window: int | None = None
        self.window_seconds: float = 300
        self.concurrent: int | None = None
        self.retry_after: int = 1
        self._times: deque[float] = deque()
        self._in_flight = 0

    def set(
        self, requests_per_window: int | None = None, window_seconds: float = 300,
        concurrent: int | None = None, retry_after: int = 1,
    ) -> None:
        """Configure the limits (None = unlimited) and reset the counters."""
        with self._lock:
            self.requests_per_window = requests_per_window
            self.window_seconds = window_seconds
            self.concurrent = concurrent
            self.retry_after = retry_after
            self._times.clear()

    def enter(self) -> None:
        """Admit a request or raise the 429 Dataverse would send."""
        now = time.monotonic()
        with self._lock:
            if self.concurrent is not None and self._in_flight >= self.concurrent:
                raise self._error(
                    CONCURRENCY_LIMIT,
                    f"Number of concurrent requests exceeded the limit of {self.concurrent}.",
                )
            if self.requests_per_window is not None:
                while self._times and self._times[0] <= now - self.window_seconds:
                    self._times.popleft()
                if len(self._times) >= self.requests_per_window:
                    raise self._error(
                        REQUEST_LIMIT,
                        f"Number of requests exceeded the limit of {self.requests_per_window} "
                        f"over time window of {int(self.window_seconds)} seconds.",
                    )
                self._times.append(now)
            self._in_flight += 1

    def leave(self) -> None:
        """Mark an admitted request as finished."""
        with self._lock:
            self._in_flight -= 1

    def _error(self, code: str, message: str) -> ODataError:
        return ODataError(429, code, message, {"Retry-After": str(self.retry_after)})
