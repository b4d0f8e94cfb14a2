"""The schedule: what changes over a run (today the learning rates; later augmentation
and the EMA), as a function of how far the run has come.

A run by steps measures progress in steps; a run by the clock (`minutes`) in training
time, so that its learning-rate decay ends when its time does. The trainer tells the
schedule the elapsed training time before each step (`elapsed_seconds`).
"""


class Schedule:
    def __init__(self, config):
        self.config = config
        self.elapsed_seconds = 0.0  # training time so far (set by the trainer before each step)

    def progress(self, step: int) -> float:
        """How far the run has come, from 0 to 1: by steps, or by time under a time budget
        (whichever is further when both could end the run)."""
        c = self.config
        by_steps = step / c.steps
        if c.minutes:
            return min(1.0, max(by_steps, self.elapsed_seconds / (c.minutes * 60)))
        return min(1.0, by_steps)

    def learning_rate_factor(self, step: int) -> float:
        """1 for most of the run, then a linear decay to 0 over the last `lr_decay_fraction`
        (of the steps, or of the time budget)."""
        c = self.config
        if c.minutes:
            start = 1.0 - c.lr_decay_fraction
            progress = self.progress(step)
            return 1.0 if c.lr_decay_fraction <= 0 or progress < start else max(
                0.0, (1.0 - progress) / c.lr_decay_fraction)
        decay_steps = int(c.steps * c.lr_decay_fraction)
        if decay_steps == 0:
            return 1.0
        start = c.steps - decay_steps
        return 1.0 if step < start else max(0.0, 1.0 - (step - start) / decay_steps)

    def learning_rates(self, step: int) -> tuple[float, float]:
        """(generator, discriminator) learning rates for this step."""
        factor = self.learning_rate_factor(step)
        return self.config.lr_g * factor, self.config.lr_d * factor


__all__ = ["Schedule"]
