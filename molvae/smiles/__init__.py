"""The SMILES language the model reads and writes: the regex tokenizer and its vocabulary, the syntax mask used while
decoding, and corpora (SMILES files turned into cached token-id arrays)."""
