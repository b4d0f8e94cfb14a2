"""Several processes, one device each: the same training under `accelerate launch` or `torchrun`.

A launcher starts one copy of the program per device and tells each its place in
WORLD_SIZE, RANK and LOCAL_RANK. When WORLD_SIZE is unset or 1, `from_environment`
returns None and nothing here runs: no accelerate import, no wrapping, no collective,
so a single process trains exactly as before.

How the work is split (data parallelism), and why:

- Batch: `batch_size` is the *global* batch; each of N processes draws batch_size / N.
  Every loss is a mean over samples, so the gradients averaged over the ranks are the
  gradients of the whole batch: a setting means the same on 1 device or 8, and a run
  resumes with a different number of processes and continues the same optimisation.
- Data: each rank keeps every N-th sample (rank, rank + N, ...) (on its device when it fits) and draws
  its part of the batch from those, with replacement, from its own random stream. The
  ranks together draw a uniform sample of the whole set, stratified by shard (shards
  differ in size by at most one sample); each device holds 1/N of the data.
- Gradients: averaged with one all-reduce per network after its backward pass, before
  its optimiser step, instead of wrapping the networks in DistributedDataParallel. The
  loop runs D up to four times per step (real, fake, R1's double backward, the generator
  step) and reuses the fakes of the D step in the G step; DDP's hooks do not support the
  double backward and expect one forward per backward. Averaging by hand has none of
  those limits and keeps the loop in training.py as it reads in one process.
  Under fp16 the scaled gradients are averaged, so an overflow on any rank reaches all
  and every GradScaler skips the same steps.
- Identical networks: the same seed initialises them on every rank, then rank 0's
  parameters and buffers are broadcast (also after loading a checkpoint, which every
  rank reads). Identical averaged gradients and optimiser states keep them identical.
- BatchNorm (the DCGAN generator): per-rank batch statistics, as DDP does by default,
  not SyncBatchNorm (one more collective per layer per forward). Running statistics only
  serve sampling, which rank 0 does, and the EMA generator re-estimates them anyway.
- Noise: each rank its own latents, labels, augmentation and batches, seeded from
  (seed, rank, the step the session starts at). Each rank's data source reads only its
  shard (gan_space.datasource).
- Once, on rank 0: the EMA generator, previews, checkpoints and train_config.json (the
  CLI prints there only). The logged means are averaged over the ranks at each log step,
  so every rank's events carry the same numbers and all ranks see a divergence at once;
  a stop asked for on any rank takes effect for all at the next log step.
"""

import os

import numpy as np
import torch

from . import devices


def world_size_from_environment() -> int:
    """Processes in this job as the launcher set them (1 when not launched)."""
    return int(os.environ.get("WORLD_SIZE") or 1)


def from_environment(device: torch.device) -> "DataParallel | None":
    """The process group when a launcher started several processes, else None."""
    if world_size_from_environment() <= 1:
        return None
    return DataParallel(device)


class DataParallel:
    """This process's place in the job, and the few collectives the training loop needs."""

    def __init__(self, device: torch.device):
        if not devices.joins_process_groups(device):
            raise ValueError(f"several processes train on CUDA GPUs or on the CPU, not on {device.type}: "
                             f"use device='cuda' or 'cpu'")
        if device.index is not None:
            raise ValueError(f"device={str(device)!r} names one GPU, but each of the {world_size_from_environment()} "
                             f"processes needs its own: use device='auto' or 'cuda' (process k uses GPU k of its "
                             f"machine)")
        # Only here: a single process never imports accelerate. PartialState reads the
        # launcher's environment, picks NCCL for GPUs and gloo for the CPU, and joins the group.
        from accelerate import PartialState

        self.state = PartialState(cpu=device.type == "cpu")
        if self.state.num_processes != world_size_from_environment():
            raise ValueError(f"WORLD_SIZE={world_size_from_environment()} but accelerate set up "
                             f"{self.state.num_processes} process(es) on {device.type}: launch with "
                             f"`accelerate launch --multi_gpu ...` or `torchrun --nproc_per_node N ...`")
        self.rank = self.state.process_index
        self.world_size = self.state.num_processes
        self.is_main = self.state.is_main_process
        self.device = torch.device("cpu") if self.state.device.type == "cpu" else self.state.device  # not cpu:0

    def local_batch_size(self, batch_size: int, pack: int = 1) -> int:
        """This rank's share of the global batch."""
        step = self.world_size * pack
        if batch_size % step:
            raise ValueError(f"batch_size={batch_size} is the global batch and must split evenly over "
                             f"{self.world_size} processes{f' in packs of {pack}' if pack > 1 else ''}: "
                             f"use a multiple of {step}")
        return batch_size // self.world_size

    def shard(self, tensor: torch.Tensor | None) -> torch.Tensor | None:
        """Every N-th row, starting at this rank (a copy: the full tensor can be freed)."""
        if tensor is None:
            return None
        if tensor.shape[0] < self.world_size:
            raise ValueError(f"{tensor.shape[0]} sample(s) cannot be shared by {self.world_size} processes")
        return tensor[self.rank::self.world_size].clone()

    def seed_rank_streams(self, randomness, source, seed: int, step: int) -> None:
        """Independent noise (a gan_space.randomness.RunRandomness) and batch (a data source)
        streams for this rank; the networks are initialised before this."""
        noise_seed, batch_seed = np.random.SeedSequence([seed, self.rank, step]).generate_state(2, dtype=np.uint64)
        randomness.reseed(int(noise_seed))  # latents, labels, augmentation
        source.reseed(int(batch_seed))

    @torch.no_grad()
    def broadcast_from_main(self, *modules: torch.nn.Module) -> None:
        """Rank 0's parameters and buffers on every rank."""
        import torch.distributed as dist

        for module in modules:
            _flat_collective([t.data for t in module.parameters()] + list(module.buffers()),
                             lambda flat: dist.broadcast(flat, src=0))

    @torch.no_grad()
    def average_gradients(self, module: torch.nn.Module) -> None:
        """Replace each gradient by its mean over the ranks (one all-reduce per dtype)."""
        import torch.distributed as dist

        grads = [p.grad for p in module.parameters() if p.grad is not None]

        def average(flat):
            dist.all_reduce(flat)  # SUM: gloo has no AVG
            flat.div_(self.world_size)

        _flat_collective(grads, average)

    @torch.no_grad()
    def average_logs(self, sums: dict, flags: dict[str, bool]) -> tuple[dict, dict[str, bool]]:
        """The logged sums averaged over the ranks, and each flag (a stop asked for, a
        checkpoint due on the clock) true when it is true on any rank."""
        import torch.distributed as dist

        names, flag_names = sorted(sums), sorted(flags)
        values = torch.stack([sums[name].float() for name in names]
                             + [torch.tensor(float(flags[name]), device=self.device) for name in flag_names])
        dist.all_reduce(values)
        agreed = {name: bool(values[len(names) + i] > 0) for i, name in enumerate(flag_names)}
        values = values[:len(names)] / self.world_size
        return {name: values[i] for i, name in enumerate(names)}, agreed

    def barrier(self) -> None:
        self.state.wait_for_everyone()


def _flat_collective(tensors: list[torch.Tensor], collective) -> None:
    """Run `collective` in place on the tensors packed into one flat buffer per dtype:
    one message instead of one per tensor, and no layout rules (channels-last) to meet."""
    by_dtype: dict[torch.dtype, list[torch.Tensor]] = {}
    for tensor in tensors:
        by_dtype.setdefault(tensor.dtype, []).append(tensor)
    for group in by_dtype.values():
        flat = torch.cat([t.reshape(-1) for t in group])
        collective(flat)
        offset = 0
        for tensor in group:
            tensor.copy_(flat[offset:offset + tensor.numel()].view(tensor.shape))
            offset += tensor.numel()


__all__ = ["DataParallel", "from_environment", "world_size_from_environment"]
