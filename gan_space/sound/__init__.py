"""Sound as pictures and back: a clip's log-mel spectrogram as a one-channel picture in
[-1, 1] (what the picture families learn, as SpecGAN does), the inverse by Griffin-Lim, and
WAV files of clips.

- spectrogram.py: `MelSettings` (the fixed transform and its fixed normalisation range),
  `mel_picture`, `picture_to_sound`, and distances between spectra for checking an inversion;
- wav.py: clips -> WAV bytes or files.

Reading sound files and the built-in spoken digits are data (gan_space.data.sounds,
gan_space.data.spoken_digits).
"""

from .spectrogram import (FAST_64, SPEECH_128, MelSettings, log_spectral_distance, mel_picture, picture_to_sound,
                          spectral_convergence)
from .wav import wav_bytes, write_wav

__all__ = ["MelSettings", "SPEECH_128", "FAST_64", "mel_picture", "picture_to_sound", "spectral_convergence",
           "log_spectral_distance", "wav_bytes", "write_wav"]
