"""The HTTP server and the Emulator facade tests, benchmarks and the CLI use."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import ssl
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from .errors import NOT_AUTHENTICATED, REQUEST_LIMIT, ODataError
from .faults import Faults, Limits
from .http_types import Headers, Request, Response, error_response
from .idp import DEFAULT_PUBLIC_CLIENTS, IdentityProvider
from .paging import DeltaTokens
from .seed import seed_store
from .store import Store
from .webapi import WebApi

FAKE_LOGIN_HOST = "https://login.fake.test"
DEFAULT_TENANT = "5f0c2b1e-7d3a-4c8e-9b6f-1a2d3e4f5a6b"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], emulator: Emulator,
                 tls: ssl.SSLContext | None) -> None:
        self.emulator = emulator
        self.tls = tls
        super().__init__(address, _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.tls is not None:
            try:
                request = self.tls.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return
        super().finish_request(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "l2tui-emulator"
    disable_nagle_algorithm = True
    server: _Server

    def version_string(self) -> str:
        """The Server header."""
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Stay quiet (and never log a token)."""

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        split = urlsplit(self.path)
        req = Request(
            method=self.command,
            path=unquote(split.path),
            query=split.query,
            headers=Headers(list(self.headers.items())),
            body=self._read_body(),
        )
        try:
            resp, drop = self.server.emulator.respond(req)
        except Exception as exc:  # a bug in the emulator: answer 500 rather than hang up
            detail = f"Emulator error: {type(exc).__name__}: {exc}"
            resp, drop = (self.server.emulator.idp.unavailable(500, detail=detail)
                          if self.server.emulator.idp.handles(req.path) else
                          error_response(ODataError(500, "0x80040216", detail))), False
        self.send_response(resp.status)
        for name, value in resp.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(resp.body)))
        if drop:
            self.send_header("Connection", "close")
        self.end_headers()
        if drop:
            self.wfile.write(resp.body[: len(resp.body) // 2])
            self.wfile.flush()
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        if self.command != "HEAD" and resp.body:
            self.wfile.write(resp.body)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = _handle


class Emulator:
    """A Dataverse Web API plus identity provider on 127.0.0.1, for tests, demos and benches."""

    def __init__(
        self,
        rows: int = 1000,
        seed: int = 1,
        auth: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: bool = False,
        contacts: int | None = None,
        tenant: str | None = None,
        users: dict[str, str] | None = None,
        clients: dict[str, str] | None = None,
        public_clients: Iterable[str] = (),
    ) -> None:
        self.host, self.port, self.tls, self.auth = host, port, tls, auth
        self.tenant = tenant or ("adfs" if tls else DEFAULT_TENANT)
        self.store = Store()
        seed_store(self.store, rows, seed, contacts)
        self.tokens = DeltaTokens()
        self.api = WebApi(self.store, self.tokens)
        self.idp = IdentityProvider(DEFAULT_TENANT)
        if users:
            self.idp.users = dict(users)
        if clients:
            self.idp.clients = dict(clients)
        self.idp.public_clients.update(public_clients)  # (more app ids for user sign-in)
        self.faults = Faults()
        self.limits = Limits()
        self._count_lock = threading.Lock()
        self.request_count = 0
        # the latest requests as they arrived ("METHOD /path?query"), for tests of their order
        self.recent_requests: deque[str] = deque(maxlen=1000)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._ca_dir: str | None = None
        self.ca_bundle: str | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> Emulator:
        """Bind and serve in a background thread (no-op if already serving)."""
        if self._server is not None:
            return self
        context = self._tls_context() if self.tls else None
        self._server = _Server((self.host, self.port), self, context)
        self.port = self._server.server_address[1]
        self.api.root_url = self.root_url
        self.idp.base = self.root_url if self.tls else FAKE_LOGIN_HOST
        self.idp.resource = self.root_url
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
            name="l2tui-emulator", daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._ca_dir is not None:
            shutil.rmtree(self._ca_dir, ignore_errors=True)
            self._ca_dir = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _tls_context(self) -> ssl.SSLContext:
        try:
            import trustme
        except ImportError as exc:  # pragma: no cover - trustme is a test dependency
            raise RuntimeError("Emulator(tls=True) needs the 'trustme' package") from exc
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(context)
        self._ca_dir = tempfile.mkdtemp(prefix="l2tui-emulator-")
        self.ca_bundle = os.path.join(self._ca_dir, "ca.pem")
        ca.cert_pem.write_to_path(self.ca_bundle)
        return context

    # -- addresses ------------------------------------------------------------------------

    @property
    def root_url(self) -> str:
        """`http://127.0.0.1:PORT` (https with tls=True)."""
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The Web API base URL, ending in `/api/data/v9.2/`."""
        return f"{self.root_url}/api/data/v9.2/"

    def url(self, path: str = "") -> str:
        """base_url + path."""
        return self.base_url + path

    @property
    def authority(self) -> str:
        """The MSAL authority of the fake identity provider."""
        if self.tls:
            return f"{self.root_url}/{self.tenant}"
        return f"{FAKE_LOGIN_HOST}/{self.tenant}"

    @property
    def scope(self) -> str:
        """The `.default` scope of the emulated organization."""
        return f"{self.root_url}/.default"

    def msal_http_client(self) -> Any:
        """A requests.Session for MSAL's http_client= that reaches the fake identity provider."""
        from .msal_support import rewriting_session

        return rewriting_session(FAKE_LOGIN_HOST, self.root_url, self.ca_bundle)

    # -- credentials ------------------------------------------------------------------------

    @property
    def username(self) -> str:
        """The default user."""
        return next(iter(self.idp.users))

    @property
    def password(self) -> str:
        """The default user's password."""
        return self.idp.users[self.username]

    @property
    def public_client_id(self) -> str:
        """The default app (client) id for user sign-in: Microsoft's public development client,
        l2tui's default ClientId."""
        return DEFAULT_PUBLIC_CLIENTS[0]

    @property
    def client_id(self) -> str:
        """The default confidential client id."""
        return next(iter(self.idp.clients))

    @property
    def client_secret(self) -> str:
        """The default confidential client's secret."""
        return self.idp.clients[self.client_id]

    def issue_token(self, username: str | None = None) -> str:
        """A valid bearer token without the MSAL dance."""
        return self.idp.issue_token(username or self.username)

    @property
    def token_lifetime(self) -> float:
        """Seconds an access token stays valid (applies to tokens already issued too)."""
        return self.idp.token_lifetime

    @token_lifetime.setter
    def token_lifetime(self, seconds: float) -> None:
        self.idp.token_lifetime = seconds

    def connection_string(self, entity_set: str = "accounts") -> str:
        """A connection string for l2tui pointing at an entity set of this emulator."""
        if not self.auth:
            return f"URL={self.base_url}{entity_set};Authentication=none;"
        return (f"URL={self.base_url}{entity_set};Authentication=microsoft_modern_crm;"
                f"User={self.username};Authority={self.authority};")

    # -- behaviour switches ---------------------------------------------------------------

    @property
    def mode(self) -> str:
        """'dataverse' (default) or 'generic' (plain OData v4 service)."""
        return self.api.mode

    @mode.setter
    def mode(self, value: str) -> None:
        if value not in ("dataverse", "generic"):
            raise ValueError("mode must be 'dataverse' or 'generic'")
        self.api.mode = value

    def expire_delta_tokens(self) -> None:
        """Make every delta link issued so far fail with ExpiredVersionStamp."""
        self.tokens.expire_all()

    # -- request pipeline -----------------------------------------------------------------

    def respond(self, req: Request) -> tuple[Response, bool]:
        """Answer one HTTP request; the flag asks the server to drop the connection."""
        with self._count_lock:
            self.request_count += 1
            self.recent_requests.append(f"{req.method} {req.path}?{req.query}")
        fault = self.faults.check(req.method, req.path, req.query)
        if fault is not None and fault.action == "delay":
            time.sleep(fault.seconds)
            fault = None
        if fault is not None and fault.action == "hold":
            assert fault.arrived is not None
            if not fault.arrived.wait(fault.seconds):
                self.faults.held_out()
            fault = None
        if fault is not None and fault.action == "fail_after":
            self.respond_unfaulted(req)
        if fault is not None and fault.action in ("fail", "fail_after"):
            if self.idp.handles(req.path):  # (as Entra answers: an OAuth error, not OData's)
                return self.idp.unavailable(fault.status, self.limits.retry_after), False
            if fault.status == 429:  # an injected throttle looks like service protection
                return error_response(ODataError(
                    429, REQUEST_LIMIT, "Number of requests exceeded the limit (injected fault).",
                    {"Retry-After": str(self.limits.retry_after)})), False
            return error_response(ODataError(fault.status, "0x80040216",
                                             "An unexpected error occurred (injected fault).")), False
        if fault is not None and fault.action == "garble":
            return Response(200, [("Content-Type", "text/html")],
                            b"<html><body>Proxy error</body></html>"), False
        if fault is not None and fault.action == "answer":
            return Response(fault.status, list(fault.headers), fault.body), False
        drop = fault is not None and fault.action == "drop"
        return self.respond_unfaulted(req, drop)

    def respond_unfaulted(self, req: Request, drop: bool = False) -> tuple[Response, bool]:
        """Answer one request as the service would (no injected fault)."""
        if self.idp.handles(req.path):
            return self.idp.handle(req), drop
        if not req.path.startswith("/api/"):
            return error_response(ODataError(404, "", f"No resource at '{req.path}'.")), drop
        if self.auth:
            denied = self._authenticate(req)
            if denied is not None:
                return denied, drop
        try:
            self.limits.enter()
        except ODataError as err:
            return error_response(err), drop
        try:
            return self.api.handle(req), drop
        finally:
            self.limits.leave()

    def _authenticate(self, req: Request) -> Response | None:
        header = req.headers.get("Authorization") or ""
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and self.idp.validate(token.strip()) is not None:
            return None
        message = "Bearer token is missing." if not header else (
            "The access token is invalid or has expired."
        )
        resp = error_response(ODataError(401, NOT_AUTHENTICATED if header else "", message))
        resp.headers.append((
            "WWW-Authenticate",
            f"Bearer authorization_uri={self.authority}/oauth2/authorize, "
            f"resource_id={self.root_url}/",
        ))
        return resp

    def serve_until_stopped(self, stop: threading.Event) -> None:
        """Block until the event is set (the CLI sets it on SIGINT/SIGTERM)."""
        while not stop.wait(0.5):
            pass
