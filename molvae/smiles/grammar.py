"""The SMILES syntax that decoding keeps to: a token mask from a small per-row state machine.

A sampled string can be chemically wrong (valence, aromaticity: RDKit decides) or syntactically wrong: a branch
closed that was never opened, ``()``, a bond with no atom after it, a ring label left open at the end. The second
kind is a property of the token sequence alone, so decoding can rule it out exactly: at each step, tokens that would
break the syntax get probability 0 and the model's probabilities of the others are renormalized (grammar-constrained
decoding, as in the grammar and syntax-directed VAEs). The mask reads only token ids; it never touches RDKit.

Rules (OpenSMILES): the string starts with an atom; after a bond or ``.`` comes an atom (or, after a bond, a ring
label); ``(`` follows an atom, a ring label or ``)`` and is followed by an atom or a bond; ``)`` needs an open
branch; a ring label follows an atom, a ring label or a bond, and may not close on the atom that opened it nor on
the atom bonded to that one just before it in the chain (RDKit: "duplicates bond"); the end needs every branch and
ring closed and an atom, ring label or ``)`` last. Left to RDKit: the rarer duplicate of two labels that join the
same pair of atoms, and everything chemical (valence, aromaticity, charges).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch

from molvae.smiles.tokenizer import BOS_ID, EOS_ID, PAD_ID, Vocabulary

START, ATOM, BOND, OPEN, CLOSE, RING, DOT, SPECIAL = range(8)
_FOLLOW = {  # kind -> the kinds that may come next (the end is handled apart)
    START: (ATOM,),
    ATOM: (ATOM, BOND, OPEN, CLOSE, RING, DOT),
    BOND: (ATOM, RING),
    OPEN: (ATOM, BOND),
    CLOSE: (ATOM, BOND, OPEN, CLOSE, DOT),
    RING: (ATOM, BOND, OPEN, CLOSE, RING, DOT),
    DOT: (ATOM,),
}
_MAY_END = (ATOM, CLOSE, RING)


def token_kind(token: str) -> int:
    """The syntactic kind of one vocabulary token (ATOM, BOND, OPEN, CLOSE, RING, DOT or SPECIAL)."""
    if token.startswith("<"):
        return SPECIAL
    if token == "(":
        return OPEN
    if token == ")":
        return CLOSE
    if token == ".":
        return DOT
    if token in "-=#$:/\\~":
        return BOND
    if token[0].isdigit() or token.startswith("%"):
        return RING
    return ATOM  # organic subset, aromatic, [bracket] atoms, '*'


@dataclass
class SyntaxState:
    """Where each of b rows stands (N = max_length + 2 slots; atoms are numbered from 1, 0 is "none"):
    last kind (b,), open branches (b,), atoms so far (b,), the atom the next one bonds to (b,), each atom's chain
    neighbour before it (b, N), the branch points (b, N), open ring labels (b, R), the atom each opened on (b, R), and
    the atoms that rings already closed on the current atom came from (b, N): a second label from the same atom would
    duplicate that bond."""

    last: torch.Tensor
    depth: torch.Tensor
    atoms: torch.Tensor
    current: torch.Tensor
    parent: torch.Tensor
    branch_points: torch.Tensor
    rings_open: torch.Tensor
    opened_at: torch.Tensor
    closed_from: torch.Tensor

    def take(self, rows: torch.Tensor) -> SyntaxState:
        """The state of the rows selected by ``rows`` (a bool mask or an index tensor)."""
        return SyntaxState(*(getattr(self, f.name)[rows] for f in fields(self)))


class SmilesSyntax:
    """Token classes of one vocabulary and the mask they imply; build with ``SmilesSyntax(vocab)``."""

    def __init__(self, vocab: Vocabulary) -> None:
        kinds = [token_kind(t) for t in vocab.tokens]
        self.kind = torch.tensor(kinds, dtype=torch.long)  # (V,)
        ring_ids = [i for i, k in enumerate(kinds) if k == RING]
        self.ring_ids = torch.tensor(ring_ids, dtype=torch.long)  # (R,)
        self.ring_of = torch.full((len(kinds),), -1, dtype=torch.long)  # (V,) ring slot of a ring token, else -1
        self.ring_of[self.ring_ids] = torch.arange(len(ring_ids))
        self.close_ids = torch.tensor([i for i, k in enumerate(kinds) if k == CLOSE], dtype=torch.long)
        follow = torch.zeros(len(_FOLLOW), len(kinds), dtype=torch.bool)  # (K, V)
        for last, allowed in _FOLLOW.items():
            follow[last] = torch.isin(self.kind, torch.tensor(allowed))
        self.follow = follow
        self.may_end = torch.zeros(len(_FOLLOW), dtype=torch.bool)
        self.may_end[list(_MAY_END)] = True

    def start(self, batch: int, max_length: int) -> SyntaxState:
        """The state of ``batch`` rows that have only read ``<bos>`` and will read at most max_length tokens."""
        n_rings, slots = len(self.ring_ids), max_length + 2

        def zeros(*shape: int, dtype: torch.dtype = torch.long) -> torch.Tensor:
            return torch.zeros(*shape, dtype=dtype)

        return SyntaxState(torch.full((batch,), START, dtype=torch.long), zeros(batch), zeros(batch), zeros(batch),
                           zeros(batch, slots), zeros(batch, slots), zeros(batch, n_rings, dtype=torch.bool),
                           zeros(batch, n_rings), zeros(batch, slots, dtype=torch.bool))

    def allowed(self, state: SyntaxState) -> torch.Tensor:
        """Tokens (b, V) bool that keep each row's string a valid SMILES prefix (``<eos>`` only where it may end)."""
        mask = self.follow[state.last].clone()  # (b, V)
        if len(self.close_ids):
            mask[:, self.close_ids] &= (state.depth > 0).unsqueeze(1)
        if len(self.ring_ids):  # a label may not close on its own atom or on the atom bonded to it in the chain
            neighbour = state.parent.gather(1, state.current.unsqueeze(1))  # (b, 1)
            taken = (state.opened_at == state.current.unsqueeze(1)) | (state.opened_at == neighbour)
            taken |= state.closed_from.gather(1, state.opened_at)  # that atom is already bonded to this one
            mask[:, self.ring_ids] &= ~(state.rings_open & taken)
        mask[:, EOS_ID] = self.may_end[state.last] & (state.depth == 0) & ~state.rings_open.any(dim=1)
        mask[:, PAD_ID] = False
        mask[:, BOS_ID] = False
        mask[:, EOS_ID] |= ~mask.any(dim=1)  # a vocabulary with nothing that fits: end (the string stays invalid)
        return mask

    def advance(self, state: SyntaxState, tokens: torch.Tensor) -> SyntaxState:
        """The state after each row reads tokens (b,) (in place)."""
        tokens = tokens.cpu()
        kind = self.kind[tokens]  # (b,)
        rows = torch.arange(len(tokens))
        atom, opening, closing = kind == ATOM, kind == OPEN, kind == CLOSE
        if bool(atom.any()):
            numbers = state.atoms[atom] + 1
            state.parent[rows[atom], numbers] = state.current[atom]
            state.atoms[atom] = numbers
            state.current[atom] = numbers
            state.closed_from[atom] = False
        if bool(opening.any()):
            state.branch_points[rows[opening], state.depth[opening]] = state.current[opening]
            state.depth[opening] += 1
        if bool(closing.any()):
            state.depth[closing] -= 1
            state.current[closing] = state.branch_points[rows[closing], state.depth[closing]]
        state.current[kind == DOT] = 0
        slot = self.ring_of[tokens]
        ring_rows = (slot >= 0).nonzero().squeeze(1)
        if len(ring_rows):
            slots = slot[ring_rows]
            opens = ~state.rings_open[ring_rows, slots]
            closed = ring_rows[~opens]
            state.closed_from[closed, state.opened_at[closed, slots[~opens]]] = True
            state.rings_open[ring_rows, slots] = opens
            state.opened_at[ring_rows, slots] = torch.where(opens, state.current[ring_rows],
                                                            state.opened_at[ring_rows, slots])
        state.last = torch.where(kind == SPECIAL, state.last, kind)
        return state
