"""The model that ships inside the package (``molvae/models/default.safetensors``), checked against its sha256."""

from __future__ import annotations

from pathlib import Path

from molvae.errors import CheckpointError
from molvae.smiles.files import file_sha256

BUNDLED_MODEL = Path(__file__).parent.parent / "models" / "default.safetensors"


def bundled_model_path(path: Path = BUNDLED_MODEL) -> Path:
    """The bundled model's file, after checking its sha256 against the one recorded beside it."""
    record = path.with_suffix(".sha256")
    if not path.exists() or not record.exists():
        raise CheckpointError("no bundled default model is installed with this copy of molvae; pass --model (a run "
                              "folder or a .safetensors file written by `molvae train`)")
    expected = record.read_text().split()[0]
    actual = file_sha256(path)
    if actual != expected:
        raise CheckpointError(f"the bundled model {path} is damaged (sha256 {actual[:12]}..., expected "
                              f"{expected[:12]}...); reinstall molvae")
    return path
