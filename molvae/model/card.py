"""A model's card from its checkpoint alone: what it was trained on (and fine-tuned from), what its vocabulary can
and cannot express, its architecture, training length, stored figures and recommended temperature."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from molvae.model.checkpoint import Checkpoint
from molvae.smiles.files import file_sha256
from molvae.smiles.tokenizer import SPECIALS

# What a vocabulary needs to express each feature of a molecule: (feature, test on the set of tokens)
FEATURES = {
    "stereocentres (@)": lambda toks: any("@" in t for t in toks),
    "double-bond geometry (/ \\)": lambda toks: "/" in toks or "\\" in toks,
    "charged atoms": lambda toks: any(t.startswith("[") and ("+" in t or "-" in t) for t in toks),
    "several fragments (.)": lambda toks: "." in toks,
    "phosphorus (P)": lambda toks: any(t in ("P", "p") or t.startswith("[P") for t in toks),
    "iodine (I)": lambda toks: "I" in toks,
    "boron, silicon, selenium": lambda toks: any(t in ("B", "b") or t.startswith(("[B", "[Si", "[Se", "[se"))
                                                 for t in toks),
    "isotopes ([2H], [13C])": lambda toks: any(t.startswith("[") and t[1].isdigit() for t in toks),
}


def card(checkpoint: Checkpoint, path: Path) -> dict[str, Any]:
    """The card as plain values (JSON-ready)."""
    tokens = checkpoint.vocab.tokens[len(SPECIALS):]
    state = checkpoint.train_state
    config = checkpoint.config
    return {
        "file": str(path), "sha256": file_sha256(path), "size_mb": round(path.stat().st_size / 2**20, 2),
        "data": state.get("data", {}), "fine_tuned_from": state.get("init_from"),
        "vocabulary": {"size": len(tokens), "tokens": tokens, "max_length": checkpoint.vocab.max_length,
                       "form": "Kekulé" if config.data.kekule else "aromatic",
                       "can_express": [f for f, test in FEATURES.items() if test(tokens)],
                       "cannot_express": [f for f, test in FEATURES.items() if not test(tokens)]},
        "architecture": config.to_dict()["model"],
        "parameters": sum(t.numel() for k, t in checkpoint.model_state.items() if not k.endswith(("mean", "std"))),
        "training": {"steps": state.get("step"), "epochs": state.get("epoch"),
                     "hours": round(state.get("elapsed_s", 0.0) / 3600, 2), "processes": state.get("world_size", 1),
                     "device": config.train.device, "precision": config.train.precision,
                     "best_validation_loss": state.get("best_val_loss")},
        "property_predictor": state.get("property_errors") or ({"columns": config.data.property_list}
                                                               if config.data.property_list else None),
        "recommended_temperature": checkpoint.extra.get("sample_temperature", 1.0),
        "sample_source": checkpoint.extra.get("sample_source", "prior"),
        "prior_fit": checkpoint.extra.get("prior_fit"),
        "stores": sorted(checkpoint.extra_tensors),
        "versions": checkpoint.versions,
    }


def card_text(info: dict[str, Any]) -> str:
    """The card as a few lines for a terminal."""
    data, vocab, training = info["data"], info["vocabulary"], info["training"]
    lines = [f"model        {info['file']} ({info['size_mb']} MB, sha256 {info['sha256']})",
             f"trained on   {data.get('path', '(not recorded)')}: {data.get('n_molecules', '?')} molecules "
             f"(sha256 {str(data.get('sha256', ''))[:12]}...)"]
    if info["fine_tuned_from"]:
        init = info["fine_tuned_from"]
        lines.append(f"fine-tuned   from {init['path']} (sha256 {init['sha256'][:12]}...); new tokens: "
                     f"{', '.join(init['new_tokens']) or 'none'}; property predictor {init['property_head']}")
    lines += [f"vocabulary   {vocab['size']} tokens, {vocab['form']}, max {vocab['max_length']}: {' '.join(vocab['tokens'])}",
              f"cannot read  {', '.join(vocab['cannot_express']) or 'nothing listed'}",
              f"architecture {info['architecture']}, {info['parameters']:,} parameters",
              f"training     {training['steps']} steps, {training['epochs']} epochs, {training['hours']} h on "
              f"{training['processes']} process(es), device {training['device']}, {training['precision']}; best "
              f"validation loss {training['best_validation_loss']}",
              f"temperature  {info['recommended_temperature']} (recommended for sampling)"]
    if info["prior_fit"]:
        fit = info["prior_fit"]
        how = "the posteriors of" if fit.get("method") == "exemplar" else "fitted to the codes of"
        widen = f", widened {fit['widen']:g}x" if fit.get("widen", 1.0) != 1.0 else ""
        what = ("a spline flow" if fit.get("method") == "flow" else f"{fit['n_components']} Gaussians")
        lines.append(f"z drawn from {info['sample_source']}: {what}, {how} {fit['n_molecules']} molecules of "
                     f"{fit['data']}{widen}")
    if info["property_predictor"]:
        lines.append(f"predictor    {info['property_predictor']}")
    lines.append(f"versions     {info['versions']}")
    return "\n".join(lines)
