"""Sampled molecules as tables: decoding in chunks, scoring them, novelty against the training set."""
