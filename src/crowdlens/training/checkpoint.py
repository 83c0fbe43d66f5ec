"""Checkpoints: written by rank 0, atomically; everything exact resume needs.

A checkpoint holds the model and optimiser state, the trainer state
(epoch, iteration, position in the epoch, metrics history) and the random
number generator states of every rank (torch, numpy, python), gathered to
rank 0. The data order is a pure function of (seed, epoch), so the position
in the epoch is enough to continue the same order.

Files are ``ckpt-<iteration>.pt``; they are written to a temporary file in the
same folder and renamed, so a run killed mid-write never leaves a torn file.

Example::

    path = save_checkpoint("ckpts", {"iteration": 10, ...}, keep=2)
    latest = find_latest("ckpts")       # "ckpts/ckpt-00000010.pt"
    state = load_checkpoint(latest)
"""

from __future__ import annotations

import os
import random
import re
from pathlib import Path
from typing import Any

from crowdlens.errors import CrowdlensError
from crowdlens.io.atomic import atomic_path

_NAME = re.compile(r"^ckpt-(\d+)\.pt$")


def rng_state() -> dict[str, Any]:
    """This process's random number generator states."""
    import numpy as np
    import torch

    return {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }


def set_rng_state(state: dict[str, Any]) -> None:
    import numpy as np
    import torch

    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])


def save_checkpoint(directory: str | os.PathLike[str], state: dict[str, Any], keep: int = 2) -> str:
    """Write ``state`` atomically as ``ckpt-<state['iteration']>.pt``; keep the last ``keep``."""
    import torch

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    final = d / f"ckpt-{int(state['iteration']):08d}.pt"
    with atomic_path(final) as tmp, open(tmp, "wb") as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())
    for old in list_checkpoints(d)[:-keep] if keep > 0 else []:
        old.unlink(missing_ok=True)
    return str(final)


def list_checkpoints(directory: str | os.PathLike[str]) -> list[Path]:
    """Checkpoint files in ``directory``, oldest first."""
    d = Path(directory)
    if not d.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in d.iterdir() if (m := _NAME.match(p.name))]
    return [p for _, p in sorted(found)]


def find_latest(path: str | os.PathLike[str]) -> str:
    """The checkpoint to resume from: ``path`` itself if a file, else the newest in it."""
    p = Path(path)
    if p.is_file():
        return str(p)
    found = list_checkpoints(p)
    if not found:
        raise CrowdlensError(
            f"No checkpoint to resume from in {str(p)!r} (expected files named ckpt-<n>.pt); "
            "pass the --checkpoint-dir of an earlier run, or drop --resume."
        )
    return str(found[-1])


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`."""
    import torch

    try:
        # Our own files: they hold numpy RNG state and plain Python objects.
        return torch.load(find_latest(path), map_location="cpu", weights_only=False)
    except CrowdlensError:
        raise
    except Exception as exc:
        raise CrowdlensError(
            f"Cannot read checkpoint {str(path)!r} ({type(exc).__name__}: {exc}); "
            "it may be from another version; start without --resume."
        ) from None
