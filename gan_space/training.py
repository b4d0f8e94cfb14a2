"""The training loop: `TrainConfig` says what to train, `Trainer(config).run()` trains
it and yields a `TrainEvent` every few steps, so the CLI can print progress and the
app can stream previews from the same loop.

Read `Trainer.run` top to bottom: that is the whole algorithm.
"""

import dataclasses
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import torch

from . import checkpoints, distributed
from .augment import AUGMENTATIONS, augment
from .data import BUILTIN_POINT_SETS, Dataset, dataset_kind, load_dataset
from .devices import autocast_context, resolve_precision, select_device
from .ema import EMA, recalibrate_batchnorm
from .losses import LOSSES, discriminator_loss, generator_loss, gradient_penalty, r1_penalty
from .models import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator, SUPPORTED_RESOLUTIONS
from .sampling import generate, preview_image, sample_latents


class ConfigError(ValueError):
    """A training setting is out of range; the message names the field and what is allowed."""


# Settings that work well for each kind of data in a few CPU minutes. `for_dataset`
# starts from these; anything the user sets explicitly wins.
PRESETS = {
    # PacGAN's 2-D mixtures: small fast MLPs, big batches, a light R1 penalty, an EMA
    # generator and a learning-rate decay at the end to tighten every mode.
    # Measured on grid25 (high-quality share of samples): lr 1e-3 beat 5e-4 (0.80 vs 0.50 at
    # 12k steps); at equal compute more steps of a smaller batch beat fewer large ones (batch
    # 256 x 20k: 0.85; 512 x 12k: 0.80); R1 0.5 beat 0.1 and 0.01 (grid25 0.87 / 0.85, ring8
    # 0.92 / 0.91 / 0.87). Most of the sharpening happens during the final learning-rate decay.
    "points": dict(arch="mlp", width=128, num_layers=3, latent_dim=16, batch_size=256, steps=20000,
                   lr_g=1e-3, lr_d=1e-3, beta1=0.5, beta2=0.9, r1_gamma=0.5, ema_decay=0.999,
                   lr_decay_fraction=0.3, augment="none", sample_every=1000, checkpoint_every=5000),
    # 8x8 digits at their native resolution: an MLP beats a convnet on a CPU, and R1 on
    # real data is what prevents collapse. R1 runs every step here: that is the recipe the
    # shipped generator was trained and measured with (FD 0.20 vs 0.22 for real digits).
    "digits": dict(arch="mlp", resolution=8, channels=1, width=256, num_layers=3, latent_dim=32,
                   batch_size=128, steps=6000, lr_g=1e-3, lr_d=1e-3, beta1=0.0, beta2=0.99, r1_gamma=1.0,
                   r1_every=1,
                   ema_decay=0.999, lr_decay_fraction=0.3, augment="none", sample_every=500,
                   checkpoint_every=2000),
    # Photos and drawings from folders: the DCGAN recipe plus EMA and flips.
    "images": dict(arch="dcgan", resolution=32, channels=3, width=64, latent_dim=100, batch_size=64,
                   steps=5000, lr_g=2e-4, lr_d=2e-4, beta1=0.5, beta2=0.999, r1_gamma=0.0, ema_decay=0.999,
                   lr_decay_fraction=0.0, augment="flip", sample_every=250, checkpoint_every=1000),
}


@dataclass
class TrainConfig:
    """Everything that defines a training run. Validated on construction."""

    dataset: str = "digits"
    out_dir: str = "runs/digits"
    steps: int = 6000
    seed: int = 0
    # data
    resolution: int = 8
    channels: int = 1
    max_images: int = 50_000
    conditional: bool = False  # use the dataset's class labels
    # networks
    arch: str = "mlp"  # "dcgan" or "mlp"
    width: int = 256  # DCGAN base channels, or MLP hidden units
    num_layers: int = 3  # MLP hidden layers
    latent_dim: int = 32
    spectral_norm: bool = False
    pack: int = 1  # PacGAN: D judges this many samples at once
    # optimisation
    batch_size: int = 128
    lr_g: float = 1e-3
    lr_d: float = 1e-3
    beta1: float = 0.0
    beta2: float = 0.99
    loss: str = "non-saturating"
    r1_gamma: float = 1.0  # 0 turns R1 off
    r1_every: int = 16  # lazy R1 (StyleGAN2): every N steps, N times stronger; its double backward is costly
    gp_weight: float = 10.0  # WGAN-GP only
    d_steps: int = 1  # discriminator updates per generator update
    ema_decay: float = 0.999  # 0 turns the EMA generator off
    lr_decay_fraction: float = 0.3  # decay the learning rates linearly to 0 over this last part of the run
    augment: str = "none"
    # machinery
    device: str = "auto"
    precision: str = "auto"  # "auto", "fp32", "bf16" or "fp16"
    compile: bool = False  # torch.compile the steps' forward passes: tens of seconds to compile, ~+10% on a CPU
    log_every: int = 25
    sample_every: int = 500
    checkpoint_every: int = 2000
    num_preview: int = 64

    def __post_init__(self):
        self.validate()

    @classmethod
    def for_dataset(cls, dataset: str = "digits", **overrides) -> "TrainConfig":
        """The preset for this kind of data, with `overrides` applied on top."""
        kind = dataset_kind(dataset)
        preset = PRESETS["points" if kind == "points" else "digits" if dataset == "digits" else "images"]
        values = {"dataset": dataset, "out_dir": f"runs/{Path(str(dataset)).stem or 'run'}", **preset}
        values.update({k: v for k, v in overrides.items() if v is not None})
        unknown = set(values) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        return cls(**values)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    def validate(self) -> None:
        def check(name, ok, allowed):
            if not ok:
                raise ConfigError(f"{name}={getattr(self, name)!r} is out of range: {allowed}")

        check("dataset", isinstance(self.dataset, str) and self.dataset.strip() != "",
              "name a built-in, a folder, a .zip or a Hugging Face dataset id")
        check("out_dir", isinstance(self.out_dir, str) and self.out_dir.strip() != "", "give a folder path")
        check("steps", isinstance(self.steps, int) and 1 <= self.steps <= 10_000_000, "an integer from 1 to 10,000,000")
        check("seed", isinstance(self.seed, int) and 0 <= self.seed < 2**63, "an integer from 0 to 2**63-1")
        check("arch", self.arch in ("dcgan", "mlp"), "'dcgan' or 'mlp'")
        if self.arch == "dcgan":
            check("resolution", self.resolution in SUPPORTED_RESOLUTIONS, f"one of {SUPPORTED_RESOLUTIONS}")
        else:
            check("resolution", isinstance(self.resolution, int) and 4 <= self.resolution <= 64,
                  "an integer from 4 to 64 for the MLP")
        check("channels", self.channels in (1, 3), "1 (grayscale) or 3 (RGB)")
        check("max_images", isinstance(self.max_images, int) and 1 <= self.max_images <= 1_000_000,
              "an integer from 1 to 1,000,000")
        check("width", isinstance(self.width, int) and 8 <= self.width <= 1024, "an integer from 8 to 1024")
        check("num_layers", isinstance(self.num_layers, int) and 1 <= self.num_layers <= 8, "an integer from 1 to 8")
        check("latent_dim", isinstance(self.latent_dim, int) and 1 <= self.latent_dim <= 1024,
              "an integer from 1 to 1024")
        check("pack", isinstance(self.pack, int) and 1 <= self.pack <= 4, "an integer from 1 (off) to 4")
        check("batch_size", isinstance(self.batch_size, int) and 2 <= self.batch_size <= 8192,
              "an integer from 2 to 8192")
        check("batch_size", self.batch_size % self.pack == 0, f"a multiple of pack={self.pack}")
        for name in ("lr_g", "lr_d"):
            check(name, 0 < getattr(self, name) <= 0.1, "a learning rate above 0 and at most 0.1")
        for name in ("beta1", "beta2"):
            check(name, 0 <= getattr(self, name) < 1, "from 0 up to (not including) 1")
        check("loss", self.loss in LOSSES, f"one of {', '.join(LOSSES)}")
        check("r1_gamma", 0 <= self.r1_gamma <= 1000, "from 0 (off) to 1000")
        check("r1_every", isinstance(self.r1_every, int) and 1 <= self.r1_every <= 256, "an integer from 1 to 256")
        check("gp_weight", 0 <= self.gp_weight <= 1000, "from 0 to 1000")
        check("d_steps", isinstance(self.d_steps, int) and 1 <= self.d_steps <= 10, "an integer from 1 to 10")
        check("ema_decay", self.ema_decay == 0 or 0.5 <= self.ema_decay < 1, "0 (off) or from 0.5 up to 1")
        check("lr_decay_fraction", 0 <= self.lr_decay_fraction <= 1, "from 0 (off) to 1")
        check("augment", self.augment in AUGMENTATIONS, f"one of {', '.join(AUGMENTATIONS)}")
        check("device", isinstance(self.device, str) and self.device.split(":")[0] in ("auto", "cpu", "cuda", "mps"),
              "'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'")
        check("precision", self.precision in ("auto", "fp32", "bf16", "fp16"), "'auto', 'fp32', 'bf16' or 'fp16'")
        check("compile", isinstance(self.compile, bool), "True or False")
        for name in ("log_every", "sample_every", "checkpoint_every"):
            check(name, isinstance(getattr(self, name), int) and getattr(self, name) >= 1, "an integer of at least 1")
        check("num_preview", isinstance(self.num_preview, int) and 1 <= self.num_preview <= 256,
              "an integer from 1 to 256")
        if self.dataset in BUILTIN_POINT_SETS:
            check("arch", self.arch == "mlp", "'mlp' for 2-D point data")
            check("augment", self.augment == "none", "'none' for 2-D point data")


@dataclass
class TrainEvent:
    """What the loop reports every `log_every` steps (and at the end)."""

    step: int
    total_steps: int
    status: str  # "running", "finished", "stopped" or "diverged"
    losses: dict = field(default_factory=dict)  # means over the last steps: "d", "g" (and "r1", "gp")
    d_real: float = float("nan")  # D's mean probability that real samples are real
    d_fake: float = float("nan")  # ... that generated samples are real
    images_per_second: float = 0.0
    elapsed_seconds: float = 0.0
    eta_seconds: float = 0.0
    device: str = "cpu"
    precision: str = "fp32"
    preview: object = None  # PIL image: a grid of the fixed latents, or a scatter plot for points
    preview_samples: torch.Tensor | None = None  # the raw preview samples (points in data coordinates)
    checkpoint: str | None = None  # path of a checkpoint written at this step
    message: str = ""

    def status_line(self) -> str:
        if self.message and self.status != "running":
            return self.message
        eta = f"{int(self.eta_seconds // 60)}m{int(self.eta_seconds % 60):02d}s"
        return (f"step {self.step}/{self.total_steps} · {self.images_per_second:,.0f} img/s · ETA {eta} · "
                f"{self.device} {self.precision} · D loss {self.losses.get('d', float('nan')):.3f} · "
                f"G loss {self.losses.get('g', float('nan')):.3f}")


class RunFolderError(ValueError):
    """The run folder cannot be used as asked (exists already, or has nothing to resume)."""


class Trainer:
    """Builds the data, networks, optimisers and EMA once; `run()` trains."""

    def __init__(self, config: TrainConfig, resume: bool = False, dataset: Dataset | None = None):
        self.config = config
        self.out_dir = Path(config.out_dir)
        self.stop_requested = False
        has_checkpoint = checkpoints.latest_checkpoint(self.out_dir) is not None
        if resume and not has_checkpoint:
            raise RunFolderError(f"nothing to resume in {self.out_dir}: it holds no complete checkpoint")
        if not resume and has_checkpoint:
            raise RunFolderError(f"{self.out_dir} already holds a training run: resume it, or choose another "
                                 f"output folder")

        self.device = select_device(config.device)
        # Several processes (accelerate launch, torchrun): one device each, see distributed.py.
        # None in a single process, which trains exactly as it always has.
        self.dist = distributed.from_environment(self.device)
        if self.dist is not None:
            self.device = self.dist.device
        self.is_main_process = self.dist is None or self.dist.is_main
        # batch_size is the global batch; this process draws its share of it.
        self.local_batch_size = (config.batch_size if self.dist is None
                                 else self.dist.local_batch_size(config.batch_size, config.pack))
        self.precision = resolve_precision(config.precision, self.device, config.arch)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # the shapes never change: let cuDNN time its kernels once
        torch.manual_seed(config.seed)
        self.data = dataset if dataset is not None else load_dataset(
            config.dataset, config.resolution, config.channels, max_images=config.max_images, seed=config.seed)
        if config.conditional and not self.data.num_classes:
            raise ConfigError(f"conditional=True needs labelled data, but {self.data.name} has no classes")
        self.num_classes = self.data.num_classes if config.conditional else 0
        self.generator, self.discriminator = self._build_networks()
        self.memory_format = torch.channels_last if config.arch == "dcgan" else torch.contiguous_format
        self.generator.to(self.device, memory_format=self.memory_format)
        self.discriminator.to(self.device, memory_format=self.memory_format)
        # Rank 0 alone keeps the EMA generator: only it samples previews and saves checkpoints.
        self.ema = EMA(self.generator, config.ema_decay) if config.ema_decay > 0 and self.is_main_process else None

        adam = dict(betas=(config.beta1, config.beta2))
        if self.device.type in ("cuda", "cpu"):
            # One fused kernel per step instead of about ten small ops per parameter tensor
            # (torch's default Adam on the CPU loops over the tensors in Python).
            adam["fused"] = True
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=config.lr_g, **adam)
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=config.lr_d, **adam)
        use_scaler = self.precision == "fp16"
        self.scaler_g = torch.amp.GradScaler(self.device.type, enabled=use_scaler)
        self.scaler_d = torch.amp.GradScaler(self.device.type, enabled=use_scaler)

        # The whole (small) dataset lives on the device, already normalised.
        real, labels = self.data.normalised(), (self.data.labels if self.num_classes else None)
        if self.dist is not None:  # several processes: each keeps (and samples) its own 1/N of it
            real, labels = self.dist.shard(real), self.dist.shard(labels)
        self.real = real.to(self.device)
        if self.real.dim() == 4:
            self.real = self.real.contiguous(memory_format=self.memory_format)
        self.labels = labels.to(self.device) if labels is not None else None
        self.batch_rng = torch.Generator().manual_seed(config.seed + 1)
        self.preview_latents = sample_latents(config.num_preview if self.data.kind == "images" else 2500,
                                              config.latent_dim, seed=config.seed).to(self.device)
        self.preview_labels = (torch.arange(self.preview_latents.shape[0], device=self.device) % self.num_classes
                               if self.num_classes else None)
        self.step = 0
        self.elapsed_before = 0.0  # training seconds of earlier sessions of this run
        if resume:
            self.step, self.elapsed_before = checkpoints.load_training_state(self)
        if self.dist is not None:  # the same networks on every rank; each rank its own noise and batches
            self.dist.broadcast_from_main(self.generator, self.discriminator)
            self.dist.seed_rank_streams(self.batch_rng, config.seed, self.step)

    @classmethod
    def resume(cls, out_dir: str, **overrides) -> "Trainer":
        """Continue the run in `out_dir` with its saved settings (`steps` etc. may be raised)."""
        saved = checkpoints.saved_train_config(Path(out_dir))
        values = {**saved, **{k: v for k, v in overrides.items() if v is not None}, "out_dir": str(out_dir)}
        return cls(TrainConfig.from_dict(values), resume=True)

    def _build_networks(self):
        c, d = self.config, self.data
        if c.arch == "mlp":
            is_points = d.kind == "points"
            generator = MLPGenerator(
                data_shape=d.data_shape, latent_dim=c.latent_dim, hidden_dim=c.width, num_layers=c.num_layers,
                num_classes=self.num_classes, output_activation="none" if is_points else "tanh",
                data_offset=d.offset if is_points else None, data_scale=d.scale if is_points else 1.0)
            discriminator = MLPDiscriminator(
                data_shape=d.data_shape, hidden_dim=c.width, num_layers=c.num_layers, num_classes=self.num_classes,
                spectral_norm=c.spectral_norm, pack=c.pack)
        else:
            if d.kind != "images":
                raise ConfigError(f"arch='dcgan' needs image data; {d.name} holds {d.kind}: use arch='mlp'")
            generator = DCGANGenerator(resolution=c.resolution, channels=c.channels, latent_dim=c.latent_dim,
                                       width=c.width, num_classes=self.num_classes)
            discriminator = DCGANDiscriminator(resolution=c.resolution, channels=c.channels, width=c.width,
                                               num_classes=self.num_classes, spectral_norm=c.spectral_norm,
                                               pack=c.pack)
        return generator, discriminator

    def request_stop(self) -> None:
        """Ask the loop to stop after the current step (it checkpoints first)."""
        self.stop_requested = True

    def learning_rate_factor(self, step: int) -> float:
        """1 for most of the run, then a linear decay to 0 over the last `lr_decay_fraction`."""
        decay_steps = int(self.config.steps * self.config.lr_decay_fraction)
        if decay_steps == 0:
            return 1.0
        start = self.config.steps - decay_steps
        return 1.0 if step < start else max(0.0, 1.0 - (step - start) / decay_steps)

    def sample_batch(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        index = torch.randint(self.real.shape[0], (self.local_batch_size,), generator=self.batch_rng)
        if self.device.type == "cuda":
            # The data already lives on the GPU; only the indices cross, without making the CPU wait.
            index = index.pin_memory().to(self.device, non_blocking=True)
        real = self.real[index]
        return real, (self.labels[index] if self.labels is not None else None)

    def random_labels(self, n: int) -> torch.Tensor | None:
        if not self.num_classes:
            return None
        return torch.randint(self.num_classes, (n,), device=self.device)

    def sampling_generator(self):
        """The generator to sample from: the EMA copy when there is one."""
        return self.ema.model if self.ema is not None else self.generator

    @torch.no_grad()
    def sample(self, latents: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Samples of the sampling generator for these latents, in fp32 on the CPU: images
        in [-1, 1], points in data coordinates (gan_space.sampling.generate, after the EMA
        generator's BatchNorm statistics are redrawn for its averaged weights)."""
        generator = self.sampling_generator()
        if self.ema is not None:
            recalibrate_batchnorm(generator, self.config.latent_dim, self.device, self.random_labels)
        return generate(generator, latents=latents, labels=labels)

    def preview(self):
        """Samples of the fixed preview latents and a picture of them."""
        samples = self.sample(self.preview_latents, self.preview_labels)
        real = self.data.samples[:2500] if self.data.kind == "points" else None
        return samples, preview_image(samples, real=real)

    def run(self) -> Iterator[TrainEvent]:
        c = self.config
        G, D = self.generator, self.discriminator
        # compile=True: the steps' forward passes go through torch.compile; the modules stay eager
        # for everything else (checkpoints, the EMA copy, previews, R1's double backward).
        G_forward, D_forward = (torch.compile(G), torch.compile(D)) if c.compile else (G, D)
        if self.is_main_process:  # several processes: rank 0 alone writes the run folder
            self.out_dir.mkdir(parents=True, exist_ok=True)
            checkpoints.write_json_atomic(self.out_dir / "train_config.json", c.to_dict())
        G.train()
        D.train()
        sums = {}  # running sums of the logged quantities, kept as tensors: no host sync per step
        window_start, window_steps = time.perf_counter(), 0
        session_start = time.perf_counter()
        images_per_second = 0.0
        # Divergence: on the CPU the losses are already computed when read, so checking them every
        # step is free and a NaN stops the run at the step it appears. On a GPU each read would make
        # the CPU wait for the device every step; there (and with several processes, which must all
        # stop at the same step) the check runs at the events below.
        check_each_step = self.device.type == "cpu" and self.dist is None

        while self.step < c.steps:
            factor = self.learning_rate_factor(self.step)
            for group in self.opt_g.param_groups:
                group["lr"] = c.lr_g * factor
            for group in self.opt_d.param_groups:
                group["lr"] = c.lr_d * factor

            # 1. Discriminator: real samples up, generated samples down.
            for d_step in range(c.d_steps):
                real, real_labels = self.sample_batch()
                z = torch.randn(self.local_batch_size, c.latent_dim, device=self.device)
                fake_labels = self.random_labels(self.local_batch_size)
                # The last batch of fakes keeps its graph: the generator step below reuses it
                # instead of running G a second time (as in PyTorch's DCGAN example).
                with autocast_context(self.device, self.precision), torch.set_grad_enabled(d_step == c.d_steps - 1):
                    fake = G_forward(z, fake_labels)
                with autocast_context(self.device, self.precision):
                    # Real and generated samples go through D as one batch: larger matrix products
                    # run faster (~6% of a 64x64 step on a CPU), and D has no batch statistics, so
                    # every sample's logit is what it would be on its own.
                    both = torch.cat([augment(real, c.augment), augment(fake.detach(), c.augment)])
                    both_labels = torch.cat([real_labels, fake_labels]) if real_labels is not None else None
                    real_logits, fake_logits = D_forward(both, both_labels).float().chunk(2)  # equal halves, packs too
                    loss_d = adversarial_d = discriminator_loss(c.loss, real_logits, fake_logits)
                if c.loss == "wgan-gp" and c.gp_weight > 0:
                    gp = gradient_penalty(D, real, fake.detach().float(), real_labels)
                    loss_d = loss_d + c.gp_weight * gp
                    _accumulate(sums, "gp", gp)
                if c.r1_gamma > 0 and self.step % c.r1_every == 0:
                    # R1 in fp32: double backward through bf16 loses the small gradients it measures.
                    r1 = r1_penalty(D, real, real_labels)
                    loss_d = loss_d + 0.5 * c.r1_gamma * c.r1_every * r1
                    _accumulate(sums, "r1", r1 * c.r1_every)  # the mean over steps is then the mean penalty
                self.opt_d.zero_grad(set_to_none=True)
                self.scaler_d.scale(loss_d).backward()
                if self.dist is not None:  # several processes: every rank steps with the mean gradient
                    self.dist.average_gradients(D)
                self.scaler_d.step(self.opt_d)
                self.scaler_d.update()

            # 2. Generator: make the updated D call its samples real. D is frozen meanwhile:
            # its weight gradients here would be thrown away, and skipping them saves about
            # a tenth of the step's arithmetic.
            D.requires_grad_(False)
            with autocast_context(self.device, self.precision):
                fake_logits_g = D_forward(augment(fake, c.augment), fake_labels).float()
                loss_g = generator_loss(c.loss, fake_logits_g)
            self.opt_g.zero_grad(set_to_none=True)
            self.scaler_g.scale(loss_g).backward()
            if self.dist is not None:
                self.dist.average_gradients(G)
            self.scaler_g.step(self.opt_g)
            self.scaler_g.update()
            D.requires_grad_(True)

            # 3. The EMA generator follows the trained one.
            if self.ema is not None:
                self.ema.update(G)

            self.step += 1
            window_steps += 1
            # The D curve shows the adversarial loss alone: lazy R1 would add a spike every r1_every steps.
            _accumulate(sums, "d", adversarial_d.detach())
            _accumulate(sums, "g", loss_g.detach())
            _accumulate(sums, "d_real", torch.sigmoid(real_logits.detach()).mean())
            _accumulate(sums, "d_fake", torch.sigmoid(fake_logits.detach()).mean())
            if check_each_step and not (math.isfinite(loss_d.item()) and math.isfinite(loss_g.item())):
                yield self._diverged_event(loss_d, loss_g, session_start)
                return

            # 4. Report, preview and checkpoint on their schedules. Only here are values read
            # back from the device, so on a GPU the steps in between queue up without waiting.
            finished = self.step >= c.steps
            stopping = self.stop_requested and self.dist is None  # several processes: agreed on below
            # Previews and checkpoints happen at events: a sample or checkpoint step is one too,
            # whether or not log_every divides it.
            scheduled = any(self.step % every == 0 for every in (c.log_every, c.sample_every, c.checkpoint_every))
            if scheduled or finished or stopping:
                now = time.perf_counter()
                if self.dist is not None:  # means over all ranks' samples; a stop asked on any rank stops all
                    sums, stopping = self.dist.average_logs(sums, self.stop_requested)
                images_per_second = window_steps * c.batch_size / max(now - window_start, 1e-9)
                means = {k: float(v) / window_steps for k, v in sums.items()}
                sums, window_start, window_steps = {}, now, 0
                # Losses must stay finite (one NaN makes the window's sum NaN); otherwise stop.
                # Checkpoints are only written below this check, so the last one is good.
                if not (math.isfinite(means["d"]) and math.isfinite(means["g"])):
                    yield self._diverged_event(loss_d, loss_g, session_start)
                    return
                event = TrainEvent(
                    step=self.step, total_steps=c.steps, status="running",
                    losses={k: means[k] for k in ("d", "g", "r1", "gp") if k in means},
                    d_real=means["d_real"], d_fake=means["d_fake"], images_per_second=images_per_second,
                    elapsed_seconds=self.elapsed_before + now - session_start,
                    eta_seconds=(c.steps - self.step) * c.batch_size / max(images_per_second, 1e-9),
                    device=str(self.device), precision=self.precision)
                if self.is_main_process and (self.step % c.sample_every == 0 or finished or stopping):
                    event.preview_samples, event.preview = self.preview()
                    samples_dir = self.out_dir / "samples"
                    samples_dir.mkdir(exist_ok=True)
                    event.preview.save(samples_dir / f"step-{self.step:07d}.png")
                if self.step % c.checkpoint_every == 0 or finished or stopping:
                    if self.is_main_process:
                        event.checkpoint = str(checkpoints.save_checkpoint(
                            self, elapsed_seconds=event.elapsed_seconds, metrics=event.losses))
                    if self.dist is not None:  # no rank goes on, or exits, before the checkpoint is on disk
                        self.dist.barrier()
                if finished:
                    event.status = "finished"
                    event.message = (f"finished {c.steps} steps in {event.elapsed_seconds:.0f}s; "
                                     f"generator saved in {self.out_dir}")
                elif stopping:
                    event.status = "stopped"
                    event.message = (f"stopped at step {self.step}/{c.steps}; checkpoint kept in {self.out_dir}: "
                                     f"resume to continue")
                yield event
                window_start = time.perf_counter()  # do not count the time spent by the consumer
                if stopping:
                    return

    def _diverged_event(self, loss_d, loss_g, session_start) -> TrainEvent:
        last = checkpoints.latest_checkpoint(self.out_dir)
        kept = f"the last good checkpoint ({last.name}) is kept" if last else "no checkpoint had been written yet"
        hint = ("lower the learning rates (e.g. halve lr_d and lr_g), add an R1 penalty (r1_gamma) or "
                "spectral norm, or switch the loss to 'hinge'")
        return TrainEvent(
            step=self.step, total_steps=self.config.steps, status="diverged",
            losses={"d": float(loss_d.detach()), "g": float(loss_g.detach())}, device=str(self.device), precision=self.precision,
            elapsed_seconds=self.elapsed_before + time.perf_counter() - session_start,
            message=f"training diverged at step {self.step}: the losses became NaN or infinite "
                    f"(D {float(loss_d.detach())}, G {float(loss_g.detach())}); {kept}. Try: {hint}.")


def _accumulate(sums: dict, name: str, value: torch.Tensor) -> None:
    value = value.detach().float()
    sums[name] = sums[name] + value if name in sums else value


def train(config: TrainConfig, resume: bool = False) -> TrainEvent:
    """Run to the end and return the last event (for scripts and tests)."""
    trainer = Trainer.resume(config.out_dir, steps=config.steps) if resume else Trainer(config)
    event = None
    for event in trainer.run():
        pass
    return event


def describe_run(out_dir: str | Path) -> dict:
    """What a run folder holds: its settings and the latest checkpoint's summary."""
    out_dir = Path(out_dir)
    info = {"train_config": checkpoints.saved_train_config(out_dir)}
    latest = checkpoints.latest_checkpoint(out_dir)
    if latest is not None:
        info["checkpoint"] = str(latest)
        info.update(json.loads((latest / "state.json").read_text()).get("summary", {}))
    return info


__all__ = ["TrainConfig", "TrainEvent", "Trainer", "ConfigError", "RunFolderError", "train", "describe_run",
           "PRESETS"]
