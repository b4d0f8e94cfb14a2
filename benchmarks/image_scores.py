"""Calibration of gan_space.scores (FD and KID in random-network features) on real pictures.

A set is split once (seed 0) into two disjoint halves: the first half is the reference
(its statistics), and n pictures of the second half are scored against it as they are
(real), blurred (Gaussian, sigma 1 pixel), with noise (Gaussian, 10% of the range) and
replaced by pure noise (uniform). A score worth having orders real < blurred, noisy < pure
noise at every n, and its value for a given distortion changes little with n (FD has an
upward bias that shrinks as 1/n; KID has none).

    python benchmarks/image_scores.py [--data ../shared/data/noto-emoji-64.npz] [--sizes 64 32]
        [--counts 500 1000 1890] [--digits] [--features random] [--threads 2]

--data: an .npz with an `images` array (N, H, W, C) uint8. --digits adds scikit-learn's 8x8 digits.
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from gan_space.scores import calibration_pictures, feature_network, image_features, real_statistics  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "noto-emoji-64.npz"


def calibrate(name: str, images: torch.Tensor, counts: list[int], features: str) -> list[dict]:
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))
    half = len(images) // 2
    reference, held_out = images[order[:half]], images[order[half:]]
    start = time.perf_counter()
    statistics = real_statistics(reference, features)
    print(f"{name}: {len(images)} pictures {tuple(images.shape[1:])}; reference statistics of {half} in "
          f"{time.perf_counter() - start:.1f} s", flush=True)
    network = feature_network(features)
    rows = []
    for n in counts:
        n = min(n, len(held_out))
        real = held_out[:n]
        row = {"data": name, "n": n}
        for label, pictures in calibration_pictures(real).items():
            start = time.perf_counter()
            score = statistics.score_features(image_features(pictures, network))
            row[label] = (score["frechet_distance"], score["kid"])
            row[f"{label} seconds"] = time.perf_counter() - start
        rows.append(row)
        print(f"  n={n}: " + "; ".join(f"{k} FD {row[k][0]:.2f} KID {row[k][1]:.4f}"
                                       for k in ("real", "blurred", "noisy", "pure noise"))
              + f"  ({row['real seconds']:.2f} s for one score)", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 32])
    parser.add_argument("--counts", type=int, nargs="+", default=[500, 1000, 1890])
    parser.add_argument("--digits", action="store_true")
    parser.add_argument("--features", default="random")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    if Path(args.data).is_file():
        pictures = torch.from_numpy(np.load(args.data)["images"]).permute(0, 3, 1, 2).contiguous()
        for size in args.sizes:
            at_size = pictures
            if size != pictures.shape[-1]:
                at_size = F.interpolate(pictures.float(), size=(size, size), mode="bilinear", antialias=True,
                                        align_corners=False).round().clamp(0, 255).to(torch.uint8)
            rows += calibrate(f"{Path(args.data).stem} {size}px", at_size, args.counts, args.features)
    else:
        print(f"no {args.data}: skipped", file=sys.stderr)
    if args.digits:
        from gan_space.data import load_digits

        digits = load_digits().samples
        rows += calibrate("digits 8px", digits, [250, 500, len(digits) // 2], args.features)
    print("\n| data | n | real FD / KID | blurred (σ 1 px) | noisy (σ 10%) | pure noise |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['data']} | {row['n']} | " + " | ".join(
            f"{row[k][0]:.2f} / {row[k][1]:.4f}" for k in ("real", "blurred", "noisy", "pure noise")) + " |")


if __name__ == "__main__":
    main()
