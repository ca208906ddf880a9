from __future__ import annotations

import json

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from rdkit import Chem

from molvae.errors import TokenizeError, VocabularyError
from molvae.smiles.tokenizer import BOS_ID, EOS_ID, PAD_ID, Vocabulary, detokenize, tokenize

# Stereo, charges, isotopes, aromatic heteroatoms, dots, explicit hydrogens, and C60 (more than 9 open rings, so
# random SMILES of it need %nn closures).
MOLECULES = [
    "C[C@@H](N)C(=O)O",
    "C/C=C/C(=O)[O-].[Na+]",
    "[13CH3]c1ccccc1Br",
    "c1cc[nH]c1Cl",
    "C[N+](C)(C)CC(=O)[O-]",
    "F/C=C\\F",
    "O=S(=O)(O)c1ccc2ccccc2c1",
    "[2H]C([2H])([2H])O",
    "N#Cc1ccc(-c2ccccc2)cc1",
    "C1CC2CCC1C2",
    "c1ccc2c(c1)[se]c1ccccc12",
    "[Cu+2].[O-]S(=O)(=O)[O-]",
    "C12=C3C4=C5C6=C1C7=C8C9=C1C%10=C%11C(=C29)C3=C2C3=C4C4=C5C5=C9C6=C7C6=C7C8=C1C1=C8C%10=C%10C%11=C2C2=C3"
    "C3=C4C4=C5C5=C%11C%12=C(C6=C95)C7=C1C1=C%12C5=C%11C4=C3C3=C5C(=C81)C%10=C23",
]


def test_bracket_atoms_and_two_letter_atoms_are_single_tokens() -> None:
    assert tokenize("C[C@@H](Cl)[NH3+].[O-]Br") == ["C", "[C@@H]", "(", "Cl", ")", "[NH3+]", ".", "[O-]", "Br"]
    assert tokenize("[13C][nH]") == ["[13C]", "[nH]"]


def test_ring_closures_bonds_and_wildcard() -> None:
    assert tokenize("C%12CC%12") == ["C", "%12", "C", "C", "%12"]
    assert tokenize("C%(123)CC%(123)") == ["C", "%(123)", "C", "C", "%(123)"]
    assert tokenize("*C#C$C:C/C\\C-C=C") == ["*", "C", "#", "C", "$", "C", ":", "C", "/", "C", "\\", "C", "-",
                                              "C", "=", "C"]


def test_unknown_character_raises_naming_the_string_and_position() -> None:
    with pytest.raises(TokenizeError, match=r"'CC X'.*' ' at position 2"):
        tokenize("CC X")
    with pytest.raises(TokenizeError):
        tokenize("C[C")  # an unclosed bracket is no token


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(MOLECULES), st.integers(0, 2**31 - 1))
def test_round_trip_on_random_smiles(smiles: str, seed: int) -> None:
    mol = Chem.MolFromSmiles(smiles)
    random_smiles = Chem.MolToRandomSmilesVect(mol, 1, randomSeed=seed)[0]
    assert detokenize(tokenize(random_smiles)) == random_smiles


def test_random_smiles_of_c60_use_two_digit_ring_closures() -> None:
    mol = Chem.MolFromSmiles(MOLECULES[-1])
    variants = Chem.MolToRandomSmilesVect(mol, 20, randomSeed=1)
    assert any("%1" in s for s in variants)
    assert all(detokenize(tokenize(s)) == s for s in variants)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_arbitrary_text_round_trips_or_raises_tokenize_error(text: str) -> None:
    try:
        tokens = tokenize(text)
    except TokenizeError:
        return
    assert detokenize(tokens) == text


def test_vocabulary_round_trips_through_json() -> None:
    vocab = Vocabulary.build(MOLECULES, max_length=200)
    again = Vocabulary.from_dict(json.loads(json.dumps(vocab.to_dict())))
    assert again == vocab
    assert again.tokens[:3] == ["<pad>", "<bos>", "<eos>"]
    assert (again.pad_id, again.bos_id, again.eos_id) == (PAD_ID, BOS_ID, EOS_ID)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from(MOLECULES[:-1]), min_size=1, max_size=8))
def test_vocabulary_built_from_any_corpus_round_trips(corpus: list[str]) -> None:
    vocab = Vocabulary.build(corpus)
    assert Vocabulary.from_dict(vocab.to_dict()) == vocab
    ids, lengths = vocab.encode(corpus)
    assert vocab.decode(ids) == corpus


def test_unknown_token_error_names_molecule_tokens_and_known_tokens() -> None:
    vocab = Vocabulary.build(["CCO", "c1ccccc1"])
    with pytest.raises(VocabularyError) as info:
        vocab.encode(["CCO", "CC[Se]Cl"])
    message = str(info.value)
    assert "'CC[Se]Cl'" in message and "['Cl', '[Se]']" in message and "known tokens: 1 C O c" in message


def test_encode_pads_with_bos_eos_and_lengths() -> None:
    vocab = Vocabulary.build(["CCO", "C"])
    ids, lengths = vocab.encode(["CCO", "C"])
    c, o = vocab.index["C"], vocab.index["O"]
    assert ids.tolist() == [[BOS_ID, c, c, o, EOS_ID], [BOS_ID, c, EOS_ID, PAD_ID, PAD_ID]]
    assert lengths.tolist() == [5, 3]


def test_decode_stops_at_end_token() -> None:
    vocab = Vocabulary.build(["CCO"])
    c, o = vocab.index["C"], vocab.index["O"]
    assert vocab.decode(torch.tensor([[BOS_ID, c, o, EOS_ID, c, c], [c, c, PAD_ID, o, o, o]])) == ["CO", "CC"]
    with pytest.raises(VocabularyError, match="outside the vocabulary"):
        vocab.decode([[99]])


def test_one_hot_shape_and_content() -> None:
    vocab = Vocabulary.build(["CCO", "c1ccccc1"])
    ids, _ = vocab.encode(["CCO", "c1ccccc1"])
    one_hot = vocab.one_hot(ids)
    assert one_hot.shape == (2, ids.shape[1], len(vocab)) and one_hot.dtype == torch.float32
    assert torch.equal(one_hot.argmax(-1), ids) and torch.all(one_hot.sum(-1) == 1)


def test_too_long_molecule_is_rejected_with_its_length() -> None:
    vocab = Vocabulary.build(["CCCCC"], max_length=4)
    with pytest.raises(VocabularyError, match="5 tokens, more than max_length = 4"):
        vocab.encode(["CCCCC"])
