"""Output files: written to a temporary file in the same folder and renamed, never overwriting without ``force``."""

from __future__ import annotations

import contextlib
import io
import json
import os
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


class CacheWarning(UserWarning):
    """A cache file could not be written; the work goes on without it (only slower next time)."""


def write_cache(target: Path, data: bytes) -> bool:
    """Write a cache file (atomically, creating its folder); a refusal by the system is a warning, not an error."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(target, data)
        return True
    except OSError as exc:
        warnings.warn(f"cache {target} not written ({exc.strerror or exc}); going on without it (set "
                      "MOLVAE_CACHE_DIR to a writable folder to keep caches)", CacheWarning, stacklevel=2)
        return False


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


TABLE_SUFFIXES = (".csv", ".csv.gz", ".parquet")


class TableWriter:
    """Rows appended chunk by chunk to a CSV, gzipped CSV or Parquet file (by suffix), written aside as
    ``.NAME.PID.tmp`` and renamed to NAME by ``commit``: the file appears complete or not at all. ``abort`` keeps
    what was written as ``NAME.partial`` (never mistaken for a finished file) and says how many rows it holds."""

    def __init__(self, target: str | Path) -> None:
        self.target = Path(target)
        name = self.target.name.lower()
        if not name.endswith(TABLE_SUFFIXES):
            raise ConfigError(f"output {self.target}: expected a file ending in {', '.join(TABLE_SUFFIXES)}")
        self.kind = "parquet" if name.endswith(".parquet") else "gz" if name.endswith(".gz") else "csv"
        self.tmp = self.target.with_name(f".{self.target.name}.{os.getpid()}.tmp")
        self.rows = 0
        self._handle = None
        self._parquet = None
        if self.kind == "parquet":
            try:
                import pyarrow  # noqa: F401
            except ImportError as exc:
                raise ConfigError(f"output {self.target}: Parquet needs pyarrow (pip install 'molvae[parquet]'); "
                                  "or write .csv / .csv.gz") from exc

    def write(self, frame: pd.DataFrame) -> None:
        """Append the rows of ``frame`` (the first frame fixes the columns)."""
        if self.kind == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(frame, preserve_index=False)
            if self._parquet is None:
                self._parquet = pq.ParquetWriter(self.tmp, table.schema)
            self._parquet.write_table(table)
        else:
            if self._handle is None:
                import gzip

                self._handle = gzip.open(self.tmp, "wb") if self.kind == "gz" else open(self.tmp, "wb")
            self._handle.write(frame.to_csv(index=False, header=self.rows == 0, lineterminator="\n").encode())
        self.rows += len(frame)

    def _close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
            self._parquet = None
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def commit(self) -> Path:
        """Finish the file and rename it into place; returns its path."""
        if self.rows == 0 and self._handle is None and self._parquet is None:  # nothing written: an empty table
            self.write(pd.DataFrame())
        self._close()
        with open(self.tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(self.tmp, self.target)
        return self.target

    def abort(self) -> str:
        """Keep what was written as NAME.partial (removed when it cannot be closed, e.g. on a full disk); returns a
        sentence saying where the rows are."""
        try:
            self._close()
            if self.tmp.exists():
                partial = self.target.with_name(self.target.name + ".partial")
                os.replace(self.tmp, partial)
                return f"{self.rows} rows were written to {partial} (incomplete; {self.target} was not created)"
        except OSError:
            self.tmp.unlink(missing_ok=True)
        return f"no file was kept ({self.rows} rows had been written; {self.target} was not created)"


def process_identity(pid: int) -> str:
    """``boot/pid/start``: a process told apart from a later one given the same pid (Linux; elsewhere ``pid``)."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        start = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return str(pid)
    return f"{boot}/{pid}/{start}"


def _alive(identity: str) -> bool:
    """Whether the process of a ``process_identity`` is still running (the same process, not a reused pid)."""
    pid = int(identity.split("/")[1] if "/" in identity else identity)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - another user's process
        pass
    return process_identity(pid) == identity


class StageLog:
    """The finished stages of a long run (a benchmark's tasks), one JSON line each, so a run stopped part way goes on
    where it stopped.

    The first line holds the run's settings. A log written with other settings is renamed to ``<name>.stale`` (and
    said so) rather than mixed in; a last line cut short by a kill is dropped and its stage is run again. Two processes
    can share one log (one per core): reading and appending hold an exclusive lock, and a process ``claim``s a stage
    before it runs it, so the other skips it while the claimant is alive (a claim by a process that has ended is void).
    """

    def __init__(self, path: str | Path, settings: dict[str, Any]) -> None:
        self.path = Path(path)
        self.settings = json.loads(json.dumps(settings))  # as it reads back from JSON
        self.stages: dict[str, Any] = {}
        self.claims: dict[str, str] = {}  # stage -> the claimant's process_identity
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._locked():
            if self.path.exists() and self.path.stat().st_size > 0:
                self._read()
            if not self.path.exists() or self.path.stat().st_size == 0:
                self._write_line({"settings": self.settings})

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """An exclusive lock (a ``.lock`` file beside the log, which a rename of the log leaves in place); none where
        the system has no ``fcntl`` (Windows: one process per log there)."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            yield
            return
        with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _read(self) -> None:
        if not self.path.exists():  # removed by a process that wrote the report
            return
        lines = self.path.read_text().splitlines()
        try:
            first = json.loads(lines[0]).get("settings")
        except (json.JSONDecodeError, AttributeError):
            first = None
        if first != self.settings:
            stale = self.path.with_name(self.path.name + ".stale")
            os.replace(self.path, stale)
            print(f"{self.path} was written with other settings; set aside as {stale}, starting afresh", flush=True)
            return
        for number, line in enumerate(lines[1:], start=2):
            try:
                entry = json.loads(line)
                if "claim" in entry:
                    self.claims[entry["claim"]] = entry["by"]
                else:
                    self.stages[entry["stage"]] = entry["result"]
            except (json.JSONDecodeError, KeyError, TypeError):
                if number != len(lines):
                    raise ConfigError(f"{self.path}: line {number} is damaged; remove the file to start afresh") from None
                self.path.write_text("\n".join(lines[: number - 1]) + "\n")  # a last line cut short by a kill

    @property
    def resumed(self) -> bool:
        """Whether stages of an earlier run were read back."""
        return bool(self.stages)

    def get(self, stage: str) -> Any | None:
        """The result of a finished stage, or None."""
        return self.stages.get(stage)

    def put(self, stage: str, result: Any) -> None:
        """Record a finished stage (flushed to disk before the run goes on)."""
        self.stages[stage] = result
        with self._locked():
            self._write_line({"stage": stage, "result": result})

    def claim(self, stage: str) -> bool:
        """Whether this process may run ``stage`` (and then it is claimed): not yet logged, and not claimed by another
        process that is still running."""
        with self._locked():
            self._read()
            me = process_identity(os.getpid())
            other = self.claims.get(stage)
            if stage in self.stages or (other not in (None, me) and _alive(other)):
                return False
            self._write_line({"claim": stage, "by": me})
            self.claims[stage] = me
            return True

    def pending(self, stages: list[str]) -> list[str]:
        """Those of ``stages`` not yet logged, read afresh (another process may have logged some since)."""
        with self._locked():
            self._read()
        return [stage for stage in stages if stage not in self.stages]

    def remove(self) -> None:
        """Delete the log (and its lock file) once the run's report is written."""
        self.path.unlink(missing_ok=True)
        self.path.with_name(self.path.name + ".lock").unlink(missing_ok=True)

    def _write_line(self, row: dict[str, Any]) -> None:
        with self.path.open("a") as handle:
            handle.write(json.dumps(row) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
