"""The review web app: a small local HTTP server over a results folder.

Built on the standard library's ``ThreadingHTTPServer``: the app has a
handful of routes and one user at a time, so a web framework would add a
dependency (and its own attack surface) without removing any code we need.

Security model (a reviewer's own machine, photos from strangers):

* binds 127.0.0.1 by default;
* a random token, printed at start, is required on every request: the first
  ``?token=`` visit sets an HttpOnly, SameSite=Strict cookie and redirects to
  a URL without it; POSTs also need ``Content-Type: application/json``, which
  a cross-site form cannot send;
* the browser never receives HTML built from photo strings: the page is
  static and the script writes every label, reason and OCR text with
  ``textContent``; a strict Content-Security-Policy forbids inline script;
* photos are addressed by ``image_id``, files by a path that must resolve
  (symlinks included) inside the results folder or an explicitly allowed
  photo root; anything else is refused;
* request bodies are limited (``max_body_bytes``) and photos are re-encoded
  (downscaled, without metadata) before they are sent.
"""

from __future__ import annotations

import hmac
import json
import logging
import mimetypes
import secrets
import threading
import urllib.parse
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any

from crowdlens import schema as S
from crowdlens.config import check
from crowdlens.errors import CrowdlensError
from crowdlens.report.results import results_path
from crowdlens.review import queue as Q
from crowdlens.review.photos import inside, render_photo
from crowdlens.review.store import ACTIONS, DB_NAME, DecisionStore

log = logging.getLogger(__name__)

STATIC = {"app.js": "text/javascript", "app.css": "text/css"}
SERVED_SUFFIXES = (".html", ".jpg", ".jpeg", ".png", ".webp", ".csv")
MAX_LABEL = 200
CSP_APP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)
# The report is a static file with inline styles and data: images, and no script.
CSP_FILE = "default-src 'none'; img-src data: 'self'; style-src 'unsafe-inline'"


@dataclass(frozen=True)
class ReviewConfig:
    """How the review server listens (config file section ``[review]``).

    ``photo_roots`` are extra folders whose photos may be served (the input
    folder of the run, typically); by default only the results folder is.

    Example::

        serve("out/run1", ReviewConfig(port=9000, photo_roots=("photos",)))
    """

    host: str = "127.0.0.1"
    port: int = 8765
    token: str | None = None
    photo_roots: tuple[str, ...] = ()
    max_body_bytes: int = 16_384
    preview_px: int = 1280

    def __post_init__(self) -> None:
        check(self, "host", bool(self.host), "a host name or IP address such as 127.0.0.1")
        check(self, "port", 0 <= self.port <= 65535, "an int in [0, 65535] (0 = any free port)")
        check(
            self,
            "token",
            self.token is None or len(self.token) >= 16,
            "a string of at least 16 characters (or unset for a random one)",
        )
        check(
            self,
            "max_body_bytes",
            256 <= self.max_body_bytes <= 1_048_576,
            "an int in [256, 1048576]",
        )
        check(self, "preview_px", 64 <= self.preview_px <= 8192, "an int in [64, 8192]")


class ReviewServer(ThreadingHTTPServer):
    """The HTTP server plus the state its handlers share."""

    daemon_threads = True

    def __init__(self, results_dir: str | Path, cfg: ReviewConfig) -> None:
        self.cfg = cfg
        src = results_path(results_dir)
        self.dir = (src.parent if src.name.endswith(".parquet") else src).resolve()
        self.results = src
        self.token = cfg.token or secrets.token_urlsafe(24)
        self.roots = [self.dir, *(Path(r).resolve() for r in cfg.photo_roots)]
        self.items = Q.load_queue(src)
        self.by_id = {str(it[S.IMAGE_ID]): it for it in self.items}
        self.labels = Q.known_labels(self.items)
        self.store = DecisionStore(self.dir / DB_NAME)
        self.lock = threading.Lock()
        try:
            super().__init__((cfg.host, cfg.port), Handler)
        except OSError as exc:
            self.store.close()
            raise CrowdlensError(
                f"Cannot listen on {cfg.host}:{cfg.port}: {exc.strerror or exc}. "
                "Pick another --port (0 picks a free one)."
            ) from None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/?token={self.token}"

    @property
    def cookie_name(self) -> str:
        # Cookies are not port-scoped: one name per port keeps two servers apart.
        return f"crowdlens_review_{self.server_address[1]}"

    def server_close(self) -> None:
        super().server_close()
        self.store.close()


class Handler(BaseHTTPRequestHandler):
    server: ReviewServer
    server_version = "crowdlens-review"
    sys_version = ""
    protocol_version = "HTTP/1.1"

    # --- plumbing -----------------------------------------------------------

    def log_message(self, format: str, *args: Any) -> None:
        # Never log the token (it is in the first request's query string).
        msg = format % args
        log.debug("%s %s", self.address_string(), msg.replace(self.server.token, "<token>"))

    def _send(
        self, status: int, body: bytes, ctype: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Security-Policy", (headers or {}).pop("csp", CSP_APP))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, obj: Any) -> None:
        self._send(status, json.dumps(obj).encode("utf-8"), "application/json; charset=utf-8")

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": message})

    def _authorized(self, query: dict[str, list[str]]) -> bool | None:
        """True with the cookie; None when a valid ?token= needs turning into a cookie."""
        token = self.server.token
        cookies = self.headers.get("Cookie", "")
        for part in cookies.split(";"):
            name, _, value = part.strip().partition("=")
            if name == self.server.cookie_name and hmac.compare_digest(value, token):
                return True
        given = (query.get("token") or [""])[0]
        if given and hmac.compare_digest(given, token):
            return None
        return False

    def _route(self) -> tuple[str, dict[str, list[str]]] | None:
        parsed = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(parsed.query, max_num_fields=20)
        auth = self._authorized(query)
        if auth is False:
            self._error(
                HTTPStatus.UNAUTHORIZED,
                "Missing or wrong token: open the URL printed by 'crowdlens review' "
                "(it ends with ?token=...).",
            )
            return None
        if auth is None:
            rest = urllib.parse.urlencode(
                [(k, v) for k, vs in query.items() if k != "token" for v in vs]
            )
            location = parsed.path + (f"?{rest}" if rest else "")
            cookie = (
                f"{self.server.cookie_name}={self.server.token}; HttpOnly; SameSite=Strict; Path=/"
            )
            self._send(
                HTTPStatus.SEE_OTHER,
                b"",
                "text/plain",
                {"Location": location, "Set-Cookie": cookie},
            )
            return None
        return parsed.path, query

    # --- GET ----------------------------------------------------------------

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        routed = self._route()
        if routed is None:
            return
        path, query = routed
        try:
            if path in ("/", "/index.html"):
                self._static("index.html", "text/html; charset=utf-8")
            elif path.startswith("/static/"):
                name = path.removeprefix("/static/")
                if name not in STATIC:
                    self._error(HTTPStatus.NOT_FOUND, f"no static file {name!r}")
                else:
                    self._static(name, STATIC[name] + "; charset=utf-8")
            elif path == "/api/queue":
                self._queue(query)
            elif path.startswith("/photo/"):
                self._photo(urllib.parse.unquote(path.removeprefix("/photo/")), query)
            elif path.startswith("/files/"):
                self._file(urllib.parse.unquote(path.removeprefix("/files/")))
            else:
                self._error(HTTPStatus.NOT_FOUND, f"no page {path!r}")
        except BrokenPipeError:
            pass

    def _static(self, name: str, ctype: str) -> None:
        body = resources.files("crowdlens.review").joinpath("static", name).read_bytes()
        self._send(HTTPStatus.OK, body, ctype)

    def _queue(self, query: dict[str, list[str]]) -> None:
        def q(name: str) -> str:
            return (query.get(name) or [""])[0][:MAX_LABEL]

        decided = {k: v.__dict__ for k, v in self.server.store.latest().items()}
        show = q("show") or "pending"
        items = []
        for it in self.server.items:
            if not Q.matches(it, label=q("label"), reason=q("reason"), country=q("country")):
                continue
            d = decided.get(str(it[S.IMAGE_ID]))
            if show == "pending" and d is not None:
                continue
            items.append({**it, "review": d})
        self._json(
            HTTPStatus.OK,
            {
                "items": items,
                "total": len(self.server.items),
                "decided": sum(1 for k in decided if k in self.server.by_id),
                "facets": Q.facets(self.server.items),
                "labels": self.server.labels,
            },
        )

    def _photo(self, image_id: str, query: dict[str, list[str]]) -> None:
        item = self.server.by_id.get(image_id)
        if item is None:
            self._error(HTTPStatus.NOT_FOUND, f"no photo {image_id!r} in the review queue")
            return
        variant = (query.get("v") or ["original"])[0]
        if variant not in ("original", "blur"):
            self._error(HTTPStatus.BAD_REQUEST, "v must be 'original' or 'blur'")
            return
        try:
            body = render_photo(
                item, variant, self.server.dir, self.server.roots, self.server.cfg.preview_px
            )
        except PermissionError as exc:
            self._error(HTTPStatus.FORBIDDEN, str(exc))
            return
        except (OSError, ValueError) as exc:
            self._error(HTTPStatus.NOT_FOUND, str(exc))
            return
        self._send(HTTPStatus.OK, body, "image/jpeg")

    def _file(self, rel: str) -> None:
        target = inside(self.server.dir / rel, [self.server.dir]) if "\x00" not in rel else None
        if target is None or not target.name.lower().endswith(SERVED_SUFFIXES):
            self._error(
                HTTPStatus.FORBIDDEN, "only result files inside the results folder are served"
            )
            return
        ctype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        self._send(HTTPStatus.OK, target.read_bytes(), ctype, {"csp": CSP_FILE})

    # --- POST ---------------------------------------------------------------

    def do_POST(self) -> None:
        routed = self._route()
        if routed is None:
            return
        path, _ = routed
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self.close_connection = True
            self._error(HTTPStatus.LENGTH_REQUIRED, "a Content-Length header is required")
            return
        if int(length) > self.server.cfg.max_body_bytes:
            self.close_connection = True  # the body is not read: drop the connection
            self._error(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"request body of {length} bytes is above the limit of {self.server.cfg.max_body_bytes}",
            )
            return
        body = self.rfile.read(int(length))
        if not self.headers.get("Content-Type", "").startswith("application/json"):
            self._error(
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send JSON (Content-Type: application/json)"
            )
            return
        if path != "/api/decide":
            self._error(HTTPStatus.NOT_FOUND, f"no action {path!r}")
            return
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            self._error(HTTPStatus.BAD_REQUEST, "the body is not valid JSON")
            return
        self._decide(data)

    def _decide(self, data: Any) -> None:
        if not isinstance(data, dict):
            self._error(HTTPStatus.BAD_REQUEST, "send a JSON object with image_id and action")
            return
        image_id, action, label = data.get("image_id"), data.get("action"), data.get("label")
        if not isinstance(image_id, str) or image_id not in self.server.by_id:
            self._error(HTTPStatus.BAD_REQUEST, "image_id is not a photo of the review queue")
            return
        if action not in ACTIONS:
            self._error(HTTPStatus.BAD_REQUEST, f"action must be one of {', '.join(ACTIONS)}")
            return
        if action == "relabel":
            if not isinstance(label, str) or not label.strip() or len(label) > MAX_LABEL:
                self._error(
                    HTTPStatus.BAD_REQUEST, f"relabel needs a label of 1-{MAX_LABEL} characters"
                )
                return
            if any(ord(c) < 32 for c in label):
                self._error(HTTPStatus.BAD_REQUEST, "the label contains control characters")
                return
            label = label.strip()
        decision = self.server.store.record(
            image_id, action, label if action == "relabel" else None
        )
        self._json(HTTPStatus.OK, {"ok": True, "review": decision.__dict__})


def make_server(results_dir: str | Path, cfg: ReviewConfig | None = None) -> ReviewServer:
    """A ready (not yet serving) review server; call ``serve_forever()`` on it.

    Example::

        server = make_server("out/run1", ReviewConfig(port=0))
        print(server.url)
        server.serve_forever()
    """
    return ReviewServer(results_dir, cfg or ReviewConfig())


def serve(results_dir: str | Path, cfg: ReviewConfig | None = None) -> None:
    """Serve the review app until interrupted, printing the URL with its token."""
    server = make_server(results_dir, cfg)
    print(
        f"crowdlens review: {len(server.items)} photos to review in {server.dir}\n"
        f"open {server.url}\n(the token is required; press Ctrl+C to stop)",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
