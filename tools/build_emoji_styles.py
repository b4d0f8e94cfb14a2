"""Build the second built-in emoji style, "emoji-flat" (Microsoft Fluent Emoji, flat style, MIT),
and the code points of both built-in emoji sets, so that their pictures align by emoji.

A build-time tool, not part of the package: it needs node's `npm` (to fetch the two packages)
and `rsvg-convert` (Debian: `apt-get install librsvg2-bin`) to draw the SVGs. From the
repository root:

    mkdir -p /tmp/emoji-npm/google /tmp/emoji-npm/fluent
    (cd /tmp/emoji-npm && npm pack emoji-datasource-google@16.0.0 @iconify-json/fluent-emoji-flat@1.2.6)
    tar xzf /tmp/emoji-npm/emoji-datasource-google-16.0.0.tgz -C /tmp/emoji-npm/google
    tar xzf /tmp/emoji-npm/iconify-json-fluent-emoji-flat-1.2.6.tgz -C /tmp/emoji-npm/fluent
    python tools/build_emoji_styles.py --google /tmp/emoji-npm/google/package \\
        --fluent /tmp/emoji-npm/fluent/package

What it does:

1. Re-derives the order of the shipped Noto sprite (gan_space/builtin/noto-emoji-64.*) from
   emoji-datasource-google: emoji.json's entries in file order, the "Component" category left
   out, each entry followed by its skin-tone variants in the package's order. It stops unless
   that gives the shipped count, the shipped labels and, cell for cell, the shipped pixels (each
   package PNG composited on white), then writes the code points into noto-emoji-64.json
   (`codes`: emoji-data's fully qualified sequence, e.g. "1F9D1-1F3FB-200D-1F3A8").
2. Keeps, in that same order, every emoji that Fluent Emoji Flat also draws (its chars.json maps
   a code sequence, written without the FE0F variation selector, to an icon name), draws each
   icon's SVG at 64x64 with rsvg-convert, composites it on white like the Noto pictures, and
   writes fluent-emoji-flat-64.webp (lossless, 64 columns of 64x64 cells) and
   fluent-emoji-flat-64.json (the Noto set's categories, each picture's category index, and the
   same `codes` as the Noto cells of the same emoji).
"""

import argparse
import io
import json
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

BUILTIN = Path(__file__).resolve().parent.parent / "gan_space" / "builtin"
NOTO = BUILTIN / "noto-emoji-64"
FLUENT = BUILTIN / "fluent-emoji-flat-64"
CELL = 64
COLUMNS = 64


def noto_order(google: Path) -> list[dict]:
    """The pictures of emoji-datasource-google in the order the Noto sprite tiles them."""
    entries = json.loads((google / "emoji.json").read_text())
    order = []
    for entry in entries:
        if entry["category"] == "Component":  # the bare skin-tone swatches and hair parts
            continue
        variants = [entry] + list((entry.get("skin_variations") or {}).values())
        order += [{"code": variant["unified"], "image": variant["image"], "category": entry["category"]}
                  for variant in variants if variant["has_img_google"]]
    return order


def on_white(picture: Image.Image) -> np.ndarray:
    """An RGBA picture composited on white, as RGB pixels (how both sprites are made)."""
    background = Image.new("RGBA", picture.size, (255, 255, 255, 255))
    background.alpha_composite(picture.convert("RGBA"))
    return np.asarray(background.convert("RGB"))


def sprite_cells(path: Path, count: int) -> np.ndarray:
    sheet = np.asarray(Image.open(path).convert("RGB"))
    rows = sheet.shape[0] // CELL
    cells = sheet.reshape(rows, CELL, COLUMNS, CELL, 3).transpose(0, 2, 1, 3, 4).reshape(-1, CELL, CELL, 3)
    return cells[:count]


def check_noto(google: Path, order: list[dict]) -> dict:
    """The shipped Noto json, after checking that `order` reproduces the shipped sprite exactly."""
    meta = json.loads(NOTO.with_suffix(".json").read_text())
    if len(order) != meta["count"]:
        raise SystemExit(f"the package gives {len(order)} pictures, the shipped sprite has {meta['count']}: "
                         "is it emoji-datasource-google 16.0.0?")
    labels = "".join(str(meta["categories"].index(item["category"])) for item in order)
    if labels != meta["labels"]:
        raise SystemExit("the package's categories differ from the shipped labels")
    shipped = sprite_cells(NOTO.with_suffix(".webp"), meta["count"])
    for index, item in enumerate(order):
        drawn = on_white(Image.open(google / "img" / "google" / "64" / item["image"]))
        if not np.array_equal(drawn, shipped[index]):
            raise SystemExit(f"cell {index} ({item['code']}) differs from the package's {item['image']}")
    return meta


def chars_key(code: str) -> str:
    """emoji-data's "2764-FE0F-200D-1F525" -> Iconify chars.json's "2764-200d-1f525"."""
    return "-".join(part for part in code.lower().split("-") if part != "fe0f")


def icon_svg(icons: dict, name: str) -> str:
    if name not in icons["icons"]:
        raise SystemExit(f"chars.json names {name!r}, which is not a plain icon of icons.json (an alias?)")
    icon = icons["icons"][name]
    left, top = icon.get("left", icons.get("left", 0)), icon.get("top", icons.get("top", 0))
    width, height = icon.get("width", icons["width"]), icon.get("height", icons["height"])
    return (f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
            f'width="{CELL}" height="{CELL}" viewBox="{left} {top} {width} {height}">{icon["body"]}</svg>')


def draw(svg: str) -> np.ndarray:
    # rsvg-convert keeps the aspect ratio: a 32x33 icon is centred with a thin margin
    png = subprocess.run(["rsvg-convert", "--width", str(CELL), "--height", str(CELL), "--format", "png"],
                         input=svg.encode(), capture_output=True, check=True).stdout
    picture = Image.open(io.BytesIO(png))
    if picture.size != (CELL, CELL):
        raise SystemExit(f"rsvg-convert drew {picture.size}, not {CELL}x{CELL}")
    return on_white(picture)


def write_sprite(cells: list[np.ndarray], path: Path) -> None:
    rows = -(-len(cells) // COLUMNS)
    sheet = np.full((rows * COLUMNS, CELL, CELL, 3), 255, np.uint8)  # the unused cells of the last row: white
    sheet[:len(cells)] = np.stack(cells)
    sheet = sheet.reshape(rows, COLUMNS, CELL, CELL, 3).transpose(0, 2, 1, 3, 4).reshape(rows * CELL, COLUMNS * CELL, 3)
    Image.fromarray(sheet).save(path, format="WEBP", lossless=True, quality=100, method=6)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--google", type=Path, required=True, help="the unpacked emoji-datasource-google 16.0.0")
    parser.add_argument("--fluent", type=Path, required=True, help="the unpacked @iconify-json/fluent-emoji-flat")
    args = parser.parse_args()

    order = noto_order(args.google)
    noto = check_noto(args.google, order)
    noto["codes"] = [item["code"] for item in order]
    NOTO.with_suffix(".json").write_text(json.dumps(noto))
    print(f"Noto: {len(order)} pictures match the shipped sprite; code points written")

    chars = json.loads((args.fluent / "chars.json").read_text())
    icons = json.loads((args.fluent / "icons.json").read_text())
    kept = [item for item in order if chars_key(item["code"]) in chars]
    with ThreadPoolExecutor(8) as pool:
        cells = list(pool.map(draw, (icon_svg(icons, chars[chars_key(item["code"])]) for item in kept)))
    write_sprite(cells, FLUENT.with_suffix(".webp"))
    categories = noto["categories"]
    FLUENT.with_suffix(".json").write_text(json.dumps({
        "count": len(kept), "size": CELL, "columns": COLUMNS, "categories": categories,
        "labels": "".join(str(categories.index(item["category"])) for item in kept),
        "codes": [item["code"] for item in kept]}))
    size = FLUENT.with_suffix(".webp").stat().st_size
    print(f"Fluent Emoji Flat: {len(kept)} of {len(chars)} icons drawn ({len(order) - len(kept)} Noto emoji have "
          f"no Fluent picture); {FLUENT.with_suffix('.webp').name}: {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
