"""Is a waveform GAN (WaveGAN, Donahue et al. 2019) practical here? One training step of
WaveGAN's own networks next to one step of the project's SpecGAN default (the sound preset on
the built-in spoken digits, through the Trainer), side by side in one process on this CPU.

WaveGAN as its paper sets it: 16,384 samples (about 1 s at 16 kHz), model size d = 64, five
transposed convolutions of length 25, stride 4 (generator) and five strided convolutions
(discriminator), WGAN-GP with five critic steps a generator step, batch 64; the paper trains
SC09 for some 200,000 generator steps. Phase shuffle is left out (it costs nothing measurable).
A smaller d = 32 and batch 16 are timed too, as the cheapest WaveGAN worth the name.

    python benchmarks/waveform_cost.py

Prints a Markdown table (seconds a generator step, steps in 15 minutes) and writes
benchmarks/results/waveform_cost.json.
"""

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from torch import nn  # noqa: E402

from gan_space.hosting.environment import cpu_model  # noqa: E402
from gan_space.training import TrainConfig, Trainer  # noqa: E402

SAMPLES = 16_384
LATENT = 100


class WaveGANGenerator(nn.Module):
    def __init__(self, d: int):
        super().__init__()
        self.d = d
        self.project = nn.Linear(LATENT, 16 * 16 * d)
        channels = [16 * d, 8 * d, 4 * d, 2 * d, d, 1]
        layers = []
        for index, (inner, outer) in enumerate(zip(channels, channels[1:])):
            layers.append(nn.ConvTranspose1d(inner, outer, 25, stride=4, padding=11, output_padding=1))
            layers.append(nn.Tanh() if index == 4 else nn.ReLU())
        self.layers = nn.Sequential(*layers)

    def forward(self, latents):
        return self.layers(torch.relu(self.project(latents)).view(len(latents), 16 * self.d, 16))


class WaveGANDiscriminator(nn.Module):
    def __init__(self, d: int):
        super().__init__()
        channels = [1, d, 2 * d, 4 * d, 8 * d, 16 * d]
        layers = []
        for inner, outer in zip(channels, channels[1:]):
            layers += [nn.Conv1d(inner, outer, 25, stride=4, padding=11), nn.LeakyReLU(0.2)]
        self.layers = nn.Sequential(*layers)
        self.score = nn.Linear(16 * d * 16, 1)

    def forward(self, waves):
        return self.score(self.layers(waves).flatten(1))


def wavegan_step_seconds(d: int, batch: int, critic_steps: int = 5, repeats: int = 2) -> float:
    """Seconds of one generator step with its critic steps (WGAN-GP's gradient penalty included)."""
    generator, critic = WaveGANGenerator(d), WaveGANDiscriminator(d)
    g_opt, d_opt = (torch.optim.Adam(net.parameters(), 1e-4, betas=(0.5, 0.9)) for net in (generator, critic))
    real = torch.randn(batch, 1, SAMPLES) * 0.1

    def step():
        for _ in range(critic_steps):
            fake = generator(torch.randn(batch, LATENT)).detach()
            mix = torch.rand(batch, 1, 1)
            between = (mix * real + (1 - mix) * fake).requires_grad_(True)
            gradient, = torch.autograd.grad(critic(between).sum(), between, create_graph=True)
            loss = critic(fake).mean() - critic(real).mean() + 10 * ((gradient.flatten(1).norm(dim=1) - 1) ** 2).mean()
            d_opt.zero_grad(set_to_none=True)
            loss.backward()
            d_opt.step()
        loss = -critic(generator(torch.randn(batch, LATENT))).mean()
        g_opt.zero_grad(set_to_none=True)
        loss.backward()
        g_opt.step()

    step()  # warm-up
    started = time.perf_counter()
    for _ in range(repeats):
        step()
    return (time.perf_counter() - started) / repeats


def specgan_step_seconds(steps: int = 30) -> tuple[float, int]:
    trainer = Trainer(TrainConfig.for_dataset("spoken-digits", steps=10_000, out_dir=str(ROOT / "runs" / "_cost")))
    for _ in range(5):
        trainer.train_step()
    started = time.perf_counter()
    for _ in range(steps):
        trainer.train_step()
    return (time.perf_counter() - started) / steps, trainer.config.batch_size


def main() -> None:
    cpu = cpu_model()
    rows = []
    seconds, batch = specgan_step_seconds()
    rows.append({"model": "SpecGAN (the sound preset, 64 px)", "batch": batch, "seconds_per_step": seconds})
    for d, batch in ((64, 64), (32, 16)):
        rows.append({"model": f"WaveGAN d={d}, WGAN-GP 5 critic steps", "batch": batch,
                     "seconds_per_step": wavegan_step_seconds(d, batch)})
    result = {"machine": f"{cpu}, {torch.get_num_threads()} threads", "rows": rows}
    out = ROOT / "benchmarks" / "results" / "waveform_cost.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{result['machine']}\n\n| model | batch | s a generator step | steps in 15 min |\n|---|---|---|---|")
    for row in rows:
        print(f"| {row['model']} | {row['batch']} | {row['seconds_per_step']:.3f} | "
              f"{900 / row['seconds_per_step']:,.0f} |")


if __name__ == "__main__":
    main()
