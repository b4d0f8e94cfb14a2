"""A corpus of hostile and unusual uploads, generated in-process (a few seconds, no files in
the repository): truncated and corrupt images of every accepted format, empty files, other
files renamed to .png, decompression bombs, every pixel format, odd sizes, and archives that
try zip slip, zip bombs, lies about their sizes, encryption, nesting and symlinks.

Each `Case` says what must happen to it: "image" (decodes), "skip" (refused, with `reason` in
the message) or "either" (a damaged file PIL may or may not still read: it must decode or be
refused cleanly, never crash).

Used by tests/test_hostile_uploads.py, and by its memory check in a fresh process:

    python tests/hostile_corpus.py --memory FOLDER   (prints a JSON line)
"""

import io
import json
import os
import random
import stat
import struct
import sys
import zipfile
import zlib
from dataclasses import dataclass

from PIL import Image

FORMATS = {"PNG": ".png", "JPEG": ".jpg", "GIF": ".gif", "WEBP": ".webp", "BMP": ".bmp", "TIFF": ".tiff"}
NOT_READABLE = "not a readable image"
TOO_LARGE = "too large"


@dataclass
class Case:
    name: str  # a relative path, with the extension the upload has
    data: bytes
    expect: str  # "image", "skip" or "either"
    reason: str = ""  # for "skip": a piece of the message
    category: str = ""


def picture(mode: str = "RGB", size=(24, 16)) -> Image.Image:
    """A deterministic gradient (so that a corrupt copy differs from it)."""
    width, height = size
    image = Image.new("RGB", size)
    image.putdata([((x * 255) // max(width - 1, 1), (y * 255) // max(height - 1, 1), (x * y) % 256)
                   for y in range(height) for x in range(width)])
    return image.convert(mode) if mode != "RGB" else image


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


# ---------------------------------------------------------------------------
# Single files


def truncated_cases() -> list[Case]:
    cases = []
    for fmt, ext in FORMATS.items():
        data = encode(picture(size=(48, 40)), fmt)
        n = len(data)
        # Within the header, and within the pixel data: refused. The last bytes hold trailers
        # some decoders never look at: those may still decode.
        for cut in (1, 2, 4, 8, 12, 16, 24, 32, n // 4, n // 3, n // 2, (2 * n) // 3):
            cases.append(Case(f"truncated/{fmt}-{cut}{ext}", data[:cut], "skip", NOT_READABLE, "truncated"))
        for cut in (n - 12, n - 4, n - 1):
            cases.append(Case(f"truncated/{fmt}-{cut}{ext}", data[:cut], "either", category="truncated"))
    return cases


def corrupt_cases(per_format: int = 15) -> list[Case]:
    """Random bytes overwritten past the first 16 (seeded): decode or refuse, never crash."""
    rng = random.Random(7)
    cases = []
    for fmt, ext in FORMATS.items():
        data = encode(picture(size=(40, 32)), fmt)
        for index in range(per_format):
            damaged = bytearray(data)
            for _ in range(rng.choice((1, 3, 10, 50))):
                damaged[rng.randrange(16, len(damaged))] = rng.randrange(256)
            cases.append(Case(f"corrupt/{fmt}-{index}{ext}", bytes(damaged), "either", category="corrupt"))
        # A wrong magic number: nobody recognises the file.
        cases.append(Case(f"corrupt/{fmt}-magic{ext}", b"\0\0\0\0" + data[4:], "skip", NOT_READABLE, "corrupt"))
    return cases


def empty_cases() -> list[Case]:
    return [Case(f"empty/empty{ext}", b"", "skip", "empty file", "empty")
            for ext in (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".tif", ".tiff")]


def _saved_by_pil(fmt: str, mode: str = "RGB", **options) -> bytes | None:
    try:
        return encode(picture(mode, (16, 16)), fmt, **options)
    except Exception:  # this build of PIL cannot write it
        return None


def renamed_cases() -> list[Case]:
    """Files that are not images of an accepted format, under image names."""
    png = encode(picture(), "PNG")
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("inner.png", png)
    others = {
        "text": b"this is a text file, not a picture\n" * 20,
        "html": b"<!doctype html><html><body><img src=x onerror=alert(1)></body></html>",
        "json": json.dumps({"image": "no"}).encode(),
        "svg": b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>',
        "pdf": b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF",
        "elf": b"\x7fELF\x02\x01\x01" + b"\0" * 200,
        "zip": zipped.getvalue(),
        "gzip-png": b"\x1f\x8b\x08\x00" + zlib.compress(png),
        "python": b"import os\nos.system('touch /tmp/gan_space-pwned')\n",
        "pickle": b"\x80\x04\x95" + b"cos\nsystem\n(S'touch /tmp/gan_space-pwned'\ntR.",
        # PostScript: PIL's EPS decoder would run Ghostscript on it.
        "eps": b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n(/tmp/gan_space-pwned) (w) file closefile\n",
    }
    # Formats PIL reads but the loader does not accept (each a decoder nobody needs here).
    for fmt, mode, options in (("PPM", "RGB", {}), ("TGA", "RGB", {}), ("ICO", "RGB", {}), ("PCX", "RGB", {}),
                               ("SGI", "RGB", {}), ("IM", "RGB", {}), ("DDS", "RGB", {}), ("QOI", "RGB", {}),
                               ("SPIDER", "F", {}), ("MSP", "1", {}), ("XBM", "1", {}), ("EPS", "RGB", {}),
                               ("BLP", "RGB", {}), ("PDF", "RGB", {}), ("JPEG2000", "RGB", {}), ("AVIF", "RGB", {})):
        data = _saved_by_pil(fmt, mode, **options)
        if data is not None:
            others[f"pil-{fmt.lower()}"] = data
    cases = []
    for kind, data in others.items():
        for ext in (".png", ".jpg"):
            cases.append(Case(f"renamed/{kind}{ext}", data, "skip", NOT_READABLE, "renamed"))
    # A real image without an image file name is not read at all.
    for name in ("no-extension", "picture.png.txt", "picture.svg", "picture.exe", ".png"):
        cases.append(Case(f"renamed/{name}", png, "skip", "not an image file extension", "renamed"))
    return cases


def _png_header_size(data: bytes, width: int, height: int) -> bytes:
    ihdr = bytearray(data[8:33])  # length, b"IHDR", 13 bytes, CRC
    ihdr[8:16] = struct.pack(">II", width, height)
    ihdr[21:25] = struct.pack(">I", zlib.crc32(bytes(ihdr[4:21])))
    return data[:8] + bytes(ihdr) + data[33:]


def _gif_header_size(data: bytes, width: int, height: int) -> bytes:
    patched = bytearray(data)
    patched[6:10] = struct.pack("<HH", width, height)  # logical screen
    descriptor = patched.index(b"\x2c", 13)  # the image descriptor
    patched[descriptor + 5:descriptor + 9] = struct.pack("<HH", width, height)
    return bytes(patched)


def _bmp_header_size(data: bytes, width: int, height: int) -> bytes:
    return data[:18] + struct.pack("<ii", width, height) + data[26:]


def _jpeg_header_size(data: bytes, width: int, height: int) -> bytes:
    marker = data.index(b"\xff\xc0")  # SOF0: length(2), precision(1), height(2), width(2)
    return data[:marker + 5] + struct.pack(">HH", height, width) + data[marker + 9:]


def _webp_header_size(data: bytes, width: int, height: int) -> bytes:
    chunk = data.index(b"VP8L")  # lossless: 0x2f, then 14 bits width-1, 14 bits height-1
    bits = struct.unpack("<I", data[chunk + 9:chunk + 13])[0]
    bits = (bits & ~0x0FFFFFFF) | ((width - 1) & 0x3FFF) | (((height - 1) & 0x3FFF) << 14)
    return data[:chunk + 9] + struct.pack("<I", bits) + data[chunk + 13:]


def _tiff_header_size(width: int, height: int) -> bytes:
    """A minimal little-endian TIFF (8-bit grayscale, one strip of 4 bytes) claiming width x height."""
    entries = [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
               (273, 4, 1, 8), (277, 3, 1, 1), (278, 4, 1, height), (279, 4, 1, 4)]
    ifd_offset = 12
    header = b"II*\x00" + struct.pack("<I", ifd_offset) + b"\x80\x80\x80\x80"
    ifd = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        packed = struct.pack("<H", value) + b"\0\0" if kind == 3 else struct.pack("<I", value)
        ifd += struct.pack("<HHI", tag, kind, count) + packed
    return header + ifd + b"\0\0\0\0"


def bomb_cases() -> list[Case]:
    """Small files whose headers claim a huge picture: decoding one would need gigabytes.
    6400x6400 (41 M pixels) is under PIL's own limit (89 M) and above ours (40 M)."""
    sizes = [(6400, 6400), (20000, 20000), (60000, 60000), (1, 45_000_000), (45_000_000 // 7, 8)]
    png, gif = encode(picture("L", (8, 8)), "PNG"), encode(picture("P", (8, 8)), "GIF")
    bmp, jpeg = encode(picture("RGB", (8, 8)), "BMP"), encode(picture("RGB", (8, 8)), "JPEG")
    webp = encode(picture("RGB", (8, 8)), "WEBP", lossless=True)
    cases = []
    for width, height in sizes:
        label = f"{width}x{height}"
        cases.append(Case(f"bombs/png-{label}.png", _png_header_size(png, width, height), "skip", TOO_LARGE, "bomb"))
        cases.append(Case(f"bombs/tiff-{label}.tiff", _tiff_header_size(width, height), "skip", TOO_LARGE, "bomb"))
        if width < 65536 and height < 65536:  # 16-bit sizes
            cases.append(Case(f"bombs/gif-{label}.gif", _gif_header_size(gif, width, height), "skip", TOO_LARGE,
                              "bomb"))
            cases.append(Case(f"bombs/jpeg-{label}.jpg", _jpeg_header_size(jpeg, width, height), "skip", TOO_LARGE,
                              "bomb"))
        if width < 2**31 and height < 2**31:
            cases.append(Case(f"bombs/bmp-{label}.bmp", _bmp_header_size(bmp, width, height), "skip", TOO_LARGE,
                              "bomb"))
        if width <= 16384 and height <= 16384:  # 14-bit sizes
            cases.append(Case(f"bombs/webp-{label}.webp", _webp_header_size(webp, width, height), "skip", TOO_LARGE,
                              "bomb"))
    return cases


def _exif_rotated_jpeg() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90
    return encode(picture(), "JPEG", exif=exif.tobytes())


def _animated(fmt: str, **options) -> bytes:
    frames = [picture(size=(20, 20)).rotate(angle) for angle in (0, 90, 180)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format=fmt, save_all=True, append_images=frames[1:], **options)
    return buffer.getvalue()


def _sixteen_bit(value: int) -> bytes:
    image = Image.new("I;16", (12, 12), value)
    return encode(image, "PNG")


def pixel_format_cases() -> list[Case]:
    """Every pixel format and layout an upload may have: all must decode."""
    transparent = Image.new("RGBA", (16, 16), (0, 0, 0, 0))
    palette_transparent = picture("P", (16, 16))
    palette_transparent.info["transparency"] = 0
    makers = {
        "bilevel.png": lambda: encode(picture("1"), "PNG"),
        "gray.png": lambda: encode(picture("L"), "PNG"),
        "gray-alpha.png": lambda: encode(picture("LA"), "PNG"),
        "palette.png": lambda: encode(picture("P"), "PNG"),
        "palette-transparent.png": lambda: encode(palette_transparent, "PNG", transparency=0),
        "rgb.png": lambda: encode(picture(), "PNG"),
        "rgba.png": lambda: encode(picture("RGBA"), "PNG"),
        "transparent.png": lambda: encode(transparent, "PNG"),
        "interlaced.png": lambda: encode(picture(), "PNG", interlace=1),
        "16bit-white.png": lambda: _sixteen_bit(65535),
        "16bit-mid.png": lambda: _sixteen_bit(30000),
        "animated.png": lambda: _animated("PNG"),
        "gray.jpg": lambda: encode(picture("L"), "JPEG"),
        "cmyk.jpg": lambda: encode(picture("CMYK"), "JPEG"),
        "progressive.jpg": lambda: encode(picture(), "JPEG", progressive=True),
        "exif-rotated.jpg": _exif_rotated_jpeg,
        "low-quality.jpeg": lambda: encode(picture(), "JPEG", quality=1),
        "phone-mpo.jpg": lambda: _animated("MPO"),  # what many phone cameras write
        "palette.gif": lambda: encode(picture("P"), "GIF"),
        "animated.gif": lambda: _animated("GIF", duration=50, loop=0),
        "transparent.gif": lambda: encode(palette_transparent, "GIF", transparency=0),
        "lossy.webp": lambda: encode(picture(), "WEBP"),
        "rgba.webp": lambda: encode(picture("RGBA"), "WEBP", lossless=True),
        "animated.webp": lambda: _animated("WEBP"),
        "rgb.bmp": lambda: encode(picture(), "BMP"),
        "gray.bmp": lambda: encode(picture("L"), "BMP"),
        "bilevel.bmp": lambda: encode(picture("1"), "BMP"),
        "rgb.tiff": lambda: encode(picture(), "TIFF"),
        "cmyk.tif": lambda: encode(picture("CMYK"), "TIFF"),
        "int32.tiff": lambda: encode(picture("I"), "TIFF"),
        "float.tiff": lambda: encode(picture("F"), "TIFF"),
        "16bit.tiff": lambda: encode(Image.new("I;16", (8, 8), 4000), "TIFF"),
        "compressed.tiff": lambda: encode(picture(), "TIFF", compression="tiff_deflate"),
        "multipage.tiff": lambda: _animated("TIFF"),
        "upper-case.PNG": lambda: encode(picture(), "PNG"),
        "jpeg-named.png": lambda: encode(picture(), "JPEG"),  # the content decides the decoder
        "png-named.jpg": lambda: encode(picture(), "PNG"),
    }
    cases = [Case(f"formats/{name}", make(), "image", category="pixel format") for name, make in makers.items()]
    for width, height in ((1, 1), (1, 3000), (3000, 1), (3, 5), (4096, 2), (7, 7)):
        cases.append(Case(f"sizes/{width}x{height}.png", encode(picture("L", (width, height)), "PNG"), "image",
                          category="odd size"))
    return cases


def file_cases() -> list[Case]:
    return [*truncated_cases(), *corrupt_cases(), *empty_cases(), *renamed_cases(), *bomb_cases(),
            *pixel_format_cases()]


# ---------------------------------------------------------------------------
# Archives


def write_zip(path, members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> None:
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), data,
                             compress_type=compression)


def _headers(data: bytearray, name: bytes) -> tuple[int, int]:
    """Offsets of a member's local header and central directory entry."""
    local = data.index(b"PK\x03\x04" + b"", 0)
    while data[local + 30:local + 30 + struct.unpack("<H", data[local + 26:local + 28])[0]] != name:
        local = data.index(b"PK\x03\x04", local + 4)
    central = data.index(b"PK\x01\x02")
    while data[central + 46:central + 46 + struct.unpack("<H", data[central + 28:central + 30])[0]] != name:
        central = data.index(b"PK\x01\x02", central + 4)
    return local, central


def patch_member(path, name: str, *, size: int | None = None, method: int | None = None,
                 encrypted: bool = False, flip_data: bool = False) -> None:
    """Make a member lie about its unpacked size, claim an unknown compression method or
    encryption, or damage its compressed bytes."""
    data = bytearray(open(path, "rb").read())
    local, central = _headers(data, name.encode())
    if size is not None:
        data[local + 22:local + 26] = struct.pack("<I", size)
        data[central + 24:central + 28] = struct.pack("<I", size)
    if method is not None:
        data[local + 8:local + 10] = struct.pack("<H", method)
        data[central + 10:central + 12] = struct.pack("<H", method)
    if encrypted:
        data[local + 6] |= 1
        data[central + 8] |= 1
    if flip_data:
        start = local + 30 + struct.unpack("<H", data[local + 26:local + 28])[0] + struct.unpack(
            "<H", data[local + 28:local + 30])[0]
        for offset in range(start + 2, start + 14):
            data[offset] ^= 0x5A
    open(path, "wb").write(bytes(data))


def write_zip_bomb(path, member_bytes: int, name: str = "bomb.png") -> None:
    """One member of `member_bytes` zeros, streamed (never held in memory): ~1000x smaller packed."""
    chunk = bytes(1 << 20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), "w", force_zip64=True) as handle:
            for _ in range(member_bytes // len(chunk)):
                handle.write(chunk)


def add_symlink_member(path, name: str, target: str) -> None:
    """A zip member that unzip would create as a symbolic link to `target`."""
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.create_system = 3  # Unix
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr(info, target)


# ---------------------------------------------------------------------------
# The memory check: run in a fresh process so that its peak resident size means something.


def _peak_rss_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_check(folder: str) -> dict:
    """Load every bomb (as files and as archives), as a picture set and as the user's pairs
(side by side), and report the peak memory before and after."""
    from gan_space.data import DatasetError, load_dataset, load_paired

    os.makedirs(folder, exist_ok=True)
    bombs = os.path.join(folder, "bombs")
    os.makedirs(bombs, exist_ok=True)
    for case in bomb_cases():
        with open(os.path.join(bombs, os.path.basename(case.name)), "wb") as handle:
            handle.write(case.data)
    with open(os.path.join(bombs, "fine.png"), "wb") as handle:
        handle.write(encode(picture(size=(32, 16)), "PNG"))  # (also a usable pair: two pictures side by side)
    archive = os.path.join(folder, "bombs.zip")
    write_zip(archive, {f"b{i}-{os.path.basename(c.name)}": c.data for i, c in enumerate(bomb_cases())}
              | {"fine.png": encode(picture(size=(32, 16)), "PNG")})
    honest = os.path.join(folder, "honest-bomb.zip")  # 128 MiB of zeros, declared: never unpacked
    write_zip_bomb(honest, 128 << 20)
    with zipfile.ZipFile(honest, "a") as handle:
        handle.writestr("fine.png", encode(picture(size=(32, 16)), "PNG"))
    liar = os.path.join(folder, "liar.zip")  # 48 MiB of zeros that claim to be 1000 bytes
    write_zip_bomb(liar, 48 << 20, name="liar.png")
    with zipfile.ZipFile(liar, "a") as handle:
        handle.writestr("fine.png", encode(picture(size=(32, 16)), "PNG"))
    patch_member(liar, "liar.png", size=1000)
    huge = os.path.join(folder, "huge-total.zip")  # claims 3.5 GiB in all
    write_zip(huge, {f"{i}.png": encode(picture(), "PNG") for i in range(2)})
    patch_member(huge, "0.png", size=0xE0000000)

    before = _peak_rss_mib()
    results = {}
    for source in (bombs, archive, honest, liar, huge):
        for prefix, load in (("", load_dataset), ("paired:", load_paired)):
            try:
                data = load(source, resolution=8, channels=1)
                results[prefix + os.path.basename(source)] = {"loaded": len(data), "skipped": data.skipped}
            except DatasetError as error:
                results[prefix + os.path.basename(source)] = {"error": str(error)}
    return {"peak_before_mib": before, "peak_after_mib": _peak_rss_mib(), "results": results}


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--memory":
        import torch  # noqa: F401  (what a real process has loaded before it reads data)

        print(json.dumps(memory_check(sys.argv[2])))
    else:
        print(__doc__)
