"""Started by tests/test_distributed.py once per process (torchrun): trains a tiny run and
writes what this rank saw and holds to OUT/rank-<rank>.json, for the test to compare."""

import copy
import hashlib
import json
import sys
from pathlib import Path

import torch

from gan_space.training import TrainConfig, Trainer


def digest(tensors) -> str:
    sha = hashlib.sha256()
    for tensor in tensors:
        sha.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return sha.hexdigest()


def mean_gradient_is_the_full_batch_gradient(trainer) -> bool:
    """Each rank's half of one fixed batch, gradients averaged over the ranks, against the
    gradient of the whole batch in this process."""
    full = trainer.data.normalised()[:32]
    labels = trainer.data.labels[:32]
    whole, part = copy.deepcopy(trainer.networks.discriminator), copy.deepcopy(trainer.networks.discriminator)
    torch.nn.functional.softplus(-whole(full, labels)).mean().backward()
    rank, world = trainer.dist.rank, trainer.dist.world_size
    torch.nn.functional.softplus(-part(full[rank::world], labels[rank::world])).mean().backward()
    trainer.dist.average_gradients(part)
    return all(torch.allclose(a.grad, b.grad, rtol=1e-4, atol=1e-7)
               for a, b in zip(whole.parameters(), part.parameters()))


def main(out: str, steps: int) -> None:
    config = TrainConfig.for_dataset("digits", out_dir=f"{out}/run", steps=steps, log_every=5, sample_every=10,
                                     checkpoint_every=10, width=32, batch_size=32, conditional=True, device="cpu")
    trainer = Trainer(config)
    gradient_check = mean_gradient_is_the_full_batch_gradient(trainer)
    drawn = []  # (rows, digest) of every real batch this rank drew
    next_batch = trainer.source.next_batch

    def recording_next_batch(batch_size):
        real, labels = next_batch(batch_size)
        drawn.append((real.shape[0], digest([real])))
        return real, labels

    trainer.source.next_batch = recording_next_batch
    events = list(trainer.run())
    record = dict(
        rank=trainer.dist.rank, world_size=trainer.dist.world_size, local_batch_size=trainer.local_batch_size,
        batch_size=config.batch_size, shard_rows=trainer.source.num_samples, shard_labels=trainer.source.num_samples,
        batch_rows=[rows for rows, _ in drawn], batch_digests=[d for _, d in drawn],
        generator=digest(trainer.networks.generator.parameters()),
        discriminator=digest(trainer.networks.discriminator.parameters()), has_ema=trainer.networks.ema is not None, mean_gradient_is_the_full_batch_gradient=gradient_check,
        events=[dict(step=e.step, status=e.status, losses=e.losses, d_real=e.d_real, preview=e.preview is not None,
                     checkpoint=e.checkpoint) for e in events])
    Path(out, f"rank-{record['rank']}.json").write_text(json.dumps(record))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
