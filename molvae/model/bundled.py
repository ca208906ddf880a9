"""The models that ship inside the package (``molvae/models/NAME.safetensors``), checked against their sha256.

``default`` (MOSES/ZINC, neutral, no stereo) is what every command uses without ``--model``; ``zinc250k`` (the
default fine-tuned on ZINC-250k's own dialect: charged amines, stereocentres) is the model of the optimization
benchmarks. A name is read as a bundled model only when no file or folder of that name exists.
"""

from __future__ import annotations

from pathlib import Path

from molvae.errors import CheckpointError
from molvae.smiles.files import file_sha256

BUNDLED_MODEL = Path(__file__).parent.parent / "models" / "default.safetensors"
BUNDLED_NAMES = {"default": "default", "bundled": "default", "zinc250k": "zinc250k"}  # name -> file stem


def bundled_model_path(path: Path = BUNDLED_MODEL) -> Path:
    """A bundled model's file, after checking its sha256 against the one recorded beside it."""
    record = path.with_suffix(".sha256")
    if not path.exists() or not record.exists():
        raise CheckpointError(f"no bundled model {path.stem!r} is installed with this copy of molvae; pass --model "
                              "(a run folder or a .safetensors file written by `molvae train`)")
    expected = record.read_text().split()[0]
    actual = file_sha256(path)
    if actual != expected:
        raise CheckpointError(f"the bundled model {path} is damaged (sha256 {actual[:12]}..., expected "
                              f"{expected[:12]}...); reinstall molvae")
    return path


def named_model_path(spec: str | Path | None, default: Path = BUNDLED_MODEL) -> Path | None:
    """The bundled file ``spec`` names (None: the default model; 'default', 'bundled', 'zinc250k'), or None when
    ``spec`` is not a bundled name or is an existing path. ``default``: the default model's file (its folder holds
    the others)."""
    if spec is None:
        return bundled_model_path(default)
    text = str(spec)
    if text in BUNDLED_NAMES and not Path(text).exists():
        return bundled_model_path(default.with_name(f"{BUNDLED_NAMES[text]}.safetensors"))
    return None
