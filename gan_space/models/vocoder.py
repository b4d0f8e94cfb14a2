"""A small GAN vocoder: a spectrogram picture in, a waveform out (MelGAN / HiFi-GAN style).

Griffin-Lim guesses the phases a spectrogram does not hold, and at 64 mel bands every 15.6 ms it
sounds metallic and smeared. A vocoder learns the waveforms behind such pictures from real clips:

- `Vocoder` (the generator): a 1-D convolution from the picture's mel bands to `channels`, then
  one stage per factor of the hop length, each a transposed convolution that upsamples by that
  factor and halves the channels, followed by a stack of residual dilated convolutions (dilations
  1, 3, 9: each stage hears some 27 of its own samples either side) and, at the end, one channel
  through tanh. Weight normalisation everywhere, as MelGAN and HiFi-GAN train it.
- `MultiScaleDiscriminator`: MelGAN's three waveform critics, on the clip, the clip averaged
  down 2x and 4x; strided grouped convolutions; each returns its feature maps too, for the
  feature-matching loss (gan_space.objectives.vocoder).

It reads the pictures a sound generator makes (gan_space.sound.mel_picture: (N, 1, n_mels,
frames) in [-1, 1], high frequencies in row 0), so it turns a generator's samples into sound
directly. A vocoder file is one safetensors file whose metadata hold its `VocoderConfig` and the
`MelSettings` it was trained for: `save_vocoder` / `load_vocoder` (safetensors only).

Which way a generator's pictures become sound (`sound_inverter`, for the pipeline, the app and the
Hub card alike): "auto" takes the generator's own vocoder (VOCODER_FILE beside it or in its run),
else the shipped speech vocoder (trained on the built-in spoken digits) when it reads the same
transform, each only if its file's record says it beat Griffin-Lim on held-out clips, else
Griffin-Lim; "vocoder" and "griffin-lim" ask for one. Training: gan_space.vocoder_training.
"""

import functools
import json
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from ..names import SOUND_INVERTERS
from ..sound.spectrogram import MelSettings, picture_to_sound

LEAK = 0.2
VOCODER_FILE = "vocoder.safetensors"  # beside a sound generator's weights: that generator's own vocoder
# Trained on the built-in spoken digits at the 64 px transform (scripts/make_speech_vocoder.sh).
SHIPPED_VOCODER = Path(__file__).resolve().parent.parent / "builtin" / "spoken-digits-vocoder-64.safetensors"


def upsample_factors(hop_length: int, largest: int = 8) -> tuple[int, ...]:
    """The hop length as a product of factors of at most `largest`, largest first (250 -> (5, 5, 5, 2),
    125 -> (5, 5, 5)); ValueError for a hop with a prime factor above `largest`."""
    factors, rest = [], hop_length
    for factor in range(largest, 1, -1):
        while rest % factor == 0 and rest > 1:
            factors.append(factor)
            rest //= factor
    if rest != 1:
        raise ValueError(f"a hop length of {hop_length} samples has a prime factor above {largest}: "
                         f"the vocoder upsamples by factors up to {largest}; choose a hop such as 125, 200 or 250")
    return tuple(factors)  # largest first: the most channels work at the lowest rate


@dataclass(frozen=True)
class VocoderConfig:
    n_mels: int = 64
    hop_length: int = 250
    channels: int = 128  # after the first convolution; each upsampling stage halves them
    dilations: tuple[int, ...] = (1, 3, 9)

    @property
    def factors(self) -> tuple[int, ...]:
        return upsample_factors(self.hop_length)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "VocoderConfig":
        unknown = set(values) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"not vocoder settings: {sorted(unknown)}")
        values = dict(values)
        if "dilations" in values:
            values["dilations"] = tuple(values["dilations"])
        return cls(**values)

    @classmethod
    def for_mel(cls, settings: MelSettings, **overrides) -> "VocoderConfig":
        return cls(n_mels=settings.n_mels, hop_length=settings.hop_length, **overrides)


class ResidualStack(nn.Module):
    """x + conv1x1(lrelu(conv3_dilated(lrelu(x)))) for each dilation."""

    def __init__(self, channels: int, dilations: tuple[int, ...]):
        super().__init__()
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.LeakyReLU(LEAK), weight_norm(nn.Conv1d(channels, channels, 3, dilation=d, padding=d)),
                          nn.LeakyReLU(LEAK), weight_norm(nn.Conv1d(channels, channels, 1)))
            for d in dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = x + block(x)
        return x


class Vocoder(nn.Module):
    """Spectrogram pictures (N, 1, n_mels, frames) in [-1, 1] -> waveforms (N, frames x hop_length) in [-1, 1]."""

    def __init__(self, config: VocoderConfig = VocoderConfig()):
        super().__init__()
        self.config = config
        channels = config.channels
        layers = [weight_norm(nn.Conv1d(config.n_mels, channels, 7, padding=3))]
        for factor in config.factors:
            out = max(channels // 2, 8)
            # kernel 2 x factor, stride factor: each output sample hears two input frames (no holes).
            layers += [nn.LeakyReLU(LEAK),
                       weight_norm(nn.ConvTranspose1d(channels, out, 2 * factor, stride=factor,
                                                      padding=factor // 2 + factor % 2, output_padding=factor % 2)),
                       ResidualStack(out, config.dilations)]
            channels = out
        layers += [nn.LeakyReLU(LEAK), weight_norm(nn.Conv1d(channels, 1, 7, padding=3)), nn.Tanh()]
        self.layers = nn.Sequential(*layers)

    def forward(self, pictures: torch.Tensor) -> torch.Tensor:
        if pictures.dim() != 4 or pictures.shape[1] != 1 or pictures.shape[2] != self.config.n_mels:
            raise ValueError(f"this vocoder reads spectrogram pictures of {self.config.n_mels} mel bands, "
                             f"(N, 1, {self.config.n_mels}, frames); got shape {tuple(pictures.shape)}")
        mel = pictures[:, 0].flip(1)  # low frequencies first, as the bands are channels
        return self.layers(mel)[:, 0]

    @torch.no_grad()
    def clips(self, pictures, batch: int = 64) -> np.ndarray:
        """Pictures (a tensor or an array, (N, 1, n_mels, frames) in [-1, 1]) -> float32 clips (N, samples)."""
        pictures = torch.as_tensor(np.asarray(pictures, dtype=np.float32) if not torch.is_tensor(pictures)
                                   else pictures.detach().float())
        device = next(self.parameters()).device
        return torch.cat([self(part.to(device)).cpu() for part in pictures.split(batch)]).clamp(-1, 1).numpy()


class WaveCritic(nn.Module):
    """One of MelGAN's discriminators: a wide convolution, strided grouped convolutions, a score per stretch."""

    def __init__(self, width: int = 16):
        super().__init__()
        widths = [width, width * 4, width * 16, width * 16]
        convs = [weight_norm(nn.Conv1d(1, widths[0], 15, padding=7))]
        for inner, outer in zip(widths, widths[1:]):
            convs.append(weight_norm(nn.Conv1d(inner, outer, 41, stride=4, padding=20, groups=inner // 4)))
        convs.append(weight_norm(nn.Conv1d(widths[-1], widths[-1], 5, padding=2)))
        self.convs = nn.ModuleList(convs)
        self.score = weight_norm(nn.Conv1d(widths[-1], 1, 3, padding=1))

    def forward(self, waves: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        x, features = waves[:, None], []
        for conv in self.convs:
            x = nn.functional.leaky_relu(conv(x), LEAK)
            features.append(x)
        return self.score(x), features


class MultiScaleDiscriminator(nn.Module):
    """MelGAN's critics at three scales: the waveform, and the waveform averaged down 2x and 4x."""

    def __init__(self, scales: int = 3, width: int = 16):
        super().__init__()
        self.critics = nn.ModuleList(WaveCritic(width) for _ in range(scales))
        self.pool = nn.AvgPool1d(4, stride=2, padding=1, count_include_pad=False)

    def forward(self, waves: torch.Tensor) -> list[tuple[torch.Tensor, list[torch.Tensor]]]:
        """Per scale, (scores, feature maps)."""
        results = []
        for index, critic in enumerate(self.critics):
            if index:
                waves = self.pool(waves[:, None])[:, 0]
            results.append(critic(waves))
        return results


# ---------------------------------------------------------------------------
# A vocoder file: weights and, in the safetensors metadata, what it was made for

class VocoderLoadError(ValueError):
    pass


def save_vocoder(vocoder: Vocoder, settings: MelSettings, path: str | Path, record: dict | None = None) -> Path:
    """Write the vocoder as one safetensors file (written to a temporary name, then renamed), its
    config, mel settings and `record` (how it was trained) in the metadata."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = {"format": "pt", "gan_space": "vocoder", "config": json.dumps(vocoder.config.to_dict()),
                "mel": json.dumps(settings.to_dict()), "record": json.dumps(record or {})}
    tensors = {name: tensor.detach().cpu().contiguous() for name, tensor in vocoder.state_dict().items()}
    partial = path.with_name(path.name + ".partial")
    save_file(tensors, str(partial), metadata=metadata)
    partial.replace(path)
    return path


def read_vocoder_metadata(path: str | Path) -> tuple[VocoderConfig, MelSettings, dict]:
    """(config, mel settings, training record) from a vocoder file's metadata; VocoderLoadError if it is not one."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
        if metadata.get("gan_space") != "vocoder":
            raise ValueError("its metadata do not say it is a gan_space vocoder")
        return (VocoderConfig.from_dict(json.loads(metadata["config"])),
                MelSettings.from_dict(json.loads(metadata["mel"])), json.loads(metadata.get("record", "{}")))
    except (OSError, ValueError, KeyError, TypeError, SafetensorError) as error:
        raise VocoderLoadError(f"{path} is not a gan_space vocoder file ({str(error)[:200]})") from None


def load_vocoder(path: str | Path, device: str | torch.device = "cpu") -> tuple[Vocoder, MelSettings]:
    """(the vocoder in eval mode, the mel settings it reads) from a file save_vocoder wrote.
    Safetensors only; VocoderLoadError for anything else or weights that do not fit."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    config, settings, record = read_vocoder_metadata(path)
    vocoder = Vocoder(config)
    try:
        vocoder.load_state_dict(load_file(str(path)))
    except (RuntimeError, OSError, ValueError, SafetensorError) as error:
        raise VocoderLoadError(f"{path}: the weights do not fit its own config ({str(error).strip()[:200]})") from None
    vocoder.record = record
    return vocoder.to(device).eval(), settings


# ---------------------------------------------------------------------------
# From pictures to sound: Griffin-Lim or a vocoder

@dataclass(frozen=True)
class SoundInverter:
    """Turns spectrogram pictures of `settings` into clips: with `vocoder`, by that network; without, by
    Griffin-Lim (`iterations`, default the transform's own). `label` says which, for people."""

    settings: MelSettings
    label: str = "Griffin-Lim"
    vocoder: Vocoder | None = None
    iterations: int | None = None

    def __call__(self, pictures) -> np.ndarray:
        """Pictures in [-1, 1] (N, 1, H, W), a tensor or an array -> float32 clips (N, samples)."""
        if self.vocoder is not None:
            return self.vocoder.clips(pictures)
        # One picture at a time: Griffin-Lim's starting phases are drawn for the whole array it is
        # given, so a picture inverted alone always gives the same clip, in whatever batch it came.
        array = pictures.detach().float().cpu().numpy() if torch.is_tensor(pictures) else np.asarray(pictures,
                                                                                                      np.float32)
        clips = np.empty((len(array), self.settings.samples), np.float32)
        for index, picture in enumerate(array):
            clips[index] = picture_to_sound(picture, self.settings, iterations=self.iterations)
        return clips


def same_transform(a: MelSettings, b: MelSettings) -> bool:
    """Whether pictures of `a` mean what pictures of `b` mean (the number of columns and Griffin-Lim's
    iterations aside: a vocoder reads any number of columns)."""
    return replace(a, frames=0, griffin_lim_iterations=0) == replace(b, frames=0, griffin_lim_iterations=0)


@functools.lru_cache(maxsize=8)
def _cached_vocoder(path: str, modified: float) -> tuple[Vocoder, MelSettings]:
    return load_vocoder(path)


def beats_griffin_lim(record: dict) -> bool:
    """Whether a vocoder's training record says it brought its held-out clips back closer than
    Griffin-Lim did, by spectral convergence and by log-spectral distance (gan_space.sound.inversion)."""
    measured = (record or {}).get("held_out", {})
    vocoder, griffin_lim = measured.get("vocoder", {}), measured.get("griffin-lim", {})
    keys = ("spectral_convergence", "log_spectral_distance_db")
    return all(key in vocoder and key in griffin_lim and vocoder[key] < griffin_lim[key] for key in keys)


def vocoder_for(settings: MelSettings, own: str | os.PathLike | None = None,
                only_better: bool = False) -> tuple[Vocoder, str] | None:
    """(vocoder, label) for pictures of `settings`: `own` (a generator's vocoder file) if given and made
    for them, else the shipped speech vocoder if made for them; with `only_better`, only one whose
    record says it beat Griffin-Lim (beats_griffin_lim). None when there is none."""
    candidates = ([(Path(own), "its own vocoder")] if own else []) + [(SHIPPED_VOCODER, "speech vocoder (shipped)")]
    for path, label in candidates:
        if path.is_file():
            vocoder, made_for = _cached_vocoder(str(path), path.stat().st_mtime)
            if same_transform(made_for, settings) and (not only_better or beats_griffin_lim(vocoder.record)):
                return vocoder, label
    return None


def sound_inverter(settings: MelSettings, choice: str = "auto", own_vocoder: str | os.PathLike | None = None,
                   iterations: int | None = None) -> SoundInverter:
    """How pictures of `settings` become sound (choice: one of SOUND_INVERTERS). "auto" takes a
    vocoder only where its own measurement on held-out clips beat Griffin-Lim (a vocoder trained
    too briefly sounds worse than Griffin-Lim), and says so in the label when one was passed over;
    "vocoder" takes one whatever it measured. ValueError for "vocoder" when no vocoder reads this
    transform, saying how to get one."""
    if choice not in SOUND_INVERTERS:
        raise ValueError(f"unknown way to make sound {choice!r}: choose one of {', '.join(SOUND_INVERTERS)}")
    if choice == "griffin-lim":
        return SoundInverter(settings, iterations=iterations)
    found = vocoder_for(settings, own_vocoder, only_better=choice == "auto")
    if found is not None:
        vocoder, label = found
        return SoundInverter(settings, label=label, vocoder=vocoder)
    passed_over = vocoder_for(settings, own_vocoder)
    if choice == "vocoder" and passed_over is None:
        raise ValueError(f"no vocoder reads these spectrograms ({settings.n_mels} mel bands every "
                         f"{settings.hop_length} samples): train one with `python -m gan_space train-vocoder "
                         "--dataset YOUR_SOUNDS --minutes 20 --out GENERATOR_FOLDER`, or choose griffin-lim")
    if choice == "vocoder":
        vocoder, label = passed_over
        return SoundInverter(settings, label=label, vocoder=vocoder)
    label = "Griffin-Lim" if passed_over is None else f"Griffin-Lim ({passed_over[1]} measured worse on held-out clips)"
    return SoundInverter(settings, label=label, iterations=iterations)


__all__ = ["VOCODER_FILE", "SHIPPED_VOCODER", "SoundInverter", "same_transform", "beats_griffin_lim", "vocoder_for",
           "sound_inverter",
           "VocoderConfig", "Vocoder", "MultiScaleDiscriminator", "WaveCritic", "upsample_factors",
           "save_vocoder", "load_vocoder", "read_vocoder_metadata", "VocoderLoadError"]
