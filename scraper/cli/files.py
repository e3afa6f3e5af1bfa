"""Files the command line writes whole or not at all: export's ``-o`` and the config file."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from ..models import UsageError


@contextmanager
def written_whole(path: Path, *, sync: bool = False) -> Iterator[BinaryIO]:
    """A file beside ``path`` to write, renamed over it once the block ends without error.

    A failure or a kill leaves the old file, or none, never a part of one. Through a
    symlink the file it names is replaced; the new file keeps the mode of the one it
    replaces, else gets what ``open()`` would give. ``sync``: on disk before the rename.
    UsageError (one line, naming ``path``) when the file cannot be written (an OSError:
    no directory, a read-only or full disk); other errors go up as they are.
    """
    real = path.resolve()
    try:
        mode = real.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    except OSError as err:
        raise UsageError(f"cannot write {path}: {err.strerror or err}") from None
    try:
        fd, temp = tempfile.mkstemp(dir=real.parent, prefix=f".{real.name}.", suffix=".part")
    except OSError as err:  # a missing directory, a read-only disk
        raise UsageError(f"cannot write {path}: {err.strerror or err}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            if sync:
                handle.flush()
                os.fsync(handle.fileno())
        os.chmod(temp, mode)
        os.replace(temp, real)
    except OSError as err:
        Path(temp).unlink(missing_ok=True)
        raise UsageError(f"cannot write {path}: {err.strerror or err}") from None
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process's umask (only readable by setting it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask
