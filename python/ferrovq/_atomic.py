"""Output files written whole or not at all: the new content goes to a temporary file in the
same folder, which is renamed onto the target only once it is complete and on disk. An
interruption, a full disk or a write error leaves the old file (or none) in place, never a
truncated one."""

from __future__ import annotations

import os
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path

__all__ = ["replace_atomically"]


@contextmanager
def replace_atomically(path):
    """Yield a binary file for the new content of `path`; put it in place when the block
    ends normally, and remove it if the block raises (including KeyboardInterrupt).

    A target that exists and is not a regular file (a device such as ``/dev/full``, a pipe,
    a terminal) cannot be renamed onto: it is written directly. A new file gets the
    permissions ``open`` would give it; a replaced file keeps its own.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from ferrovq._atomic import replace_atomically
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
    >>> with replace_atomically(target) as f:
    ...     _ = f.write(b"complete")
    >>> target.read_text()
    'complete'
    """
    path = Path(path)
    try:
        old_mode = path.stat().st_mode
    except FileNotFoundError:
        old_mode = None
    if old_mode is not None and not stat.S_ISREG(old_mode):
        with open(path, "wb") as f:
            yield f
        return
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, stat.S_IMODE(old_mode) if old_mode is not None else 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)


def _umask():
    """The process's umask (reading it means setting it; it is set back at once)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _sync_folder(folder):
    """Make the rename itself durable (best effort: not every file system allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
