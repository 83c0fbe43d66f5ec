"""HTTP plumbing of the review server: parsing, authentication, routing, hardening.

Every malformed request gets a 4xx with a JSON message, before or after
authentication (a non-ASCII token, too many query fields, a bad
Content-Length, a body that is not JSON, a huge body); an unexpected error
is logged and answered with a 500, never with a traceback or an empty reply.
"""

from __future__ import annotations

import json
import logging
import mimetypes
import re
import urllib.parse
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from importlib import resources
from typing import TYPE_CHECKING, Any

from crowdlens.review import api
from crowdlens.review.api import BadRequest
from crowdlens.review.photos import inside

if TYPE_CHECKING:  # pragma: no cover
    from crowdlens.review.server import ReviewServer

log = logging.getLogger(__name__)

STATIC = {"app.js": "text/javascript", "app.css": "text/css"}
SERVED_SUFFIXES = (".html", ".jpg", ".jpeg", ".png", ".webp", ".csv")
MAX_QUERY_FIELDS = 20
CSP_APP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)
# The report is a static file with inline styles and data: images, and no script.
CSP_FILE = "default-src 'none'; img-src data: 'self'; style-src 'unsafe-inline'"
_TOKEN_IN_LOG = re.compile(r"token=[^&\s\"]*")


class Handler(BaseHTTPRequestHandler):
    server: ReviewServer
    server_version = "crowdlens-review"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    # A garbage request line (a TLS handshake, say) still gets a status line.
    default_request_version = "HTTP/1.0"

    # --- plumbing -----------------------------------------------------------

    def log_message(self, format: str, *args: Any) -> None:
        # Never log a token (the first request carries one in its query string).
        log.debug("%s %s", self.address_string(), _TOKEN_IN_LOG.sub("token=<token>", format % args))

    def _send(
        self, status: int, body: bytes, ctype: str, headers: dict[str, str] | None = None
    ) -> None:
        headers = dict(headers or {})
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cache-Control", headers.pop("cache", "no-store"))
        self.send_header("Content-Security-Policy", headers.pop("csp", CSP_APP))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The standard library's own errors (bad request line, headers) as JSON too."""
        self.close_connection = True
        self._error(code, message or HTTPStatus(code).phrase)

    def _json(self, status: int, obj: Any) -> None:
        body = json.dumps(obj, separators=(",", ":")).encode("utf-8")
        self._send(status, body, "application/json; charset=utf-8")

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": message})

    def _safely(self, work: Any) -> None:
        try:
            work()
        except BadRequest as exc:
            if self.command == "POST":
                self.close_connection = True  # the body may be unread
            self._error(exc.status, str(exc))
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception:
            log.exception("review server: unexpected error on %s", self.command)
            self.close_connection = True
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error (see the server log)")

    # --- authentication -----------------------------------------------------

    def _parse(self) -> tuple[str, dict[str, list[str]]]:
        parsed = urllib.parse.urlsplit(self.path)
        try:
            query = urllib.parse.parse_qs(
                parsed.query, max_num_fields=MAX_QUERY_FIELDS, errors="strict"
            )
        except ValueError:
            raise BadRequest(
                HTTPStatus.BAD_REQUEST,
                f"the query string is malformed or has more than {MAX_QUERY_FIELDS} fields",
            ) from None
        return urllib.parse.unquote(parsed.path, errors="strict"), query

    def _cookie_token(self) -> str:
        for part in self.headers.get("Cookie", "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == self.server.cookie_name:
                return value
        return ""

    def _authenticate(self) -> tuple[str, dict[str, list[str]], str] | None:
        """``(path, query, reviewer)``, or None when the response is already sent."""
        try:
            path, query = self._parse()
        except UnicodeDecodeError:
            raise BadRequest(HTTPStatus.BAD_REQUEST, "the path is not valid UTF-8") from None
        reviewer = self.server.store.reviewer_for(self._cookie_token())
        if reviewer is not None:
            return path, query, reviewer
        given = (query.get("token") or [""])[0]
        if not given or self.server.store.reviewer_for(given) is None:
            raise BadRequest(
                HTTPStatus.UNAUTHORIZED,
                "Missing or wrong token: open the URL printed by 'crowdlens review' or the "
                "token 'crowdlens review add-reviewer' gave you (…/?token=...).",
            )
        rest = urllib.parse.urlencode(
            [(k, v) for k, vs in query.items() if k != "token" for v in vs]
        )
        cookie = f"{self.server.cookie_name}={given}; HttpOnly; SameSite=Strict; Path=/"
        location = urllib.parse.quote(path) + (f"?{rest}" if rest else "")
        self._send(
            HTTPStatus.SEE_OTHER, b"", "text/plain", {"Location": location, "Set-Cookie": cookie}
        )
        return None

    # --- GET ----------------------------------------------------------------

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        self._safely(self._get)

    def _get(self) -> None:
        auth = self._authenticate()
        if auth is None:
            return
        path, query, reviewer = auth
        if path in ("/", "/index.html"):
            self._static("index.html", "text/html; charset=utf-8")
        elif path.startswith("/static/"):
            name = path.removeprefix("/static/")
            if name not in STATIC:
                raise BadRequest(HTTPStatus.NOT_FOUND, f"no static file {name!r}")
            self._static(name, STATIC[name] + "; charset=utf-8")
        elif path == "/api/session":
            self._json(HTTPStatus.OK, api.session(self.server, reviewer))
        elif path == "/api/queue":
            self._json(HTTPStatus.OK, api.page(self.server, query, reviewer))
        elif path.startswith("/api/item/"):
            self._json(
                HTTPStatus.OK, api.item(self.server, path.removeprefix("/api/item/"), reviewer)
            )
        elif path == "/api/audit.csv":
            body = api.audit_csv(self.server)
            headers = {"Content-Disposition": 'attachment; filename="review_audit.csv"'}
            self._send(HTTPStatus.OK, body, "text/csv; charset=utf-8", headers)
        elif path.startswith("/photo/"):
            self._photo(path.removeprefix("/photo/"), query)
        elif path.startswith("/files/"):
            self._file(path.removeprefix("/files/"))
        else:
            raise BadRequest(HTTPStatus.NOT_FOUND, f"no page {path!r}")

    def _static(self, name: str, ctype: str) -> None:
        body = resources.files("crowdlens.review").joinpath("static", name).read_bytes()
        self._send(HTTPStatus.OK, body, ctype)

    def _photo(self, image_id: str, query: dict[str, list[str]]) -> None:
        variant = (query.get("v") or ["thumb"])[0]
        body, ctype, note = api.photo(self.server, image_id, variant)
        headers = {"cache": "private, max-age=300"}
        if note:
            headers["X-Crowdlens-Placeholder"] = note.encode("ascii", "replace").decode()
        self._send(HTTPStatus.OK, body, ctype, headers)

    def _file(self, rel: str) -> None:
        base = self.server.dir
        target = None
        if "\x00" not in rel and not isinstance(base, str):
            target = inside(base / rel, [base])
        if target is None or not target.name.lower().endswith(SERVED_SUFFIXES):
            raise BadRequest(
                HTTPStatus.FORBIDDEN, "only result files inside the results folder are served"
            )
        ctype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        self._send(HTTPStatus.OK, target.read_bytes(), ctype, {"csp": CSP_FILE})

    # --- POST ---------------------------------------------------------------

    def do_POST(self) -> None:
        self._safely(self._post)

    def _body(self) -> Any:
        length = self.headers.get("Content-Length")
        if length is None or not length.isascii() or not length.isdigit():
            self.close_connection = True
            raise BadRequest(HTTPStatus.LENGTH_REQUIRED, "a Content-Length header is required")
        if int(length) > self.server.cfg.max_body_bytes:
            self.close_connection = True  # the body is not read: drop the connection
            raise BadRequest(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"request body of {length} bytes is above the limit of "
                f"{self.server.cfg.max_body_bytes}",
            )
        body = self.rfile.read(int(length))
        if not self.headers.get("Content-Type", "").startswith("application/json"):
            raise BadRequest(
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send JSON (Content-Type: application/json)"
            )
        origin = self.headers.get("Origin")
        if origin and origin != f"http://{self.headers.get('Host', '')}":
            raise BadRequest(HTTPStatus.FORBIDDEN, "cross-origin requests are refused")
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise BadRequest(HTTPStatus.BAD_REQUEST, "the body is not valid JSON") from None

    def _post(self) -> None:
        auth = self._authenticate()
        if auth is None:
            return
        path, _, reviewer = auth
        data = self._body()
        if path == "/api/decide":
            self._json(HTTPStatus.OK, api.decide(self.server, data, reviewer))
        elif path == "/api/undo":
            self._json(HTTPStatus.OK, api.undo(self.server, data, reviewer))
        else:
            raise BadRequest(HTTPStatus.NOT_FOUND, f"no action {path!r}")

    # --- everything else ----------------------------------------------------

    def _not_allowed(self) -> None:
        self.close_connection = True
        self._error(HTTPStatus.METHOD_NOT_ALLOWED, "only GET and POST are served")

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _not_allowed
