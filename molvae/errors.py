"""The errors molvae raises for anything a user passes in that is wrong.

Every message names the bad value and what would be accepted. The CLI turns a ``MolVAEError`` into a one-line
message and the exit code in ``exit_code`` (documented in the README); anything else is a bug.
"""

from __future__ import annotations


class MolVAEError(Exception):
    """Base class of molvae's own errors."""

    exit_code = 1


class ConfigError(MolVAEError, ValueError):
    """A setting (config file key, CLI option, function argument) is out of range or unknown."""

    exit_code = 2


class DataError(MolVAEError, ValueError):
    """An input file cannot be read, or holds no usable molecule."""

    exit_code = 3


class TokenizeError(MolVAEError, ValueError):
    """A string holds characters no SMILES token matches."""

    exit_code = 3


class VocabularyError(MolVAEError, ValueError):
    """A molecule holds tokens the vocabulary lacks, or is longer than the maximum length."""

    exit_code = 3


class CheckpointError(MolVAEError, ValueError):
    """A checkpoint is missing, truncated, altered, or incompatible with this version."""

    exit_code = 4


class TrainingError(MolVAEError, RuntimeError):
    """Training cannot go on (a non-finite loss, say); the last good checkpoint is kept."""

    exit_code = 5


class OptimizationError(MolVAEError, RuntimeError):
    """The user's objective failed during latent optimization; ``results`` holds the rows found before it did."""

    exit_code = 6

    def __init__(self, message: str, results: object = None) -> None:
        super().__init__(message)
        self.results = results


class OutputError(MolVAEError, OSError):
    """The operating system refused to read or write a file (no space, read-only, permission, a folder where a file
    was expected, a missing parent folder), or the work was interrupted; the message says what was kept."""

    exit_code = 7

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.exit_code = code


class RunLockedError(MolVAEError, RuntimeError):
    """Another process is training in this run folder."""

    exit_code = 8


def describe_os_error(exc: OSError) -> str:
    """One line for an OSError: what the system said about which path, and what to do about it."""
    path = exc.filename or "a file"
    hints = {28: "free some space or write elsewhere", 30: "the file system is read-only: write elsewhere",
             13: "check the permissions, or write elsewhere", 21: "a folder is in the way: give a file path",
             20: "a part of the path is a file, not a folder", 2: "check that the folder exists",
             122: "the disk quota is exceeded: free some space"}
    hint = hints.get(exc.errno or -1, "check the path and the disk")
    return f"{path}: {exc.strerror or exc} ({hint})"
