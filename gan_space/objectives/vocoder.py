"""The vocoder's update step (HiFi-GAN's objective, on MelGAN's multi-scale critics):

- discriminator: least squares, real waveforms towards 1, the vocoder's towards 0, at each scale;
- vocoder: least squares towards 1, plus feature matching (L1 between the critics' feature maps
  of the real and the made waveform, weight 2) plus a log-mel L1 at three STFT resolutions
  (weight 45). The mel term alone already gives a recognisable waveform within minutes on a CPU;
  the critics then take out the buzz a spectral loss cannot see (the phase).

`adversarial_from` steps of the mel term alone come first (Parallel WaveGAN's warm-up): the
critics learn little from a vocoder that still makes noise.
"""

import functools
from dataclasses import dataclass

import torch
from torch import nn

# (n_fft, hop, mel bands): a fine time resolution for the consonants, a fine frequency one for the harmonics.
MEL_LOSS_RESOLUTIONS = ((256, 64, 32), (512, 128, 64), (1024, 256, 96))
LOG_FLOOR = 1e-5


@functools.lru_cache(maxsize=16)
def _mel_bank(sample_rate: int, n_fft: int, n_mels: int) -> torch.Tensor:
    import librosa

    return torch.from_numpy(librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmax=sample_rate / 2))


def log_mel(waves: torch.Tensor, sample_rate: int, n_fft: int, hop: int, n_mels: int) -> torch.Tensor:
    """Natural-log mel magnitudes (N, n_mels, frames) of waveforms (N, samples); differentiable."""
    window = torch.hann_window(n_fft, device=waves.device, dtype=waves.dtype)
    spectrum = torch.stft(waves, n_fft, hop_length=hop, window=window, center=True, return_complex=True).abs()
    bank = _mel_bank(sample_rate, n_fft, n_mels).to(waves.device, waves.dtype)
    return torch.log(torch.clamp(bank @ spectrum, min=LOG_FLOOR))


def multi_resolution_mel_loss(made: torch.Tensor, real: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """Mean L1 between log-mel spectrograms at MEL_LOSS_RESOLUTIONS."""
    losses = [(log_mel(made, sample_rate, *resolution) - log_mel(real, sample_rate, *resolution)).abs().mean()
              for resolution in MEL_LOSS_RESOLUTIONS]
    return sum(losses) / len(losses)


def feature_matching_loss(real_results, made_results) -> torch.Tensor:
    """L1 between the critics' feature maps of real and made waveforms (real ones held fixed)."""
    return sum((real.detach() - made).abs().mean()
               for (_, real_features), (_, made_features) in zip(real_results, made_results)
               for real, made in zip(real_features, made_features))


@dataclass
class VocoderObjective:
    """One update of the critics and one of the vocoder, on a batch of (pictures, waveforms)."""

    vocoder: nn.Module
    discriminator: nn.Module
    vocoder_optimiser: torch.optim.Optimizer
    discriminator_optimiser: torch.optim.Optimizer
    sample_rate: int
    mel_weight: float = 45.0
    feature_weight: float = 2.0
    adversarial_from: int = 0

    def step(self, pictures: torch.Tensor, real: torch.Tensor, step: int) -> dict[str, float]:
        """Losses of this step: "mel" always, "d", "adversarial" and "features" once the critics are on."""
        made = self.vocoder(pictures)
        adversarial = step >= self.adversarial_from
        losses = {}
        if adversarial:
            d_loss = sum(((1 - real_score) ** 2).mean() + (made_score ** 2).mean()
                         for (real_score, _), (made_score, _) in zip(self.discriminator(real),
                                                                      self.discriminator(made.detach())))
            self.discriminator_optimiser.zero_grad(set_to_none=True)
            d_loss.backward()
            self.discriminator_optimiser.step()
            losses["d"] = float(d_loss.detach())

        mel_loss = multi_resolution_mel_loss(made, real, self.sample_rate)
        loss = self.mel_weight * mel_loss
        if adversarial:
            with torch.no_grad():
                real_results = self.discriminator(real)
            made_results = self.discriminator(made)
            adversarial_loss = sum(((1 - score) ** 2).mean() for score, _ in made_results)
            feature_loss = feature_matching_loss(real_results, made_results)
            loss = loss + adversarial_loss + self.feature_weight * feature_loss
            losses.update(adversarial=float(adversarial_loss.detach()), features=float(feature_loss.detach()))
        self.vocoder_optimiser.zero_grad(set_to_none=True)
        loss.backward()
        self.vocoder_optimiser.step()
        losses["mel"] = float(mel_loss.detach())
        return losses


__all__ = ["MEL_LOSS_RESOLUTIONS", "log_mel", "multi_resolution_mel_loss", "feature_matching_loss",
           "VocoderObjective"]
