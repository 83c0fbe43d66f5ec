"""Which process this is: rank and world size from the environment, and the gloo group.

The same training code runs alone, under ``torchrun`` or under
``TorchDistributor``: all three describe the process through ``RANK`` and
``WORLD_SIZE``; with more than one process the ranks join a gloo group.
"""

from __future__ import annotations

import os


def world() -> tuple[int, int]:
    """(rank, world size) from the environment; (0, 1) in a plain process."""
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def init_process_group() -> tuple[int, int]:
    """Join the gloo process group torchrun / TorchDistributor describe, if any."""
    import torch.distributed as dist

    rank, size = world()
    if size > 1 and not dist.is_initialized():
        dist.init_process_group("gloo", rank=rank, world_size=size)
    return rank, size


def is_distributed() -> bool:
    """True inside a process group of more than one rank."""
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def sum_over_ranks(value: int) -> int:
    """``value`` summed over every rank (itself in a plain process)."""
    if not is_distributed():
        return value
    import torch
    import torch.distributed as dist

    t = torch.tensor([value], dtype=torch.long)
    dist.all_reduce(t)
    return int(t.item())
