"""Data-parallel training with torch's own tools: ``torchrun`` starts the processes, DistributedDataParallel
averages their gradients. Nothing here schedules or communicates by itself.

``mirplug run train.processes=N ...`` starts ``torchrun --standalone --nproc_per_node=N -m mirplug run ...``
(one machine); ``torchrun --nnodes=M --node_rank=K --rdzv-endpoint=HOST:PORT --nproc_per_node=N -m mirplug run
...`` on each of M machines spreads the run over them (torch's rendezvous). Every process (a *rank*)
builds the same components and splits from the same seed; rank 0 fills the feature cache first and
is the only one that writes the run folder; each rank trains on its part of every batch
(:class:`torch.utils.data.DistributedSampler`), so ``train.batch_size`` stays the global batch, the
one a single process would take. Gradients go through gloo on CPUs and NCCL on GPUs.

Internal: not part of the plugin API (that is :mod:`mirplug` and :mod:`mirplug.testing`); may change
in any release.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch

from mirplug.errors import ConfigError


@dataclass(frozen=True)
class Ranks:
    """This process's place in a data-parallel run (``torchrun`` sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Whether this process writes (rank 0, or the only process)."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        """Whether several processes train together."""
        return self.world > 1


def ranks_from_environment() -> Ranks:
    """The ranks torchrun gave this process (one process: rank 0 of 1)."""
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world <= 1:
        return Ranks()
    return Ranks(int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0")))


def launched_by_torchrun() -> bool:
    """Whether this process was started by torchrun (or another launcher that sets its variables)."""
    return "TORCHELASTIC_RUN_ID" in os.environ or ("WORLD_SIZE" in os.environ and "RANK" in os.environ)


def start(ranks: Ranks, device: torch.device) -> torch.device:
    """Join the process group (NCCL on CUDA, else gloo); the device of this rank (its own GPU on CUDA)."""
    if not ranks.active:
        return device
    import torch.distributed as dist

    if device.type == "cuda":
        torch.cuda.set_device(ranks.local_rank)
        device = torch.device("cuda", ranks.local_rank)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device


def stop(ranks: Ranks) -> None:
    """Leave the process group."""
    if ranks.active:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


@contextmanager
def main_first(ranks: Ranks) -> Iterator[None]:
    """Rank 0 runs the block first (filling the cache), the others after it (reading what it wrote)."""
    import torch.distributed as dist

    if ranks.active and not ranks.main:
        dist.barrier()
    yield
    if ranks.active and ranks.main:
        dist.barrier()


def from_main(value: Any, ranks: Ranks) -> Any:
    """Rank 0's ``value`` on every rank (a small picklable value, e.g. the run folder)."""
    if not ranks.active:
        return value
    import torch.distributed as dist

    box = [value if ranks.main else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def total(value: float, ranks: Ranks) -> float:
    """The sum of ``value`` over the ranks."""
    if not ranks.active:
        return value
    import torch.distributed as dist

    tensor = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(tensor)
    return float(tensor.item())


def parallel(net: torch.nn.Module, ranks: Ranks, device: torch.device) -> torch.nn.Module:
    """``net`` wrapped in DistributedDataParallel when several processes train (and it has weights to train)."""
    if not ranks.active or not any(p.requires_grad for p in net.parameters()):
        return net
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)


def local_batch(batch_size: int, ranks: Ranks) -> int:
    """Each rank's share of the global ``train.batch_size`` (which must divide evenly)."""
    if batch_size % ranks.world:
        raise ConfigError(f"train.batch_size={batch_size} is the global batch, shared by {ranks.world} processes: "
                          f"give a multiple of {ranks.world} (e.g. train.batch_size="
                          f"{(batch_size // ranks.world + 1) * ranks.world})")
    return batch_size // ranks.world


def launch_command(processes: int, argv: Sequence[str]) -> list[str]:
    """``torchrun --standalone --nproc_per_node=N -m mirplug <argv>``: one machine, a free port on it."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
            "-m", "mirplug", *argv]


def launch(processes: int, argv: Sequence[str]) -> int:
    """Run ``mirplug <argv>`` in ``processes`` processes through torchrun; its exit code.

    Each process gets one CPU thread for torch unless ``OMP_NUM_THREADS`` says otherwise (torchrun's
    own default), so the processes share the cores instead of each taking all of them.
    """
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    try:
        return subprocess.call(launch_command(processes, argv), env=env)
    except KeyboardInterrupt:
        return 130
