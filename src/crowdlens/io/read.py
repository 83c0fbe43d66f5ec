"""Reading photo files on the workers: the one door from a path to its bytes.

The Spark stages that use it (``read``, ``hash``) live in
:mod:`crowdlens.stages.read`; report, review and release read single photos
through :func:`read_file` too.

With an :class:`~crowdlens.io.confine.InputPolicy` (every read of an input
photo passes one), a path is checked by :func:`~crowdlens.io.confine.confine`
before anything is opened or requested: a refused path is a reason, never a
read. Failures are reasons too (``(None, reason)``), so a bad row never fails
the job.
"""

from __future__ import annotations

from typing import BinaryIO

from crowdlens.io.confine import InputPolicy, confine
from crowdlens.io.fs import is_url


def _open(path: str) -> BinaryIO:
    if is_url(path):
        import fsspec

        return fsspec.open(path, "rb").open()
    return open(path, "rb")  # the caller closes it


def read_file(
    path: str | None, max_bytes: int, policy: InputPolicy | None = None
) -> tuple[bytes | None, str | None]:
    """Read one photo's bytes; on failure (or refusal by ``policy``) ``(None, reason)``."""
    if not path:
        return None, "the manifest row has no path; fill in the photo's path"
    if policy is not None:
        target, refused = confine(path, policy)
        if target is None:
            return None, refused
        path = target
    try:
        with _open(path) as fh:
            data = fh.read(max_bytes + 1)
    except FileNotFoundError:
        return None, (
            f"file not found: {path} (check the path; relative manifest paths resolve "
            "against the manifest's folder)"
        )
    except IsADirectoryError:
        return None, f"is a folder, not a photo: {path}"
    except PermissionError:
        return None, f"permission denied reading {path}; make the file readable"
    except OSError as exc:
        return None, f"cannot read {path}: {exc.strerror or exc}"
    except Exception as exc:
        return None, f"cannot read {path}: {type(exc).__name__}: {exc}"
    if len(data) > max_bytes:
        return None, (
            f"file larger than {max_bytes / 1e6:.0f} MB (decode.max_file_mb): refused; "
            "raise the limit if such files are legitimate"
        )
    return data, None


def file_sha256(path: str | None, max_bytes: int, policy: InputPolicy | None = None) -> str | None:
    """The sha256 of a file, streamed (no copy kept); None when it cannot be read."""
    import hashlib

    if not path:
        return None
    if policy is not None:
        target, _refused = confine(path, policy)
        if target is None:
            return None  # the read stage reports the refusal
        path = target
    h = hashlib.sha256()
    size = 0
    try:
        with _open(path) as fh:
            while chunk := fh.read(1 << 20):
                size += len(chunk)
                if size > max_bytes:
                    return None
                h.update(chunk)
    except Exception:
        return None  # the read stage reports why, when the photo is processed
    return h.hexdigest()
