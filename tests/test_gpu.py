"""CUDA paths (marker ``gpu``; skipped without a GPU: ``scripts/gpu_check.sh`` runs them on one)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from molvae.api import MolVAE
from molvae.config import Config, DataConfig, ModelConfig
from molvae.device import autocast
from molvae.model.checkpoint import load_checkpoint, save_checkpoint
from molvae.model.vae import VAE, vae_loss
from molvae.smiles.corpus import load_corpus
from molvae.training.batching import collate

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]
DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def batch() -> tuple:
    corpus = load_corpus(DATA / "small.csv", max_length=60, use_cache=False)
    ids, lengths = collate(corpus.ids, corpus.lengths, np.arange(32))
    config = Config(data=DataConfig(max_length=60, kekule=False),
                    model=ModelConfig(encoder_hidden=64, latent_dim=16, decoder_hidden=64, decoder_layers=2))
    return corpus, config, ids, lengths


def _loss(model: VAE, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    torch.manual_seed(0)
    out = model(ids, lengths)
    return vae_loss(out["logits"], out["targets"], out["mu"], out["logvar"], beta=0.1)["loss"]


def test_cuda_forward_and_gradients_match_cpu(batch) -> None:
    corpus, config, ids, lengths = batch
    torch.manual_seed(0)
    cpu = VAE(config.model, len(corpus.vocab))
    gpu = VAE(config.model, len(corpus.vocab)).cuda()
    gpu.load_state_dict(cpu.state_dict())
    cpu.eval()  # no dropout; the reparameterization noise is drawn on each device: compare the mu paths only
    gpu.eval()
    mu_cpu, _ = cpu.encode(ids, lengths)
    mu_gpu, _ = gpu.encode(ids.cuda(), lengths.cuda())
    assert torch.allclose(mu_cpu, mu_gpu.cpu(), atol=1e-4)
    _loss(gpu, ids.cuda(), lengths.cuda()).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in gpu.parameters() if p.requires_grad)


def test_bf16_autocast_training_step_on_cuda_is_finite(batch) -> None:
    corpus, config, ids, lengths = batch
    model = VAE(config.model, len(corpus.vocab)).cuda()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(3):
        with autocast(torch.device("cuda"), "bf16"):
            loss = _loss(model, ids.cuda(), lengths.cuda())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        assert torch.isfinite(loss)


def test_checkpoint_written_from_cuda_loads_on_cpu_and_decodes_the_same(batch, tmp_path, overfit_model) -> None:
    corpus, config, _, _ = batch
    vae_cpu = MolVAE.load(overfit_model[0], device="cpu")
    vae_gpu = MolVAE.load(overfit_model[0], device="cuda")
    z = vae_cpu.encode(overfit_model[1][:16])
    assert vae_gpu.decode(z) == vae_cpu.decode(z)  # greedy decoding of an overfit model: wide margins
    model = VAE(config.model, len(corpus.vocab)).cuda()
    path = save_checkpoint(tmp_path / "cuda", model, corpus.vocab, config, {"step": 0})
    loaded = load_checkpoint(path).build_model()
    assert all(not t.is_cuda for t in loaded.state_dict().values())
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor.cpu()), name


def test_sampling_on_cuda_gives_valid_molecules(overfit_model) -> None:
    vae = MolVAE.load(overfit_model[0], device="cuda")
    smiles = vae.sample(200, seed=0)
    frame = vae.score(smiles)
    assert len(smiles) == 200 and frame.valid.mean() > 0.5
