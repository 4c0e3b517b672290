"""Private files for health data: folders 0700, files 0600, whatever the process umask.

The store, its ``-wal``/``-shm`` companions, exports and reports hold personal health data, so
only the owner may read them (GDPR art. 32, "security of processing"; OWASP ASVS 4.0 V8.3,
"sensitive private data"). ``os.open(..., 0o600)`` and ``os.mkdir(..., 0o700)`` are narrowed by
the umask but never widened by it; a file or folder that already exists is narrowed with
``chmod`` too, so a copy made by hand with 0644 becomes private on the next write.

Pure standard library (lowest layer): every writer may use it.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["FILE_MODE", "DIR_MODE", "private_dir", "private_file", "write_private"]

FILE_MODE = 0o600
"""Mode of every health-data file: read and write for the owner only."""
DIR_MODE = 0o700
"""Mode of every folder created for health data."""


def private_dir(path: str | Path) -> Path:
    """Create ``path`` and any missing parents as 0700 folders; return it.

    Folders that already exist are left as they are (``/tmp`` or a home folder must not be
    changed); only the ones created here get 0700.
    """
    p = Path(path)
    missing: list[Path] = []
    cur = p
    while not cur.exists():
        missing.append(cur)
        if cur.parent == cur:
            break
        cur = cur.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue
        os.chmod(folder, DIR_MODE)
    return p


def private_file(path: str | Path) -> Path:
    """Make sure ``path`` exists as a 0600 file (created empty if missing); return it.

    Its parent folders are created with :func:`private_dir`. An existing file keeps its content
    and is narrowed to 0600.
    """
    p = Path(path)
    private_dir(p.parent)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return p


def write_private(path: str | Path, data: bytes | str) -> Path:
    """Write ``data`` (``str`` as UTF-8) to ``path`` as a 0600 file, replacing its content."""
    body = data.encode("utf-8") if isinstance(data, str) else data
    p = private_file(path)
    with open(p, "wb") as fh:  # the file exists as 0600: opening it does not widen the mode
        fh.write(body)
    return p
