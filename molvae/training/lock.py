"""One trainer per run folder: an OS-level lock (``flock`` on ``RUN/.lock``) that dies with its process, so a
kill -9 never leaves a stale lock; the holder's pid is written in the file for the error message."""

from __future__ import annotations

import os
from pathlib import Path

from molvae.errors import RunLockedError

LOCK_NAME = ".lock"


class RunLock:
    """Held from ``acquire`` until ``release`` (or the process ends)."""

    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / LOCK_NAME
        self.fd: int | None = None

    def acquire(self) -> RunLock:
        """Take the lock or raise ``RunLockedError`` naming the process that holds it."""
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise RunLockedError(f"run folder {self.path.parent} is in use by another trainer (pid {holder}); "
                                 "wait for it to end, or stop it first") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the descriptor drops the flock
            self.fd = None
