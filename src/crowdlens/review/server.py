"""The review web app: a small HTTP server over a results folder, for a team of reviewers.

Built on the standard library's ``ThreadingHTTPServer``: a handful of JSON
routes and a static page, so a web framework would add a dependency (and its
own attack surface) without removing any code we need. The routes are in
:mod:`crowdlens.review.handler` (HTTP, authentication, hardening) and
:mod:`crowdlens.review.api` (what each route answers).

Security model (reviewers' own machines, photos from strangers):

* binds 127.0.0.1 by default; another address needs ``allow_remote=True``
  (``--allow-remote``) and prints a warning (plain HTTP);
* every reviewer has their own token (``crowdlens review add-reviewer``; only
  its SHA-256 is stored); the first ``?token=`` visit sets an HttpOnly,
  SameSite=Strict cookie and redirects to a URL without it; POSTs also need
  ``Content-Type: application/json`` and a same-origin ``Origin``;
* the page is static and its script writes every label, reason and OCR text
  with ``textContent``; a strict Content-Security-Policy forbids inline script;
* photos are addressed by ``image_id``; the grid shows only released copies
  confined to the results folder, originals only inside ``--photos-root``.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

from crowdlens.errors import CrowdlensError
from crowdlens.io.fs import is_url
from crowdlens.params import Interval, NonEmpty, OrNone, Params, Rule, Satisfies, validate
from crowdlens.review.location import results_folder, state_folder
from crowdlens.review.photos import PhotoCache
from crowdlens.review.queue import Queue
from crowdlens.review.store import DB_NAME, NAME_RE, DecisionStore

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{16,128}$")


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only.

    >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0")
    (True, True, False)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ReviewConfig:
    """How the review server listens and behaves (config file section ``[review]``).

    ``reviewer`` is who starts the server: they get a new token printed at
    start (unless ``token`` is given); other reviewers sign in with the tokens
    ``crowdlens review add-reviewer`` gave them. ``photo_roots`` are folders
    (or URL prefixes) whose originals the detail view may show.
    ``double_review`` is the share of photos two reviewers must decide.
    ``state_dir`` holds ``review.sqlite`` (default: the results folder; a
    local folder is required for ``s3://`` results, see :func:`state_folder`).

    Example::

        serve("out/run1", ReviewConfig(port=9000, photo_roots=("photos",)))
    """

    host: str = "127.0.0.1"
    port: int = 8765
    token: str | None = None
    reviewer: str = "reviewer"
    photo_roots: tuple[str, ...] = ()
    allow_remote: bool = False
    max_body_bytes: int = 65_536
    preview_px: int = 1280
    page_size: int = 60
    double_review: float = 0.0
    state_dir: str | None = None

    PARAMS: ClassVar[Params] = {
        "host": NonEmpty("host name or IP address such as 127.0.0.1"),
        "port": Interval(int, 0, 65535, note="0 = any free port"),
        "token": OrNone(
            Satisfies(lambda t: bool(TOKEN_RE.match(t)), "16-128 letters, digits, '-' or '_'"),
            "unset for a random one",
        ),
        "reviewer": Satisfies(lambda n: bool(NAME_RE.match(n)), "1-40 letters or digits"),
        "max_body_bytes": Interval(int, 256, 1_048_576),
        "preview_px": Interval(int, 64, 8192),
        "page_size": Interval(int, 1, 200),
        "double_review": Interval(float, 0, 1),
    }

    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            "host",
            lambda c: c.allow_remote or is_loopback(c.host),
            "a loopback address (127.0.0.1, ::1, localhost) unless allow_remote=True "
            "(--allow-remote): the app speaks plain HTTP",
        ),
    )

    def __post_init__(self) -> None:
        validate(self)


class ReviewServer(ThreadingHTTPServer):
    """The HTTP server plus the state its handlers share."""

    daemon_threads = True

    def __init__(self, results_dir: str | Path, cfg: ReviewConfig) -> None:
        from crowdlens.review.handler import Handler

        self.cfg = cfg
        self.results, self.dir = results_folder(results_dir)
        self.state_dir = state_folder(str(self.dir), cfg.state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.roots: list[str | Path] = [
            r if is_url(r) else Path(r).resolve() for r in cfg.photo_roots
        ]
        self.queue = Queue.load(self.results, double_fraction=cfg.double_review)
        self.store = DecisionStore(self.state_dir / DB_NAME)
        self.token = self.store.add_reviewer(cfg.reviewer, replace=True, token=cfg.token)
        self.cache = PhotoCache()
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

    def known_labels(self) -> list[str]:
        """Items a relabel may choose: the run's labels plus new items reviewers added."""
        extra = [x for x in self.store.new_items() if x not in self.queue.labels]
        return sorted([*self.queue.labels, *extra], key=str.casefold)

    def server_close(self) -> None:
        super().server_close()
        self.store.close()


def make_server(results_dir: str | Path, cfg: ReviewConfig | None = None) -> ReviewServer:
    """A ready (not yet serving) review server; call ``serve_forever()`` on it.

    Example::

        server = make_server("out/run1", ReviewConfig(port=0))
        print(server.url)
        server.serve_forever()
    """
    return ReviewServer(results_dir, cfg or ReviewConfig())


def serve(results_dir: str | Path, cfg: ReviewConfig | None = None) -> None:
    """Serve the review app until interrupted, printing the URL with the starter's token."""
    import sys

    server = make_server(results_dir, cfg)
    if not is_loopback(server.cfg.host):
        print(
            f"WARNING: listening on {server.cfg.host}, reachable from other machines over "
            "plain HTTP: tokens and photos cross the network unencrypted. Put a TLS proxy "
            "in front, or use 127.0.0.1 with an SSH tunnel.",
            file=sys.stderr,
            flush=True,
        )
    others = [r for r in server.store.reviewers() if r != server.cfg.reviewer]
    print(
        f"crowdlens review: {len(server.queue.rows)} photos to review in {server.dir}\n"
        f"decisions: {server.state_dir / DB_NAME}\n"
        f"open {server.url}  (reviewer {server.cfg.reviewer!r}; a new token each start)\n"
        + (
            f"other reviewers ({', '.join(others)}) sign in with their own token\n"
            if others
            else ""
        )
        + "(press Ctrl+C to stop)",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
