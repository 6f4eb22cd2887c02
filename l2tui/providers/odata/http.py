"""HTTP to the service: one session, retries (429 Retry-After, 5xx, dropped connections), 401 refresh."""

from __future__ import annotations

import html
import random
import re
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from l2tui.config.urls import without_userinfo
from l2tui.errors import ConnectError
from l2tui.providers.odata.auth import Authenticator, GaveUp, Timeout, after_tries, short_reason
from l2tui.providers.odata.pages import NO_VALUE, collection_problem
from l2tui.providers.odata.values import loads

RETRY_STATUSES = frozenset({500, 502, 503, 504})
# an Authorization header's value as a service may echo it: its scheme kept, its credentials not
_AUTHORIZATION = re.compile(
    r"(\bAuthorization[\"']?\s*[:=]\s*[\"']?(?:(?:Basic|Bearer|Digest|Negotiate|NTLM)\s+)?)"
    r"[^\s\"',;]+", re.IGNORECASE)
_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
DEFAULT_HEADERS = {
    "Accept": "application/json",
    "OData-MaxVersion": "4.0",
    "OData-Version": "4.0",
}


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait before trying a request again."""

    max_retries: int = 5  # 5xx and dropped connections
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_throttle_retries: int = 60  # 429s, each waiting Retry-After
    max_retry_after: float = 300.0
    jitter: float = 0.25

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> RetryPolicy:
        """A policy with ``retry_*`` overrides from ProviderContext.options."""
        names = {
            "retry_max": "max_retries",
            "retry_base_delay": "base_delay",
            "retry_max_delay": "max_delay",
            "retry_max_throttled": "max_throttle_retries",
            "retry_max_retry_after": "max_retry_after",
            "retry_jitter": "jitter",
        }
        return cls(**{field: options[key] for key, field in names.items() if key in options})

    def backoff(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Exponential delay before retry number ``attempt`` (1-based), with jitter."""
        delay = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return delay * (1 + self.jitter * (2 * rand() - 1))

    def throttle_wait(self, retry_after: str | None, attempt: int) -> float:
        """Seconds to wait after a 429: Retry-After when given (capped), else backoff."""
        seconds = parse_retry_after(retry_after)
        if seconds is None:
            return self.backoff(attempt)
        return max(self.base_delay, min(seconds, self.max_retry_after))


def nothing_listens(url: str) -> str:
    """What a refused first connection means: no service at that address (not worth retrying)."""
    host = urlsplit(url).hostname or ""
    hint = "nothing listens there; is the URL right and the service running?"
    if host in ("127.0.0.1", "localhost", "::1"):
        hint += " (the emulator of `l2tui demo` serves only while the demo runs)"
    return hint


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds (delta-seconds or an HTTP date), None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def origin_of(url: str) -> tuple[str, str, int | None]:
    """A URL's scheme, host and port (the scheme's own when none is given), as compared."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or {"http": 80, "https": 443}.get(scheme)


def safe_url(url: str) -> str:
    """The URL for messages: without its user-info (a password) and query (tokens, filters)."""
    parts = urlsplit(without_userinfo(url))
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def collection(url: str, body: Any, needs: Collection[str] = (), hint: str = "") -> dict[str, Any]:
    """The parsed answer to a GET of a collection, or a one-line ConnectError naming the request
    and what is wrong with it (``collection_problem``; ``hint`` said after an answer without a
    'value' list)."""
    problem = collection_problem(body, needs)
    if problem is None:
        return body  # type: ignore[no-any-return]  # (a dict: checked)
    if hint and problem == NO_VALUE:
        problem += f" ({hint})"
    raise shape_error(url, problem)


def shape_error(url: str, problem: str) -> ConnectError:
    """The one-line error for a GET answered with JSON of another shape than asked for: the
    request (its query left out) and what is wrong with the answer."""
    return ConnectError(f"GET {safe_url(url)}: {problem}")


class HttpError(ConnectError):
    """A request the service answered with an error status."""

    def __init__(self, message: str, status: int, code: str = "", service_message: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.service_message = service_message


def error_of(response: requests.Response,
             redact: Callable[[str], str] = lambda text: text) -> tuple[str, str]:
    """(code, message) from an OData error body, or the body's first line; secrets masked
    (``redact``, and any Authorization value) over the whole text before it is cut short."""
    try:
        body = loads(response.content)
    except ValueError:
        body = None
    if body is not None:
        error = body.get("error", {}) if isinstance(body, dict) else {}
        message: object = ""
        if isinstance(error, dict):
            message = error.get("message", "")
            if isinstance(message, dict):  # OData v2/v3 {"lang":…, "value":…}
                message = message.get("value", "")
        code = str(error.get("code") or "") if isinstance(error, dict) else ""
        return code, _first_line(redact(str(message)), 300)
    text = response.text
    if "html" in response.headers.get("Content-Type", "").lower() or \
            text.lstrip()[:14].lower().startswith(("<!doctype html", "<html")):
        # a gateway's page: its title, not its first line of markup
        title = _HTML_TITLE.search(text)
        text = html.unescape(" ".join(title.group(1).split())) if title else ""
    return "", _first_line(redact(text), 200)


def mask_credentials(text: str) -> str:
    """The text with the value of any Authorization header in it (whole or cut) as ***."""
    return _AUTHORIZATION.sub(r"\1***", text)


def _first_line(text: str, limit: int) -> str:
    """The first line of a text, credentials masked, then cut to ``limit`` characters."""
    lines = mask_credentials(text).strip().splitlines()
    return lines[0][:limit] if lines else ""


def read_whole(response: requests.Response) -> None:
    """Read a streamed response's body as its content, in as few reads as the socket gives.

    requests reads a body 10 KiB at a time, and takes the interpreter lock back after each
    read; beside a thread running Python (the run decoding the page before), each take can wait
    a switch interval: 20 pages of 2 MB took 12-16 s so, against 1.0-1.5 s read whole. Errors
    are requests' own (``iter_content`` maps urllib3's). A body already read is left as it is."""
    if response._content is False:  # (requests' mark for a body not read yet)
        response._content = b"".join(response.iter_content(chunk_size=None))


class StopAsked(ConnectError):
    """The run was asked to stop: no request is tried again, and no write starts."""

    def __init__(self, message: str = "the run was asked to stop") -> None:
        super().__init__(message)

    @classmethod
    def while_waiting(cls) -> StopAsked:
        """The stop that ended a wait for an answer."""
        return cls("stopped while waiting for an answer: the run was asked to stop")


def sleep_until(stop: threading.Event) -> Callable[[float], None]:
    """A wait before a retry that ends when ``stop`` is set (the run asked to stop, by a signal
    from systemd say): StopAsked then, so the request is not tried again (a write stopped
    so keeps the state of what it wrote, as when the side stops answering)."""

    def sleep(seconds: float) -> None:
        if stop.wait(seconds):
            raise StopAsked("stopped instead of trying again: the run was asked to stop")

    return sleep


T = TypeVar("T")


class Pending(Generic[T]):
    """A call under way in a thread of its own (``HttpClient.soon``)."""

    def __init__(self, stop: threading.Event | None) -> None:
        self._stop = stop
        self._done = threading.Event()
        self._value: T | None = None
        self._error: BaseException | None = None

    def result(self) -> T:
        """The call's value, or its exception raised here; StopAsked as soon as the run is asked
        to stop (the call goes on, and nobody waits for it)."""
        while not self._done.wait(0.1):
            if self._stop is not None and self._stop.is_set():
                raise StopAsked.while_waiting()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]  # (set before done, when no error)


def in_thread(call: Callable[[], T], stop: threading.Event | None, name: str) -> Pending[T]:
    """``call()`` begun in a daemon thread of its own (one still under way after a stop keeps
    no process from ending); its ``result`` waits for it, or for the run's stop."""
    pending: Pending[T] = Pending(stop)

    def work() -> None:
        try:
            pending._value = call()
        except BaseException as exc:  # noqa: BLE001  (raised in the caller's thread)
            pending._error = exc
        finally:
            pending._done.set()

    threading.Thread(target=work, daemon=True, name=name).start()
    return pending


class Retrier:
    """The one retry loop of l2tui's requests, a service's (``HttpClient``) and a sign-in's
    (``auth.RetryingClient``): a 429 tried again after its Retry-After (``max_throttle_retries``
    times), a 5xx of RETRY_STATUSES, a timeout or a dropped connection after a back-off
    (``max_retries`` times, together), each wait logged; a refused connection before any answer
    is not tried again (nothing listens: a restart is tried again)."""

    def __init__(self, log: Callable[[str], None], sleep: Callable[[float], None]) -> None:
        self.log = log
        self.sleep = sleep
        self.answered = False  # a response came: a refusal after that is a restart, retried

    def send(self, url: str, policy: RetryPolicy,
             attempt: Callable[[], Callable[[], requests.Response]],
             again: Callable[[requests.Response], bool] = lambda response: False,
             ) -> tuple[requests.Response, int]:
        """The request's last answer, and how often it was sent when it was given up still
        throttled or 5xx after its retries (else 1: another answer is the answer, not a giving
        up). ``attempt()`` makes each try ready (what that raises is not tried again) and gives
        its send; ``again(answer)`` True sends at once once more (a 401 after a renewed token).
        A connection that failed each try, or refused before any answer, is GaveUp; a TLS
        failure (SSLError) is raised as it is."""
        server_errors = throttles = tries = 0
        while True:
            tries += 1
            send = attempt()
            try:
                response = send()
            except requests.exceptions.SSLError:
                raise
            except (requests.ConnectionError, requests.Timeout,
                    requests.exceptions.ChunkedEncodingError) as exc:
                reason = short_reason(exc)
                if reason == "Connection refused" and not self.answered:
                    raise GaveUp(reason, tries, refused=True) from None
                server_errors += 1
                if server_errors > policy.max_retries:
                    raise GaveUp(reason, tries) from None
                self._wait(policy.backoff(server_errors), reason, url)
                continue
            self.answered = True
            if again(response):
                continue
            status = response.status_code
            if status == 429:
                throttles += 1
                if throttles <= policy.max_throttle_retries:
                    wait = policy.throttle_wait(response.headers.get("Retry-After"), throttles)
                    self._wait(wait, "429 throttled", url)
                    continue
            elif status in RETRY_STATUSES:
                server_errors += 1
                if server_errors <= policy.max_retries:
                    self._wait(policy.backoff(server_errors), str(status), url)
                    continue
            return response, tries if status == 429 or status in RETRY_STATUSES else 1

    def _wait(self, seconds: float, why: str, url: str) -> None:
        """Log why a request is tried again, then wait (StopAsked when the run is asked to stop
        meanwhile: ``sleep_until``)."""
        self.log(f"{safe_url(url)}: {why}; retrying in {seconds:.2f}s")
        self.sleep(max(0.0, seconds))


class HttpClient:
    """Sends requests to one service with credentials, retries (``Retrier``) and one-line
    errors."""

    def __init__(
        self,
        auth: Authenticator,
        *,
        timeout: Timeout,
        ca_bundle: str | None,
        policy: RetryPolicy,
        log: Callable[[str], None],
        pool_size: int = 10,
        sleep: Callable[[float], None] = time.sleep,
        stop: threading.Event | None = None,
        service: str | None = None,
    ) -> None:
        self.auth = auth
        # the service's address: a request elsewhere (a next link naming another host) is refused
        # rather than sent the credentials
        self.service = service
        self.origin = origin_of(service) if service else None
        self.stop = stop  # set when the run is asked to stop: a GET waiting for its answer ends
        self.timeout = timeout
        self.verify: bool | str = ca_bundle or True
        self.policy = policy  # (read by each request: verify makes it less patient a while)
        self.log = log
        self.retrier = Retrier(log, sleep)
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self._lock = threading.Lock()
        self._detached = threading.local()  # ``on`` in a thread of ``soon``'s
        self.request_count = 0
        self.json_seen = False  # the service answered JSON

    def close(self) -> None:
        """Close pooled connections."""
        self.session.close()

    def redact(self, text: str) -> str:
        """The text with every known secret, and any Authorization value, replaced by ***."""
        for secret in self.auth.secrets():
            if secret and len(secret) >= 4:
                text = text.replace(secret, "***")
        return mask_credentials(text)

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        data: bytes | str | None = None,
        allow: Collection[int] = (),
    ) -> requests.Response:
        """Send, retrying transient failures; raise HttpError for an error status not in ``allow``."""
        signed: dict[str, str] = {}  # the try's credentials (renewed after a 401, once)
        refreshed = False

        def attempt() -> Callable[[], requests.Response]:
            signed.clear()
            signed.update(self.auth.headers())
            if signed and self.origin and origin_of(url) != self.origin:
                raise ConnectError(
                    f"{method} {safe_url(url)}: the service linked to another address than its "
                    f"own ({safe_url(self.service or '')}); not followed, so that the sign-in is "
                    "sent to the service alone")
            merged = {**DEFAULT_HEADERS, **signed, **(headers or {})}
            with self._lock:
                self.request_count += 1
            return lambda: self._send(method, url, merged, data)

        def renewed(response: requests.Response) -> bool:
            nonlocal refreshed
            if response.status_code != 401 or refreshed or not signed:
                return False
            refreshed = True
            self.log(f"{method} {safe_url(url)}: 401, renewing the access token")
            return self.auth.refresh(signed)

        try:
            response, tries = self.retrier.send(url, self.policy, attempt, renewed)
        except requests.exceptions.SSLError as exc:
            raise ConnectError(
                f"{method} {safe_url(url)}: TLS failed ({short_reason(exc)}); "
                "give CABundle=<file> to trust a private CA"
            ) from None
        except GaveUp as exc:
            if exc.refused:
                raise ConnectError(f"{method} {safe_url(url)}: {exc.reason}: "
                                   f"{nothing_listens(url)}") from None
            raise ConnectError(after_tries(f"{method} {safe_url(url)}: {exc.reason}",
                                           exc.tries)) from None
        if response.status_code < 400 or response.status_code in allow:
            return response
        # a 429 or 5xx still answered after the retries: said so (another is the answer)
        raise self.error(method, url, response, tries)

    def _send(self, method: str, url: str, headers: dict[str, str],
              data: bytes | str | None) -> requests.Response:
        """One try of a request, its body read whole. A GET (which changes nothing) is sent from
        a thread of its own where the run can be asked to stop (``soon``; sent at once in such a
        thread): the stop ends the wait for its answer (StopAsked) rather than the timeout,
        which a service that stopped answering runs out (120 s by default, past systemd's 90 s).
        A write's answer is always waited for."""
        def send() -> requests.Response:
            response = self.session.request(
                method, url, headers=headers, data=data, timeout=self.timeout,
                verify=self.verify, stream=True)
            read_whole(response)
            return response

        if self.stop is None or method != "GET" or getattr(self._detached, "on", False):
            return send()
        return self.soon(send).result()

    def soon(self, call: Callable[..., T], *args: Any, name: str = "l2tui-get") -> Pending[T]:
        """``call(*args)`` begun in a thread of its own, whose GETs are sent from it directly (not
        each from one thread more, as ``_send`` does elsewhere: a describe's six requests start
        six threads, not twelve); ``result`` waits for it, or for the run's stop. A daemon
        thread, so that a request still under way after a stop keeps no process from ending."""
        def detached() -> T:
            self._detached.on = True
            return call(*args)

        return in_thread(detached, self.stop, name)

    def error(self, method: str, url: str, response: requests.Response,
              tries: int = 1) -> HttpError:
        """A one-line HttpError for an error response (``tries``: how often the request was
        sent, when it was tried again)."""
        code, message = error_of(response, self.redact)
        status = response.status_code
        reason = response.reason or ""
        if status == 401:
            what = "the service refused the sign-in (401)"
            if self.auth.refresh_failure:  # (the renewal's reason first: it is the cause)
                message = (f"{message.rstrip('.')}; renewing it failed: "
                           f"{self.auth.refresh_failure}") if message else \
                    f"renewing it failed: {self.auth.refresh_failure}"
        elif status == 403:
            what = "access denied (403)"
        else:
            what = f"{status} {reason}".strip()
        detail = f": {message}" if message and message not in what else ""
        text = self.redact(after_tries(f"{method} {safe_url(url)}: {what}{detail}", tries))
        return HttpError(text, status, code, self.redact(message))

    def get_json(self, url: str, headers: dict[str, str] | None = None) -> Any:
        """GET and parse a JSON body (decimals kept exact)."""
        response = self.request("GET", url, headers=headers)
        return self.json_of("GET", url, response)

    def get_collection(self, url: str, headers: dict[str, str] | None = None,
                       needs: Collection[str] = (), hint: str = "") -> dict[str, Any]:
        """GET a collection (a page, or metadata), its shape checked (``collection``)."""
        return collection(url, self.get_json(url, headers), needs, hint)

    def json_of(self, method: str, url: str, response: requests.Response) -> Any:
        """The JSON body of a response, or a ConnectError saying it is not JSON."""
        try:
            body = loads(response.content)
        except ValueError:
            kind = response.headers.get("Content-Type", "no content type")
            # once the service has answered JSON, another page in its place is not its own
            hint = "a proxy's page in place of the service's answer?" if self.json_seen else \
                "is URL an OData service?"
            raise ConnectError(
                f"{method} {safe_url(url)}: expected JSON, got {kind} ({hint})") from None
        self.json_seen = True
        return body

