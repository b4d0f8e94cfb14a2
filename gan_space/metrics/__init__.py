"""What is measured for which data or task: one module per metric, each registering itself
(gan_space.metrics.registry) when imported here; the live measurements, the app, the CLI and
the Hub card ask the registry.

- digits.py: the digits judge (Fréchet distance in a small classifier's features, classes);
- mixtures.py: a 2-D mixture's modes (PacGAN's protocol);
- pictures.py: the picture score for any other picture set (gan_space.scores);
- pixels.py: PSNR, SSIM and a Fréchet distance on an image-to-image task's held-out pairs;
- sharpness.py: the outputs' gradient magnitude relative to the targets' (blur scores below 1);
- sounds.py: sounds, on their spectrograms: the spoken-digit classifier's classes and
  Inception-style score, and a Fréchet distance in random features for any sound set.
"""

from .registry import (METRICS, PairMetric, SampleMetric, metric_for_card, pair_metric, pair_metric_names,
                       register_metric,
                       sample_metrics, unregister_metric)
from .digits import DigitsJudge, digits_judge, digits_metrics, to_digit_space  # noqa: E402  (they register)
from .mixtures import mode_metrics  # noqa: E402
from . import pictures, pixels, sharpness, sounds  # noqa: E402,F401

__all__ = ["METRICS", "SampleMetric", "PairMetric", "register_metric", "unregister_metric", "sample_metrics",
           "pair_metric", "pair_metric_names", "metric_for_card", "DigitsJudge", "digits_judge", "digits_metrics", "to_digit_space",
           "mode_metrics"]
