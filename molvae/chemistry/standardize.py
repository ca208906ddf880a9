"""Standardization to what a model can express: the one place where a molecule is changed before a model reads it.

RDKit's MolStandardize does the chemistry (largest organic fragment, uncharging); stereochemistry and isotopes are
cleared with RDKit's own calls. Which changes a molecule gets depends on the policy:

- ``none``: nothing changes; a molecule the vocabulary cannot read is reported with its missing tokens.
- ``auto`` (default): a molecule the model can already read is left as it is; otherwise the fewest of the
  applicable changes (fragment, charge, stereo, isotope; fewer first, then in that order) that make it readable.
- ``always``: every applicable change, whether the model needs it or not (e.g. to standardize training data).

The caller says what the model can read through ``missing_tokens`` (written SMILES -> the tokens its vocabulary
lacks), so this module needs neither torch nor the tokenizer.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from rdkit import Chem
from rdkit.Chem import Mol
from rdkit.Chem.MolStandardize import rdMolStandardize

from molvae.chemistry import chem
from molvae.errors import ConfigError

POLICIES = ("auto", "always", "none")
# the changes, in the order they are tried and named
SALT, CHARGE, STEREO, ISOTOPE = "salt removed", "charge neutralized", "stereo removed", "isotopes removed"
CHANGES = (SALT, CHARGE, STEREO, ISOTOPE)


@dataclass(frozen=True)
class Standardized:
    """One molecule as given and as the model will read it."""

    given: str  # the input string
    smiles: str | None  # canonical SMILES after the changes (None: invalid input)
    written: str | None  # the string the model reads (canonical or Kekulé form), None when it cannot be written
    changes: tuple[str, ...] = ()  # what changed, in CHANGES order
    missing: tuple[str, ...] = field(default=())  # tokens the vocabulary still lacks ('' for none)

    @property
    def ok(self) -> bool:
        """True when the model can read ``written``."""
        return self.written is not None and not self.missing

    @property
    def note(self) -> str:
        """What changed, as written in output columns: 'stereo removed; charge neutralized', or ''."""
        return "; ".join(self.changes)


def check_policy(policy: str) -> str:
    if policy not in POLICIES:
        raise ConfigError(f"standardize = {policy!r}; expected one of {POLICIES}")
    return policy


def _largest_fragment(mol: Mol) -> Mol:
    """The largest organic fragment; ValueError when no fragment holds carbon (a salt such as NaCl is not a
    molecule the model should read as HCl)."""
    out = rdMolStandardize.LargestFragmentChooser(preferOrganic=True).choose(mol)
    if not any(atom.GetAtomicNum() == 6 for atom in out.GetAtoms()):
        raise ValueError("no organic fragment")
    return out


def _uncharge(mol: Mol) -> Mol:
    return rdMolStandardize.Uncharger(canonicalOrder=True).uncharge(mol)


def _without_stereo(mol: Mol) -> Mol:
    out = Chem.Mol(mol)
    Chem.RemoveStereochemistry(out)
    return out


def _without_isotopes(mol: Mol) -> Mol:
    out = Chem.Mol(mol)
    for atom in out.GetAtoms():
        atom.SetIsotope(0)
    return Chem.RemoveHs(out)  # a deuterium becomes an implicit hydrogen


STEPS: dict[str, Callable[[Mol], Mol]] = {SALT: _largest_fragment, CHARGE: _uncharge, STEREO: _without_stereo,
                                          ISOTOPE: _without_isotopes}


def _applies(change: str, mol: Mol) -> bool:
    """Whether ``change`` would do anything to ``mol``."""
    if change == SALT:
        return len(Chem.GetMolFrags(mol)) > 1
    if change == CHARGE:
        return any(a.GetFormalCharge() for a in mol.GetAtoms())
    if change == STEREO:
        return "@" in Chem.MolToSmiles(mol) or "/" in Chem.MolToSmiles(mol) or "\\" in Chem.MolToSmiles(mol)
    return any(a.GetIsotope() for a in mol.GetAtoms())


def _apply(mol: Mol, changes: Sequence[str]) -> tuple[Mol, tuple[str, ...]] | None:
    """``mol`` with the changes applied in CHANGES order, and those that changed the SMILES; None if RDKit fails."""
    done = []
    try:
        for change in changes:
            before = Chem.MolToSmiles(mol)
            mol = STEPS[change](mol)
            if Chem.MolToSmiles(mol) != before:
                done.append(change)
    except Exception:  # no organic fragment, or RDKit failing on an exotic valence: not a usable combination
        return None
    return mol, tuple(done)


def _written(mol: Mol, kekule: bool) -> tuple[str, str | None]:
    canonical = Chem.MolToSmiles(mol)
    return canonical, (chem.kekule_smiles(canonical) if kekule else canonical)


def _try(given: str, mol: Mol, changes: Sequence[str], kekule: bool,
         missing_tokens: Callable[[str], Sequence[str]]) -> Standardized | None:
    applied = _apply(mol, changes)
    if applied is None:
        return None
    out, done = applied
    canonical, written = _written(out, kekule)
    missing = tuple(missing_tokens(written)) if written is not None else ()
    return Standardized(given, canonical, written, done, missing)


def standardize(smiles: str, missing_tokens: Callable[[str], Sequence[str]], policy: str = "auto",
                kekule: bool = False) -> Standardized:
    """One molecule as the model will read it (see the module's policies). ``missing_tokens(written)`` lists the
    tokens of a written SMILES that the model's vocabulary lacks (empty when it can read it). Never raises for bad
    chemistry: an invalid string gives ``smiles=None``."""
    check_policy(policy)
    mol = chem.to_mol(smiles)
    if mol is None:
        return Standardized(smiles, None, None)
    with chem.quiet_rdkit():
        applicable = [c for c in CHANGES if _applies(c, mol)]
        if policy == "always":
            return _try(smiles, mol, applicable, kekule, missing_tokens) or _try(smiles, mol, (), kekule,
                                                                                   missing_tokens)
        first = _try(smiles, mol, (), kekule, missing_tokens)
        if policy == "none" or (first is not None and first.ok):
            return first
        last = first
        for size in range(1, len(applicable) + 1):
            for combo in itertools.combinations(applicable, size):
                result = _try(smiles, mol, combo, kekule, missing_tokens)
                if result is not None and result.ok:
                    return result
                last = result or last
        return last


def standardize_many(smiles: Sequence[str], missing_tokens: Callable[[str], Sequence[str]], policy: str = "auto",
                     kekule: bool = False) -> list[Standardized]:
    """``standardize`` of each string."""
    return [standardize(s, missing_tokens, policy, kekule) for s in smiles]


def summary(results: Sequence[Standardized]) -> str:
    """One line: how many molecules changed, by kind of change, and those that still cannot be expressed with the
    tokens they miss; '' when nothing changed and nothing is missing."""
    kinds = Counter(c for r in results for c in r.changes)
    changed = sum(1 for r in results if r.changes)
    invalid = sum(1 for r in results if r.smiles is None)
    unreadable = [r for r in results if r.smiles is not None and not r.ok]
    tokens = Counter(t for r in unreadable for t in r.missing)
    parts = []
    if changed:
        parts.append(f"standardized {changed} of {len(results)}: "
                     + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items(), key=lambda kv: CHANGES.index(kv[0]))))
    if unreadable:
        top = ", ".join(f"{t} ({n})" for t, n in tokens.most_common(8))
        parts.append(f"{len(unreadable)} cannot be expressed by the model (missing tokens: {top or 'none; unwritable'})")
    if invalid:
        parts.append(f"{invalid} invalid SMILES")
    return "; ".join(parts)
