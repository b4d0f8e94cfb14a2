"""The sound of a sound run's fixed latents, remade as it trains (the Train tab's players).

A run on sounds (its data carries a `sound` record: gan_space.data.sound_pictures) draws its
fixed latents as spectrogram pictures at each preview; the first PLAYERS of them are turned
back into sound as Generate will (gan_space.models.vocoder.sound_inverter: the shipped speech
vocoder where it reads the run's spectrograms and measured better, else Griffin-Lim). Griffin-Lim costs far more
than drawing the pictures, so the clips are remade at most every `every_seconds`,
and never more often than keeps their cost within 1/cost_ratio of the time between two (the
live previews' rule), and always at the run's end: the last word is worth hearing.

Plain Python, no gradio: the job module (gan_space.ui.jobs) uses it.
"""

import math
import time

PLAYERS = 4  # clips of the first fixed latents (the grid's first row)
SOUND_PREVIEW_SECONDS = 10.0  # remade at most this often: a player that changes mid-listen is no use


class PreviewClips:
    """Makes the clips of a sound run's preview samples when they are due.

    record: the run's sound record (Dataset.sound); players: how many of the first samples
    to invert; every_seconds: the shortest time between two sets of clips; cost_ratio: the
    time between two sets is at least this many times what the last set cost."""

    def __init__(self, record: dict, players: int = PLAYERS, every_seconds: float = SOUND_PREVIEW_SECONDS,
                 cost_ratio: float = 50.0):
        from gan_space.data.sound_pictures import mel_settings_of_record

        self.settings = mel_settings_of_record(record)
        if self.settings is None:
            raise ValueError("a run's clips need its sound record: this run trains on pictures, not sounds")
        self.players = players
        self.every_seconds = every_seconds
        self.cost_ratio = cost_ratio
        self.seconds_spent = 0.0  # on making sound, all sets together
        self.sets_made = 0
        self._last = -math.inf
        self._last_cost = 0.0

    @property
    def sample_rate(self) -> int:
        return self.settings.sample_rate

    def due(self, now: float, final: bool = False) -> bool:
        """Whether the clips should be remade at time `now` (time.monotonic); always at the end."""
        return final or now - self._last >= max(self.every_seconds, self.cost_ratio * self._last_cost)

    def make(self, samples):
        """The first `players` samples (spectrogram pictures in [-1, 1], (N, 1, H, W)) as float32
        clips (players, samples) in [-1, 1]."""
        from gan_space.models.vocoder import sound_inverter

        start = time.monotonic()
        clips = sound_inverter(self.settings)(samples[: self.players])
        self._last = time.monotonic()
        self._last_cost = self._last - start
        self.seconds_spent += self._last_cost
        self.sets_made += 1
        return clips


__all__ = ["PLAYERS", "SOUND_PREVIEW_SECONDS", "PreviewClips"]
