"""The SMILES language the model reads and writes: the regex tokenizer and its vocabulary, the syntax mask used while
decoding, and corpora (SMILES files turned into cached token-id arrays)."""

from molvae.smiles.corpus import Corpus, Rejected, load_corpus
from molvae.smiles.files import file_sha256, read_properties, read_rows
from molvae.smiles.grammar import SmilesSyntax
from molvae.smiles.tokenizer import Vocabulary, detokenize, tokenize

__all__ = [
    "Corpus",
    "Rejected",
    "SmilesSyntax",
    "Vocabulary",
    "detokenize",
    "file_sha256",
    "load_corpus",
    "read_properties",
    "read_rows",
    "tokenize",
]
