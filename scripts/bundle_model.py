"""Put a trained model into the package as a bundled model (molvae/models/NAME.safetensors + .sha256).

Usage: python scripts/bundle_model.py RUN_FOLDER_OR_CHECKPOINT --temperature 0.8 [--name default|zinc250k]

Writes the weights only (no optimizer state), the property predictor and aggregate posterior if the model has them,
the hashes of its training molecules (so `molvae sample` reports novelty without the data file; the training file
must be where training read it), and the sampling temperature the model card recommends (``molvae sample`` uses it
unless given --temperature). The sha256 written beside it is checked every time the bundled model is loaded.
"""

from __future__ import annotations

import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIMIT_MIB = {"default": 25, "zinc250k": 10}  # what the wheel may carry of each


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    parser.add_argument("--temperature", type=float, required=True, help="the model card's sampling temperature")
    parser.add_argument("--name", choices=sorted(LIMIT_MIB), default="default", help="which bundled model")
    args = parser.parse_args()

    from molvae import MolVAE
    from molvae.api import BUNDLED_MODEL
    from molvae.smiles.files import file_sha256

    vae = MolVAE.load(args.model)
    vae.sample_temperature = args.temperature
    n_training = vae.store_training_set()
    target = BUNDLED_MODEL.with_name(f"{args.name}.safetensors")
    target.parent.mkdir(exist_ok=True)
    vae.save(target, force=True)
    size = target.stat().st_size
    if size > LIMIT_MIB[args.name] * 2**20:
        target.unlink()
        raise SystemExit(f"{args.model}: {size / 2**20:.1f} MiB is over the {LIMIT_MIB[args.name]} MiB the wheel may "
                         f"carry of {args.name!r}")
    digest = file_sha256(target)
    target.with_suffix(".sha256").write_text(f"{digest}  {target.name}\n")
    print(f"{target.relative_to(ROOT)}: {size / 2**20:.1f} MiB, sha256 {digest}, temperature {args.temperature:g}, "
          f"{n_training:,} training molecules hashed")


if __name__ == "__main__":
    main()
