"""Regex SMILES tokenizer and the vocabulary that travels inside every checkpoint.

Tokens: bracket atoms whole (``[nH]``, ``[C@@H]``, ``[NH3+]``, ``[13C]``), ``Cl`` and ``Br``, the other
organic-subset and aromatic atoms, bonds ``- = # $ : / \\``, branches, ring closures ``1``-``9``, ``%10``-``%99``
and ``%(NNN)``, the dot and ``*``. ``detokenize(tokenize(s)) == s`` byte for byte; a character no token matches is
an error, never dropped.

A sequence of ids is ``<bos> t1 ... tn <eos> <pad> ...``; ``max_length`` counts the SMILES tokens t1..tn only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import torch

from molvae.errors import TokenizeError, VocabularyError

PAD, BOS, EOS = "<pad>", "<bos>", "<eos>"
SPECIALS = (PAD, BOS, EOS)
PAD_ID, BOS_ID, EOS_ID = 0, 1, 2
FORMAT_VERSION = 1

_TOKEN_PATTERN = (
    r"\[[^\[\]]+\]"  # bracket atom: isotope, element, chirality, hydrogens, charge, class
    r"|Br|Cl|B|C|N|O|P|S|F|I"  # organic subset, two-letter atoms first
    r"|b|c|n|o|p|s"  # aromatic organic subset
    r"|%\([0-9]+\)|%[0-9]{2}|[0-9]"  # ring closures
    r"|[=#$:/\\\-~.()*]"  # bonds, branches, dot, wildcard
)
TOKEN_RE = re.compile(_TOKEN_PATTERN)
_COVER_RE = re.compile(f"(?:{_TOKEN_PATTERN})*")


def tokenize(smiles: str) -> list[str]:
    """Split a SMILES string into tokens; raises ``TokenizeError`` at the first character no token matches."""
    if not isinstance(smiles, str):
        raise TokenizeError(f"expected a SMILES string, got {type(smiles).__name__} {smiles!r}")
    covered = _COVER_RE.match(smiles).end()
    if covered != len(smiles):
        bad = smiles[covered]
        shown = smiles if len(smiles) <= 80 else smiles[:77] + "..."
        raise TokenizeError(
            f"cannot tokenize {shown!r}: character {bad!r} at position {covered} is not part of any SMILES token "
            "(atoms, [bracket atoms], bonds -=#$:/\\, branches (), ring closures 1-9 %nn %(nnn), '.', '*')"
        )
    return TOKEN_RE.findall(smiles)


def detokenize(tokens: Iterable[str]) -> str:
    """Join tokens back into the SMILES string they came from."""
    return "".join(tokens)


class Vocabulary:
    """Token <-> id map with ``<pad>=0, <bos>=1, <eos>=2`` followed by the SMILES tokens in sorted order."""

    def __init__(self, tokens: Sequence[str], max_length: int = 100) -> None:
        tokens = list(tokens)
        if tokens[: len(SPECIALS)] != list(SPECIALS):
            raise VocabularyError(f"a vocabulary must start with {list(SPECIALS)}, got {tokens[:3]}")
        if len(set(tokens)) != len(tokens):
            raise VocabularyError("a vocabulary lists each token once; got duplicates")
        for token in tokens[len(SPECIALS):]:
            if not isinstance(token, str) or tokenize(token) != [token]:
                raise VocabularyError(f"{token!r} is not a single SMILES token")
        if not isinstance(max_length, int) or max_length <= 0:
            raise VocabularyError(f"max_length = {max_length!r}; expected an integer > 0")
        self.tokens: list[str] = tokens
        self.max_length = max_length
        self.index: dict[str, int] = {token: i for i, token in enumerate(tokens)}

    @classmethod
    def build(cls, corpus: Iterable[str], max_length: int = 100) -> Vocabulary:
        """The vocabulary of every token in ``corpus`` (an iterable of SMILES or of token lists)."""
        seen: set[str] = set()
        for item in corpus:
            seen.update(tokenize(item) if isinstance(item, str) else item)
        return cls([*SPECIALS, *sorted(seen - set(SPECIALS))], max_length)

    def __len__(self) -> int:
        return len(self.tokens)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} tokens, max_length={self.max_length})"

    @property
    def pad_id(self) -> int:
        return PAD_ID

    @property
    def bos_id(self) -> int:
        return BOS_ID

    @property
    def eos_id(self) -> int:
        return EOS_ID

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form (stored in checkpoints)."""
        return {"format": FORMAT_VERSION, "tokens": list(self.tokens), "max_length": self.max_length}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Vocabulary:
        if not isinstance(raw, dict) or raw.get("format") != FORMAT_VERSION or "tokens" not in raw:
            raise VocabularyError(f"not a molvae vocabulary (format {FORMAT_VERSION}): {str(raw)[:200]}")
        return cls(raw["tokens"], raw.get("max_length", 100))

    def token_ids(self, smiles: str) -> list[int]:
        """Ids of the SMILES tokens (no begin/end); raises ``VocabularyError`` on unknown tokens or excess length."""
        tokens = tokenize(smiles)
        unknown = sorted({t for t in tokens if t not in self.index or t in SPECIALS})
        if unknown:
            known = " ".join(self.tokens[len(SPECIALS):])
            raise VocabularyError(
                f"molecule {smiles!r} has token(s) {unknown} that the vocabulary lacks; known tokens: {known}"
            )
        if len(tokens) > self.max_length:
            raise VocabularyError(
                f"molecule {smiles!r} has {len(tokens)} tokens, more than max_length = {self.max_length}"
            )
        return [self.index[t] for t in tokens]

    def encode(self, smiles: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Padded ids (B, T) int64 as ``<bos> tokens <eos> <pad>...`` and lengths (B,) counting bos and eos."""
        rows = [self.token_ids(s) for s in smiles]
        return self.pad(rows)

    def pad(self, rows: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Wrap token-id rows in bos/eos and pad them: ids (B, T) int64 and lengths (B,) int64."""
        lengths = torch.tensor([len(r) + 2 for r in rows], dtype=torch.long)
        width = int(lengths.max()) if len(rows) else 2
        ids = torch.full((len(rows), width), PAD_ID, dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, 0] = BOS_ID
            ids[i, 1 : len(row) + 1] = torch.as_tensor(list(row), dtype=torch.long)
            ids[i, len(row) + 1] = EOS_ID
        return ids, lengths

    def decode(self, ids: torch.Tensor | Sequence[Sequence[int]]) -> list[str]:
        """SMILES of each row of ids (B, T): a leading bos is skipped, reading stops at the first eos or pad."""
        rows = ids.tolist() if isinstance(ids, torch.Tensor) else [list(r) for r in ids]
        out = []
        size = len(self.tokens)
        for row in rows:
            pieces = []
            for position, i in enumerate(row):
                if not isinstance(i, int) or not 0 <= i < size:
                    raise VocabularyError(f"token id {i!r} is outside the vocabulary (0..{size - 1})")
                if i == BOS_ID and position == 0:
                    continue
                if i in (EOS_ID, PAD_ID):
                    break
                if i == BOS_ID:
                    continue
                pieces.append(self.tokens[i])
            out.append(detokenize(pieces))
        return out

    def one_hot(self, ids: torch.Tensor) -> torch.Tensor:
        """One-hot float tensor (B, T, V) of ids (B, T)."""
        return torch.nn.functional.one_hot(ids.long(), num_classes=len(self.tokens)).float()
