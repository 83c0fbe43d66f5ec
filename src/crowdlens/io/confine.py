"""Input confinement: which photo paths a job may read at all.

A manifest is data from outside; it must not make the workers read any file
or URL it names. Every photo path goes through :func:`confine` on the worker,
right before it is read (``io/read.py``), and a refused path becomes an
``error`` row whose reason says what to change. The job goes on.

The rules (config section ``[ingest]``, flags of ``crowdlens moderate``):

* ``file://`` URLs are local paths (``file:///data/a.jpg`` is ``/data/a.jpg``).
* Object stores (``s3://``, ``gs://``, ``az://``, ...) are read as before.
* Every other scheme (``http``, ``https``, ``ftp``, fsspec chains such as
  ``simplecache::http://``) is refused unless ``allow_remote = true``
  (``--allow-remote``): a URL in a manifest would make every worker send a
  request of the manifest author's choosing (server-side request forgery; on
  a cloud cluster that reaches the instance-metadata service).
* With ``allowed_roots`` (``--allowed-root``, repeatable), every path must lie
  inside one of them, after ``..`` and symlinks are resolved; a URL must start
  with an allowed URL prefix.
* Without ``allowed_roots``, local paths must lie inside the input's own
  folder tree (the manifest's folder, or the photo folder) unless
  ``confine_to_input = false`` (``--no-confine``): a manifest from a
  contributor cannot reach ``../../../../etc/passwd`` by default.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

#: fsspec protocols of object stores: read without ``allow_remote``.
OBJECT_STORE_SCHEMES = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl"})

FIX_ROOT = "list the folder with --allowed-root (or [ingest] allowed_roots)"


@dataclass(frozen=True)
class InputPolicy:
    """What the workers may read: built once on the driver, shipped with the stage.

    ``roots`` are resolved local folders and URL prefixes; an empty tuple
    means "anywhere" (only when confinement was switched off).
    """

    roots: tuple[str, ...] = ()
    allow_remote: bool = False
    default_root: bool = False  # the roots are the input's own folder, not the user's list

    def describe(self) -> str:
        where = ", ".join(self.roots)
        return f"the input's folder {where}" if self.default_root else f"the allowed roots {where}"


def scheme_of(path: str) -> str | None:
    """The URL scheme of ``path`` (lower case), or None for a plain path.

    >>> scheme_of("S3://bucket/a.jpg"), scheme_of("/data/a.jpg"), scheme_of("c::http://x")
    ('s3', None, 'c::http')
    """
    head, sep, _ = path.partition("://")
    return head.lower() if sep else None


def file_url_path(url: str) -> str:
    """``file:///a%20b.jpg`` -> ``/a b.jpg`` (``file://localhost/x`` too)."""
    return unquote(urlparse(url).path)


def resolve_root(root: str) -> str:
    """An allowed root as compared: a resolved local folder, or a URL prefix."""
    scheme = scheme_of(root)
    if scheme == "file":
        root = file_url_path(root)
    elif scheme is not None:
        return root.rstrip("/") + "/"
    return os.path.realpath(os.path.expanduser(root))


def make_policy(
    allowed_roots: tuple[str, ...], allow_remote: bool, confine_to_input: bool, input_root: str
) -> InputPolicy:
    """The policy of one job: the user's roots, else the input's folder, else none."""
    if allowed_roots:
        roots = tuple(resolve_root(r) for r in allowed_roots)
        return InputPolicy(roots, allow_remote)
    if confine_to_input and scheme_of(input_root) is None:
        return InputPolicy((resolve_root(input_root),), allow_remote, default_root=True)
    return InputPolicy((), allow_remote)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _confine_url(path: str, scheme: str, policy: InputPolicy) -> tuple[str | None, str | None]:
    if scheme not in OBJECT_STORE_SCHEMES and not policy.allow_remote:
        return None, (
            f"refused: {scheme}:// URLs are not read unless remote input is enabled ({path}); "
            "copy the photo to local or object storage, or pass --allow-remote "
            "([ingest] allow_remote = true) if this source is trusted"
        )
    url_roots = [r for r in policy.roots if scheme_of(r) is not None]
    if policy.roots and not policy.default_root:
        head, _, key = path.partition("://")
        normal = f"{head.lower()}://{posixpath.normpath(key)}"
        if not any(normal.startswith(r) for r in url_roots):
            return None, (
                f"refused: {path} is outside {policy.describe()}; {FIX_ROOT} or fix the path"
            )
        return normal, None
    return path, None


def confine(path: str, policy: InputPolicy) -> tuple[str | None, str | None]:
    """``(what to read, None)`` for an allowed path, ``(None, reason)`` for a refused one.

    Local paths come back resolved (``..`` and symlinks followed), so what is
    checked is what is read.

    >>> confine("http://127.0.0.1:8000/x.jpg", InputPolicy())[1].split(":")[0]
    'refused'
    >>> confine("file:///tmp/../tmp/a.jpg", InputPolicy())
    ('/tmp/a.jpg', None)
    """
    scheme = scheme_of(path)
    if scheme == "file":
        path = file_url_path(path)
    elif scheme is not None:
        return _confine_url(path, scheme, policy)
    resolved = os.path.realpath(path)
    local_roots = [r for r in policy.roots if scheme_of(r) is None]
    if policy.roots and not any(_inside(resolved, r) for r in local_roots):
        fix = (
            f"keep manifest paths inside the manifest's folder, {FIX_ROOT}, or pass --no-confine"
            if policy.default_root
            else f"{FIX_ROOT} or fix the path"
        )
        return None, f"refused: {path} resolves to {resolved}, outside {policy.describe()}; {fix}"
    return resolved, None
