"""Helpers for tests that check a folder on disk was left exactly as it was."""

import hashlib
from pathlib import Path


def folder_digest(folder: Path) -> str:
    """One hash of every path under `folder` and every file's bytes: equal digests, same tree."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        digest.update(path.relative_to(folder).as_posix().encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()
