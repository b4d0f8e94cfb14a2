"""The schedule: what changes over a run (today the learning rates; later augmentation
and the EMA), as a function of the step."""


class Schedule:
    def __init__(self, config):
        self.config = config

    def learning_rate_factor(self, step: int) -> float:
        """1 for most of the run, then a linear decay to 0 over the last `lr_decay_fraction`."""
        c = self.config
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
