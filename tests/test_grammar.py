from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch
from rdkit import Chem

from molvae.config import ModelConfig
from molvae.model.sampling import beam_search_ids, decode_ids
from molvae.model.vae import VAE
from molvae.smiles.grammar import ATOM, BOND, CLOSE, DOT, OPEN, RING, SPECIAL, SmilesSyntax, token_kind
from molvae.smiles.tokenizer import EOS_ID, Vocabulary, tokenize

DATA = Path(__file__).parent / "data" / "small.csv"
TRICKY = [
    "C", "CC(=O)O", "C1CC1", "C%10CC%10", "C=1CCCC=1", "C12CC1CC2", "C1CC.C1", "c1ccc2c(c1)CCC2", "[NH4+].[Cl-]",
    "C/C=C/C", "C[C@@H](N)C(=O)O", "C(C)(C)C", "C1CC(CC1)C", "N1CC1.C1CC1", "CC(C(C)C)C",
]


def vocabulary() -> Vocabulary:
    smiles = list(pd.read_csv(DATA)["smiles"]) + TRICKY
    return Vocabulary.build(smiles, max_length=120)


def accepts(syntax: SmilesSyntax, vocab: Vocabulary, smiles: str) -> bool:
    """Whether the mask allows every token of smiles in turn and then the end."""
    state = syntax.start(1, 120)
    for token in tokenize(smiles):
        token_id = vocab.index[token]
        if not bool(syntax.allowed(state)[0, token_id]):
            return False
        state = syntax.advance(state, torch.tensor([token_id]))
    return bool(syntax.allowed(state)[0, EOS_ID])


def untrained_model(vocab: Vocabulary, seed: int) -> VAE:
    torch.manual_seed(seed)
    return VAE(ModelConfig(encoder_hidden=16, latent_dim=4, decoder_hidden=24), len(vocab)).eval()


def test_token_kinds() -> None:
    assert [token_kind(t) for t in ["C", "Cl", "[nH]", "c", "*", "=", "#", "/", "(", ")", "1", "%12", ".", "<eos>"]] \
        == [ATOM] * 5 + [BOND] * 3 + [OPEN, CLOSE, RING, RING, DOT, SPECIAL]


def test_every_valid_training_and_hand_made_smiles_is_allowed() -> None:
    vocab = vocabulary()
    syntax = SmilesSyntax(vocab)
    molecules = [s for s in list(pd.read_csv(DATA)["smiles"]) + TRICKY if Chem.MolFromSmiles(s) is not None]
    assert len(molecules) > 50
    refused = [s for s in molecules if not accepts(syntax, vocab, s)]
    assert refused == []


@pytest.mark.parametrize("smiles", ["C)", "(C)", "C()", "C(C", "C1CC", "C=", "C(=)C", "C11", "=C", ".C", "C.",
                                    "C=(C)C", "C1CC1)", "C1C1", "CC1(C1)"])
def test_syntax_errors_are_refused(smiles: str) -> None:
    vocab = vocabulary()
    assert Chem.MolFromSmiles(smiles, sanitize=False) is None  # the case really is a syntax error
    assert not accepts(SmilesSyntax(vocab), vocab, smiles)


def test_ring_label_reopens_after_it_closed() -> None:
    vocab = vocabulary()
    assert accepts(SmilesSyntax(vocab), vocab, "C1CC1C1CC1")


def test_masked_sampling_from_an_untrained_model_gives_only_syntactically_valid_strings() -> None:
    vocab = vocabulary()
    syntax = SmilesSyntax(vocab)
    model = untrained_model(vocab, 0)
    z = torch.randn(500, 4)
    plain = vocab.decode(decode_ids(model, z, 80, temperature=1.5, generator=torch.Generator().manual_seed(1)))
    ids = decode_ids(model, z, 80, temperature=1.5, generator=torch.Generator().manual_seed(1), syntax=syntax)
    ended = [EOS_ID in row[:-1] for row in ids.tolist()]  # a row cut at max_length may be unfinished
    masked = vocab.decode(ids)
    assert sum(ended) >= 30
    assert all(Chem.MolFromSmiles(s, sanitize=False) is not None for s, e in zip(masked, ended) if e)
    assert sum(Chem.MolFromSmiles(s, sanitize=False) is None for s in plain) > 100  # without the mask: garbage


def test_masked_greedy_and_beam_search_agree_at_width_one() -> None:
    vocab = vocabulary()
    syntax = SmilesSyntax(vocab)
    model = untrained_model(vocab, 1)
    z = torch.randn(40, 4)
    greedy = decode_ids(model, z, 40, greedy=True, syntax=syntax)
    assert torch.equal(beam_search_ids(model, z, 40, width=1, syntax=syntax), greedy)
    beams = vocab.decode(beam_search_ids(model, z, 40, width=3, syntax=syntax))
    assert all(Chem.MolFromSmiles(s, sanitize=False) is not None for s in beams if len(tokenize(s)) < 40)


def test_two_ring_labels_from_one_atom_may_not_both_close_on_another() -> None:
    """'C12CCC12' would bond the first and last atom twice (RDKit: 'ring closure duplicates bond')."""
    vocab = Vocabulary.build(["C1CC2CC12", "CC"])
    syntax = SmilesSyntax(vocab)
    state = syntax.start(1, 20)
    for token in ["C", "1", "2", "C", "C", "C", "1"]:
        state = syntax.advance(state, torch.tensor([vocab.index[token]]))
    allowed = syntax.allowed(state)[0]
    assert not allowed[vocab.index["2"]] and allowed[vocab.index["C"]]
