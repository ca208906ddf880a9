"""Output files: written to a temporary file in the same folder and renamed, never overwriting without ``force``."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from molvae.errors import ConfigError


def cache_dir() -> Path:
    """Where caches live (token ids, reference sets, the SA fragment table): $MOLVAE_CACHE_DIR, else ~/.cache/molvae."""
    return Path(os.environ.get("MOLVAE_CACHE_DIR") or Path.home() / ".cache" / "molvae")


def atomic_write(target: str | Path, data: bytes) -> None:
    """Write bytes to a temporary file beside ``target``, fsync it, then rename it over ``target``."""
    target = Path(target)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
    try:  # make the rename itself durable
        fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:  # pragma: no cover - some file systems do not allow fsync on folders
        pass


def check_writable(target: str | Path | None, force: bool, suffixes: tuple[str, ...] = ()) -> None:
    """Raise before any work if ``target`` exists (without ``force``), is a folder, sits in a missing folder, or has
    a suffix other than ``suffixes``."""
    if target is None:
        return
    target = Path(target)
    if target.is_dir():
        raise ConfigError(f"output {target} is a directory; expected a file path")
    if target.exists() and not force:
        raise ConfigError(f"output {target} exists; pass --force to overwrite it")
    if not target.parent.is_dir():
        raise ConfigError(f"output folder {target.parent} does not exist")
    if suffixes and not target.name.lower().endswith(suffixes):
        raise ConfigError(f"output {target}: expected a file ending in {' or '.join(suffixes)}")


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False, lineterminator="\n").encode()


def write_csv(frame: pd.DataFrame, target: str | Path) -> None:
    atomic_write(target, csv_bytes(frame))


def write_array(array: np.ndarray, target: str | Path) -> None:
    """A .npy file (or a CSV with columns z0..z{Z-1} for a .csv target)."""
    target = Path(target)
    if target.suffix.lower() == ".csv":
        write_csv(pd.DataFrame(array, columns=[f"z{i}" for i in range(array.shape[1])]), target)
        return
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    atomic_write(target, buffer.getvalue())


def read_array(source: str | Path) -> np.ndarray:
    """z vectors from a .npy file (no pickles), an .npz of one array, or a CSV of numbers; raises ``ConfigError``
    naming the problem."""
    source = Path(source)
    if not source.is_file():
        raise ConfigError(f"{source}: no such file")
    try:
        if source.suffix.lower() == ".csv":
            return pd.read_csv(source).to_numpy(dtype=np.float32)
        loaded = np.load(source, allow_pickle=False)
        if isinstance(loaded, np.lib.npyio.NpzFile):  # an .npz archive: its one array, else say which are there
            with loaded:
                if len(loaded.files) != 1:
                    raise ConfigError(f"{source} is an .npz archive of {len(loaded.files)} arrays "
                                      f"({', '.join(loaded.files)}); give one array (.npy or .npz of one)")
                return loaded[loaded.files[0]]
        return loaded
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ConfigError(f"{source} is not a .npy array or CSV of numbers: {exc}") from exc
