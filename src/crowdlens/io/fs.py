"""Local paths and object-store URLs (``s3://bucket/key``) behind one interface.

URLs go through fsspec (s3fs for S3), which takes credentials and the endpoint
from the standard AWS environment and config files (``AWS_ACCESS_KEY_ID``,
``AWS_PROFILE``, ``AWS_ENDPOINT_URL``, ``~/.aws/config``...). On a cluster the
executors need the same variables: pass them with
``--conf spark.executorEnv.AWS_ACCESS_KEY_ID=...`` or an instance role.
"""

from __future__ import annotations

from typing import Any

from crowdlens.errors import CrowdlensError


def is_url(path: str) -> bool:
    return "://" in str(path)


def filesystem(url: str) -> tuple[Any, str]:
    """The fsspec filesystem for ``url`` and the path inside it."""
    try:
        import fsspec
    except ImportError:  # pragma: no cover - fsspec is a dependency
        raise CrowdlensError("Reading URLs needs fsspec: pip install fsspec s3fs") from None
    try:
        fs, path = fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as exc:
        raise CrowdlensError(
            f"Cannot open {url!r}: {exc}. For s3:// URLs install s3fs (pip install s3fs)."
        ) from None
    return fs, path


def join(base: str, *parts: str) -> str:
    return "/".join([base.rstrip("/"), *[p.strip("/") for p in parts]])


def url_of(fs: Any, path: str) -> str:
    """A full URL for ``path`` inside ``fs`` (fsspec strips the protocol)."""
    proto = fs.protocol[0] if isinstance(fs.protocol, tuple | list) else fs.protocol
    return path if is_url(path) else f"{proto}://{path}"
