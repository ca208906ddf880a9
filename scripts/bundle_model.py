"""Put a trained model into the package as a bundled model (molvae/models/NAME.safetensors + .sha256).

Usage: python scripts/bundle_model.py RUN_FOLDER_OR_CHECKPOINT --temperature 0.8 [--name default|zinc250k]
       [--also-trained-on FILE ...]

Writes the weights only (no optimizer state), the property predictor and aggregate posterior if the model has them,
the fitted prior it samples from (a flow or a mixture; a second fitted prior it does not sample from is left out),
the hashes of its training molecules (so `molvae sample` reports novelty without the data file; the training file
must be where training read it), and the sampling temperature the model card recommends (``molvae sample`` uses it
unless given --temperature). The sha256 written beside it is checked every time the bundled model is loaded.
"""

from __future__ import annotations

import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIMIT_MB = {"default": 25, "zinc250k": 25}  # what the wheel may carry of each (10^6 bytes, as the issues state it)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    parser.add_argument("--temperature", type=float, required=True, help="the model card's sampling temperature")
    parser.add_argument("--name", choices=sorted(LIMIT_MB), default="default", help="which bundled model")
    parser.add_argument("--also-trained-on", type=Path, nargs="*", default=[], metavar="FILE",
                        help="training files of the models it was fine-tuned from: their molecules count as "
                             "not novel too")
    args = parser.parse_args()

    from molvae import MolVAE
    from molvae.api import BUNDLED_MODEL
    from molvae.smiles.files import file_sha256

    vae = MolVAE.load(args.model)
    vae.sample_temperature = args.temperature
    dropped = drop_unused_prior(vae.checkpoint)
    n_training = vae.store_training_set()
    if args.also_trained_on:
        n_training = add_training_files(vae, args.also_trained_on)
    target = BUNDLED_MODEL.with_name(f"{args.name}.safetensors")
    target.parent.mkdir(exist_ok=True)
    vae.save(target, force=True)
    size = target.stat().st_size
    if size > LIMIT_MB[args.name] * 10**6:
        target.unlink()
        raise SystemExit(f"{args.model}: {size / 10**6:.1f} MB is over the {LIMIT_MB[args.name]} MB the wheel may "
                         f"carry of {args.name!r}")
    digest = file_sha256(target)
    target.with_suffix(".sha256").write_text(f"{digest}  {target.name}\n")
    print(f"{target.relative_to(ROOT)}: {size / 2**20:.1f} MiB, sha256 {digest}, temperature {args.temperature:g}, "
          f"{n_training:,} training molecules hashed" + (f"; left out the {dropped} prior it does not sample from"
                                                          if dropped else ""))


def add_training_files(vae, paths: list[Path]) -> int:  # noqa: ANN001
    """Merge the hashes of more training files (read as the model reads its own) into the stored ones; how many."""
    import numpy as np
    import torch

    table = vae.checkpoint.extra_tensors["training_hashes"].numpy()
    for path in paths:
        table = np.union1d(table, vae.file_hashes(path))
    vae.checkpoint.extra_tensors["training_hashes"] = torch.from_numpy(table)
    return len(table)


def drop_unused_prior(checkpoint) -> str | None:  # noqa: ANN001
    """Remove a fitted prior the model does not sample from (its tensors and JSON); its name, or None."""
    from molvae.model import flow, prior

    unused = {"mixture": "flow", "flow": "mixture"}.get(checkpoint.extra.get("sample_source"))
    prefix = {"flow": flow.PREFIX, "mixture": prior.PREFIX}.get(unused, "")
    stale = [k for k in checkpoint.extra_tensors if prefix and k.startswith(prefix)]
    if not stale:
        return None
    for key in stale:
        del checkpoint.extra_tensors[key]
    if unused == "flow":
        checkpoint.extra.pop(flow.SPEC_KEY, None)
    return unused


if __name__ == "__main__":
    main()
