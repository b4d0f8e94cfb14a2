"""A user's own pairs for image-to-image training ("paired"): a folder (or .zip) with `A/`
and `B/` holding files of matching names, or pictures with the input and the target side
by side (the layout of the pix2pix datasets). Files without a partner, and pictures that
are not two side by side, are skipped and reported. Every file is read and decoded by
gan_space.data.decode, as any other picture is."""

import os
import zipfile
from pathlib import Path

import numpy as np
import torch

from ..names import DIRECTIONS
from .dataset import DEFAULT_MAX_IMAGES, Dataset, DatasetError
from .decode import Refusal, archive_members, decode_image, fit_picture, is_image_name, open_archive, open_picture
from .files import folder_entries



def load_paired(source: str | os.PathLike, resolution: int, channels: int, max_images: int = DEFAULT_MAX_IMAGES,
                direction: str = "AtoB") -> Dataset:
    """A user's pairs from a folder or a .zip: `A/` and `B/` with files of matching names
    (the relative path under A/ and B/ without its extension), or pictures that hold the
    input and the target side by side (left: A, right: B). `direction` "AtoB" learns A -> B.

    Returns a Dataset whose rows hold the input and the target stacked along channels
    (2 * channels, resolution, resolution), input first; `skipped` lists every file left
    out and why (no partner, not side by side, unreadable)."""
    if direction not in DIRECTIONS:
        raise DatasetError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    path = Path(os.path.expanduser(str(source)))
    if path.is_dir():
        entries, skipped = _readable(folder_entries(path))
        return _paired_dataset(path.name, entries, skipped, resolution, channels, max_images, direction)
    if path.is_file() and (zipfile.is_zipfile(path) or path.suffix.lower() == ".zip"):
        with open_archive(path) as archive:
            entries, skipped = _readable(archive_members(archive, path.name))
            return _paired_dataset(path.name, entries, skipped, resolution, channels, max_images, direction)
    raise DatasetError(f"paired data must be a folder or a .zip (with A/ and B/, or side-by-side pictures); "
                       f"{source} is neither")


def _paired_dataset(source_name: str, entries: dict, skipped: list[str], resolution: int, channels: int,
                    max_images: int, direction: str) -> Dataset:
    pictures = {n: read for n, read in entries.items() if is_image_name(n)}
    skipped = skipped + [f"{n}: not an image file extension" for n in entries if n not in pictures]
    a_root, b_root = _ab_roots(pictures)
    rows = []
    if a_root is not None:
        layout = f"A/ and B/ under {a_root.rsplit('/', 1)[0] if '/' in a_root else 'the top'}"
        matched, unmatched = _match_ab(pictures, a_root, b_root)
        skipped += unmatched
        for key, (a_name, b_name) in sorted(matched.items()):
            if len(rows) >= max_images:
                break
            try:
                a = decode_image(pictures[a_name](), resolution, channels)
                b = decode_image(pictures[b_name](), resolution, channels)
            except ValueError as error:
                skipped.append(f"{a_name} + {b_name}: {error}")
                continue
            rows.append(np.concatenate([a, b] if direction == "AtoB" else [b, a]))
    else:
        layout = "side-by-side pictures"
        for name in sorted(pictures):
            if len(rows) >= max_images:
                break
            try:
                picture = open_picture(pictures[name](), channels)
                width, height = picture.size
                if not 1.8 <= width / height <= 2.2:
                    raise ValueError(f"not two pictures side by side ({width}x{height}: expected about twice as "
                                     f"wide as tall)")
                half = width // 2
                a = fit_picture(picture.crop((0, 0, half, height)), resolution, channels)
                b = fit_picture(picture.crop((half, 0, 2 * half, height)), resolution, channels)
            except ValueError as error:
                skipped.append(f"{name}: {error}")
                continue
            rows.append(np.concatenate([a, b] if direction == "AtoB" else [b, a]))
    if not rows:
        detail = f" ({len(skipped)} file(s) skipped: {'; '.join(skipped[:3])})" if skipped else ""
        raise DatasetError(f"{source_name} holds no usable pair{detail}. Put the inputs in A/ and the targets in B/ "
                           f"with matching file names, or give pictures with the input on the left and the target "
                           f"on the right.")
    samples = torch.from_numpy(np.stack(rows))
    return Dataset(name=f"{source_name} ({layout})", kind="images", samples=samples, skipped=skipped)


def _ab_roots(pictures: dict) -> tuple[str | None, str | None]:
    """The folders A and B (the shallowest pair of siblings named A and B), or (None, None)."""
    candidates = []
    for name in pictures:
        parts = name.split("/")
        for depth, part in enumerate(parts[:-1]):
            if part in ("A", "B"):
                parent = "/".join(parts[:depth])
                candidates.append((depth, parent, part))
                break
    parents = {}
    for depth, parent, side in candidates:
        parents.setdefault((depth, parent), set()).add(side)
    for (depth, parent), sides in sorted(parents.items()):
        if sides == {"A", "B"}:
            prefix = f"{parent}/" if parent else ""
            return prefix + "A", prefix + "B"
    return None, None


def _match_ab(pictures: dict, a_root: str, b_root: str) -> tuple[dict, list[str]]:
    """{key: (A file, B file)} for keys on both sides; every other file is reported."""
    sides = {"A": {}, "B": {}}
    skipped, doubled = [], set()
    for name in pictures:
        for side, root in (("A", a_root), ("B", b_root)):
            if name.startswith(root + "/"):
                key = str(Path(name[len(root) + 1:]).with_suffix(""))
                if key in sides[side]:
                    doubled.add((side, key))
                sides[side].setdefault(key, []).append(name)
                break
        else:
            skipped.append(f"{name}: outside {a_root}/ and {b_root}/")
    matched = {}
    for side, other in (("A", "B"), ("B", "A")):
        for key, names in sides[side].items():
            if (side, key) in doubled:
                skipped += [f"{n}: several {side}/ files are named {key} (keep one)" for n in names]
            elif key not in sides[other]:
                skipped.append(f"{names[0]}: no partner in {other}/ (a file named {key} with any extension)")
            elif (other, key) in doubled:
                skipped.append(f"{names[0]}: its partner in {other}/ is ambiguous (several files named {key})")
            elif side == "A":
                matched[key] = (names[0], sides[other][key][0])
    return matched, skipped


def _readable(listed) -> tuple[dict, list[str]]:
    """({name: reader} of the files that may be read, ["name: reason" for those refused])."""
    entries, skipped = {}, []
    for name, read, _ in listed:
        if isinstance(read, Refusal):
            skipped.append(f"{name}: {read.reason}")
        else:
            entries[name] = read
    return entries, skipped
