"""Run under torchrun by tests/test_distributed.py: train the tiny config, then dump this rank's parameters.

Usage: ddp_worker.py DATA CONFIG OUT DUMP_DIR BATCH_SIZE MAX_STEPS
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from safetensors.torch import save_file

from molvae.config import load_config
from molvae.training.train import fit

data, config_path, out, dump, batch_size, max_steps = sys.argv[1:7]
config = load_config(config_path).with_overrides(
    {"batch_size": int(batch_size), "max_steps": int(max_steps), "epochs": 100, "log_every": 5, "val_every": 1000,
     "n_val_samples": 8, "n_val_reconstruct": 8, "n_aggregate": 64, "kl_schedule": "constant", "kl_weight": 0.05}
)
result = fit(data, config, out=out, progress=False)
rank = int(os.environ.get("RANK", "0"))
state = {k: v.detach().cpu().contiguous() for k, v in result.model.state_dict().items()}
save_file(state, str(Path(dump) / f"rank{rank}.safetensors"))
