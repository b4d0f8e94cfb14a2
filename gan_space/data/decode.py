"""The one safe decoder: every picture that enters the project (image folders, .zip files,
Hugging Face datasets, a user's own pairs, uploads in the app, `apply` on a file) is read
and decoded here, and nowhere else.

What it guards against, once for all of them:
- formats: only the decoders in IMAGE_FORMATS are used, chosen by the content (PIL knows
  some forty; EPS alone would run Ghostscript on whatever a user uploads);
- decompression bombs: a picture over MAX_IMAGE_PIXELS is refused from its header, before
  any pixel is decoded;
- large files: no file over MAX_FILE_BYTES is read, and a folder's files are read without
  following a symbolic link and never from a pipe or a device;
- archives: members are read in memory (never extracted, so '../x' writes nothing), at most
  their declared size (a member that lies is caught), the whole archive at most
  MAX_ZIP_TOTAL_BYTES unpacked; a damaged member costs that member only.

Every refusal is a ValueError whose message says why (loaders skip the file and report it).
"""

import contextlib
import errno
import io
import os
import stat
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .dataset import DatasetError

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".tif", ".tiff"}
# The decoders PIL may use (it picks one by the file's content, not its name). PIL knows
# some forty formats; EPS alone would run Ghostscript on whatever a user uploads. (The JPEG
# decoder also opens the multi-picture JPEGs of phone cameras, MPO.)
IMAGE_FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "BMP", "DIB", "TIFF")

# Guards against hostile files: a decompression bomb is refused, not decoded.
MAX_IMAGE_PIXELS = 40_000_000
MAX_FILE_BYTES = 64 * 1024 * 1024  # one image file; larger ones are skipped unread
MAX_ZIP_MEMBER_BYTES = MAX_FILE_BYTES
MAX_ZIP_TOTAL_BYTES = 1024 * 1024 * 1024
MAX_FRAMES = 1000  # frames read of one animation (the first ones)
MAX_ANIMATION_PIXELS = 400_000_000  # pixels of all the frames decoded from one animation
_SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L")
_WIDE_MODES = _SIXTEEN_BIT_MODES + ("I", "F")  # would clip to white under PIL's convert("L")


# ---------------------------------------------------------------------------
# Names


def name_parts(name: str) -> list[str]:
    """PurePosixPath(name).parts of a relative name, without building a path (100,000s of files)."""
    return [part for part in name.split("/") if part not in ("", ".")]


def is_image_name(name: str) -> bool:
    """Whether PurePosixPath(name).suffix, lower-cased, is an image file extension."""
    parts = name_parts(name)
    last = parts[-1] if parts else ""
    dot = last.rfind(".")
    return 0 < dot < len(last) - 1 and last[dot:].lower() in IMAGE_EXTENSIONS


# ---------------------------------------------------------------------------
# Reading files and archive members


class Refusal:
    """A reader that fails with `reason`: the file is skipped and reported like an unreadable one."""

    __slots__ = ("reason",)

    def __init__(self, reason: str):
        self.reason = reason

    def __call__(self) -> bytes:
        raise ValueError(self.reason)


class FileRead:
    """Reads one listed file, in this process or in a decoding process (which then reads it
    itself: the files are not copied through this one). Never through a symbolic link that
    appeared after the listing, never a pipe or a device, never more than `limit` bytes."""

    __slots__ = ("path", "size", "limit")

    def __init__(self, path: str, size: int, limit: int):
        self.path, self.size, self.limit = path, size, limit

    def __call__(self) -> bytes:
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
        try:
            descriptor = os.open(self.path, flags)  # (O_NONBLOCK: opening a pipe does not wait for a writer)
        except OSError as error:
            if error.errno == getattr(errno, "ELOOP", None):
                raise ValueError("a symbolic link (not followed)") from None
            raise ValueError(f"unreadable ({error.strerror or type(error).__name__})") from None
        with open(descriptor, "rb") as handle:
            mode = os.fstat(descriptor).st_mode
            if not stat.S_ISREG(mode):
                raise ValueError("not a regular file")
            data = handle.read(self.limit + 1)
        if len(data) > self.limit:
            raise ValueError(f"file too large (over {self.limit / 2**20:.0f} MiB)")
        return data


def file_reader(path: str | os.PathLike, limit: int | None = None) -> tuple[FileRead | Refusal, object]:
    """(a reader for the file at `path`, what identifies its content: size and time). A file
    that cannot be read or is over `limit` (default MAX_FILE_BYTES) gets a Refusal: it is
    never read. The path itself is not followed if it is a symbolic link."""
    limit = MAX_FILE_BYTES if limit is None else limit
    try:
        status = os.stat(path)
    except OSError as error:
        return Refusal(f"unreadable ({error.strerror or type(error).__name__})"), "error"
    if status.st_size > limit:
        return Refusal(f"file too large ({status.st_size / 2**20:.0f} MiB)"), status.st_size
    return FileRead(str(path), status.st_size, limit), (status.st_size, status.st_mtime_ns)


def read_file(path: str | os.PathLike, limit: int | None = None) -> bytes:
    """The bytes of one picture file, with the guards of `file_reader` (ValueError says why not)."""
    return file_reader(path, limit)[0]()


def open_archive(path: str | os.PathLike) -> zipfile.ZipFile:
    """A .zip file opened for reading its members in memory (DatasetError when it is not one)."""
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise DatasetError(f"{Path(path).name} is not a readable .zip file ({error})") from None


def archive_members(archive: zipfile.ZipFile, source_name: str) -> list[tuple[str, object, object]]:
    """(name, reader, stamp) for each file in the archive, sorted by name. The name is made
    relative ('/x' and 'C:\\x' name nothing outside); the reader reads the member in memory, or
    is a Refusal for a member over MAX_ZIP_MEMBER_BYTES; the stamp identifies its content.
    DatasetError when the whole archive unpacks to more than MAX_ZIP_TOTAL_BYTES."""
    members = [m for m in archive.infolist() if not m.is_dir()]
    total = sum(m.file_size for m in members)
    if total > MAX_ZIP_TOTAL_BYTES:
        raise DatasetError(f"{source_name} unpacks to {total / 2**30:.1f} GiB, over the limit of "
                           f"{MAX_ZIP_TOTAL_BYTES / 2**30:.0f} GiB")
    listed = []
    for member in sorted(members, key=lambda m: m.filename):
        name = member.filename.replace("\\", "/").lstrip("/")
        stamp = (member.CRC, member.file_size, member.compress_size, member.compress_type, member.flag_bits)
        if member.file_size > MAX_ZIP_MEMBER_BYTES:
            read = Refusal(f"file too large ({member.file_size / 2**20:.0f} MiB unpacked)")
        else:
            read = (lambda m=member: read_member(archive, m))
        listed.append((name, read, stamp))
    return listed


def read_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> bytes:
    """A member's bytes, reading at most its declared size + 1 so a member that lies about its
    size is caught."""
    try:
        with archive.open(member) as handle:
            data = handle.read(member.file_size + 1)
    # One damaged member (bad deflate data, a wrong CRC, encrypted, an unknown compression
    # method) costs that file only, not the whole archive.
    except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, OSError, NotImplementedError) as error:
        reason = "encrypted" if member.flag_bits & 0x1 else f"{type(error).__name__}: {str(error)[:80]}"
        raise ValueError(f"unreadable archive member ({reason})") from None
    if len(data) > member.file_size:
        raise ValueError("archive member larger than declared")
    return data


# ---------------------------------------------------------------------------
# Decoding


def open_picture(data: bytes, channels: int = 3):
    """Bytes of a picture file -> an upright 8-bit PIL picture, "RGB" (channels 3) or "L"
    (channels 1), transparency on white: the first frame of an animation, a sideways phone
    photo turned by its EXIF orientation, 16-bit and float pictures scaled to 8 bits.

    Raises ValueError (with a short reason) for anything that is not a readable picture of
    an accepted format, and for a decompression bomb (from its header, before any pixel is
    decoded)."""
    with _guarded_open(data) as picture:
        picture.seek(0)  # first frame of an animation
        picture.load()
        return _flattened(_to_8bit(_upright(picture)), channels)


@contextlib.contextmanager
def _guarded_open(data: bytes):
    """The bytes opened as a PIL picture of an accepted format, with the guards every picture
    that enters passes: a decompression bomb is refused from its header, before any pixel is
    decoded; whatever PIL raises for a corrupt file becomes a ValueError with a short reason."""
    from PIL import Image

    if not data:
        raise ValueError("empty file")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=IMAGE_FORMATS) as picture:
                # Image.open has read the header only: a bomb is refused before any pixel is decoded.
                if picture.width * picture.height > MAX_IMAGE_PIXELS:
                    raise ValueError(f"image too large ({picture.width}x{picture.height} pixels)")
                yield picture
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ValueError("image too large (decompression bomb)") from None
        except ValueError:
            raise
        except Exception as error:  # PIL raises many types for corrupt files
            raise ValueError(f"not a readable image ({type(error).__name__})") from None


def _flattened(picture, channels: int):
    """Transparency on white, then "L" or "RGB"."""
    from PIL import Image

    if picture.mode in ("RGBA", "LA", "PA") or (picture.mode == "P" and "transparency" in picture.info):
        background = Image.new("RGBA", picture.size, (255, 255, 255, 255))
        picture = Image.alpha_composite(background, picture.convert("RGBA"))
    return picture.convert("L" if channels == 1 else "RGB")


def open_frames(data: bytes, channels: int = 3, max_frames: int = MAX_FRAMES) -> list:
    """Bytes of an animation (GIF, WebP, APNG) -> its frames as 8-bit PIL pictures, each as the
    animation shows it (PIL composes GIF frames over the earlier ones), transparency on white;
    at most `max_frames` (the first ones). A still picture gives one frame.

    The guards of `open_picture`, and one more: the frames decoded, all together, stay under
    MAX_ANIMATION_PIXELS (a small animation of a million frames is a bomb too). Raises
    ValueError with a short reason."""
    with _guarded_open(data) as picture:
        count = min(max_frames, getattr(picture, "n_frames", 1),
                    max(1, MAX_ANIMATION_PIXELS // (picture.width * picture.height)))
        frames = []
        for index in range(count):
            picture.seek(index)
            picture.load()
            frames.append(_flattened(_to_8bit(picture.copy()), channels))
        return frames


def fit_picture(picture, resolution: int, channels: int) -> np.ndarray:
    """A PIL picture -> uint8 array (channels, resolution, resolution): centre-cropped to a
    square and resized (bicubic)."""
    from PIL import Image, ImageOps

    picture = ImageOps.fit(picture.convert("L" if channels == 1 else "RGB"), (resolution, resolution),
                           Image.Resampling.BICUBIC)
    array = np.asarray(picture, dtype=np.uint8)
    return array[None] if channels == 1 else array.transpose(2, 0, 1)


def decode_image(data: bytes, resolution: int, channels: int) -> np.ndarray:
    """Bytes of an image file -> uint8 array (C, resolution, resolution), centre-cropped.

    Raises ValueError (with a short reason) for anything that is not a readable image.
    """
    return fit_picture(open_picture(data, channels), resolution, channels)


def _upright(picture):
    """Phone photos are often stored sideways with an EXIF orientation tag: turn them upright."""
    from PIL import ImageOps

    try:
        return ImageOps.exif_transpose(picture)
    except Exception:  # a damaged orientation tag is not worth losing the picture for
        return picture


def _to_8bit(picture):
    """16-bit and float pictures would clip to white under PIL's convert('L').

    A 16-bit mode is scaled by its full range (65535) whatever its content: a dark 16-bit
    picture whose values all lie under 256 stays dark. (Guessing from the largest value, as
    the user's-pairs reader once did, made such a picture 256 times brighter.) Only the
    wide modes that do not say their range (32-bit integers, floats) are read as 8-bit
    values when none is over 255."""
    from PIL import Image

    if picture.mode in _WIDE_MODES:
        array = np.asarray(picture, dtype=np.float64)
        top = 65535.0 if picture.mode in _SIXTEEN_BIT_MODES or array.max() > 255 else 255.0
        return Image.fromarray((array / top * 255).clip(0, 255).astype(np.uint8), mode="L")
    return picture


__all__ = ["IMAGE_EXTENSIONS", "IMAGE_FORMATS", "MAX_IMAGE_PIXELS", "MAX_FILE_BYTES", "MAX_ZIP_MEMBER_BYTES",
           "MAX_ZIP_TOTAL_BYTES", "name_parts", "is_image_name", "Refusal", "FileRead", "file_reader", "read_file",
           "open_archive", "archive_members", "read_member", "open_picture", "open_frames", "fit_picture",
           "decode_image", "MAX_FRAMES", "MAX_ANIMATION_PIXELS"]
