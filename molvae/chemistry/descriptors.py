"""Named molecular descriptors for scoring files (``optimization.scoring_file``): one RDKit function of a molecule
each, and substructure matching by SMARTS. RDKit only (no torch)."""

from __future__ import annotations

from collections.abc import Callable

from rdkit import Chem
from rdkit.Chem import Crippen, Descriptors, Lipinski, rdMolDescriptors
from rdkit.Chem.rdchem import Mol

from molvae.chemistry import chem

DESCRIPTORS: dict[str, Callable[[Mol], float]] = {
    "qed": chem.qed,
    "logp": Crippen.MolLogP,
    "mw": Descriptors.MolWt,
    "tpsa": rdMolDescriptors.CalcTPSA,
    "hbd": Lipinski.NumHDonors,
    "hba": Lipinski.NumHAcceptors,
    "rotatable_bonds": rdMolDescriptors.CalcNumRotatableBonds,
    "rings": rdMolDescriptors.CalcNumRings,
    "aromatic_rings": rdMolDescriptors.CalcNumAromaticRings,
    "heavy_atoms": lambda mol: mol.GetNumHeavyAtoms(),
    "fraction_csp3": rdMolDescriptors.CalcFractionCSP3,
    "formal_charge": lambda mol: Chem.GetFormalCharge(mol),
    "sa": chem.sa_score,
    "penalized_logp": chem.penalized_logp,
}


def descriptor(name: str, mol: Mol) -> float:
    """The value of descriptor ``name`` (a key of DESCRIPTORS) for ``mol``."""
    return float(DESCRIPTORS[name](mol))


def compile_smarts(smarts: str) -> Mol | None:
    """The query molecule of a SMARTS pattern, or None when it does not parse."""
    with chem.quiet_rdkit():
        return Chem.MolFromSmarts(smarts) if isinstance(smarts, str) and smarts.strip() else None


def matches(mol: Mol, query: Mol) -> bool:
    """Whether ``mol`` contains the substructure ``query``."""
    return mol.HasSubstructMatch(query)
