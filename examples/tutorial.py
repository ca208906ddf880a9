# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # molvae in ten minutes
#
# Load the bundled model, sample molecules and look at them, encode a few known drugs (standardized to what the
# model can read), walk between two of them, optimize QED under a similarity constraint, and plot the latent map.
# It runs on a laptop CPU in well under a minute. Open it as a notebook with
# `jupytext --to notebook examples/tutorial.py` (or run it as a script).

# %%
import matplotlib.pyplot as plt
import numpy as np
from rdkit import Chem
from rdkit.Chem import Draw

from molvae import MolVAE

vae = MolVAE.load()  # the bundled default model: no training, no download
vae

# %% [markdown]
# ## Sample and look
# `sample` draws z from the model's prior (the default model's: fitted to its training molecules' codes) and decodes
# at the model card's temperature; `score` adds RDKit's columns.

# %%
smiles = vae.sample(200, seed=0)
scores = vae.score(smiles)
print(f"valid {scores.valid.mean():.0%}, unique {scores.canonical_smiles.nunique() / len(scores):.0%}")
scores[["canonical_smiles", "qed", "logP", "SA"]].head()

# %%
valid = scores[scores.valid].head(12)
Draw.MolsToGridImage([Chem.MolFromSmiles(s) for s in valid.canonical_smiles], molsPerRow=4, subImgSize=(220, 180),
                     legends=[f"QED {q:.2f}" for q in valid.qed])

# %% [markdown]
# ## Encode known drugs
# The default model knows neutral molecules without stereo (MOSES). A salt, a charge or a stereocentre is
# standardized first (`standardize="auto"`, the default), and `standardize` says what changed.

# %%
drugs = {
    "aspirin": "CC(=O)Oc1ccccc1C(=O)O",
    "paracetamol": "CC(=O)Nc1ccc(O)cc1",
    "propranolol HCl": "CC(C)NCC(O)COc1cccc2ccccc12.Cl",
    "(S)-naproxen": "COc1ccc2cc([C@H](C)C(=O)O)ccc2c1",
    "diphenhydramine": "CN(C)CCOC(c1ccccc1)c1ccccc1",
}
for name, result in zip(drugs, vae.standardize(list(drugs.values()))):
    print(f"{name:16s} {result.note or 'read as given':40s} -> {result.smiles}")
z = vae.encode(list(drugs.values()))
print("latent vectors:", tuple(z.shape))
print("greedy decodes:", vae.decode(z))

# %% [markdown]
# ## Walk between two of them

# %%
path = vae.interpolate(drugs["paracetamol"], drugs["diphenhydramine"], n_steps=8)
Draw.MolsToGridImage([Chem.MolFromSmiles(s) for s in path], molsPerRow=4, subImgSize=(220, 180))

# %% [markdown]
# ## Optimize QED near a start molecule
# Every candidate keeps Tanimoto similarity >= 0.4 to the start; the oracle (RDKit's QED) is called at most
# `budget` times. `method="gradient"` follows the model's property predictor; `"random"` is the baseline.

# %%
found = vae.optimize("qed", start=[drugs["diphenhydramine"]], method="gradient", similarity=0.4, budget=30, seed=0)
print(f"start QED {found.start_score.iloc[0]:.3f}; best {found.score.iloc[0]:.3f}; {found.attrs['oracle_calls']} calls")
found[["smiles", "score", "similarity"]].head()

# %% [markdown]
# ## The latent map
# Two principal components of the encodings of the valid sampled molecules, coloured by QED.

# %%
mapped = scores[scores.valid].head(300)
points = vae.encode(mapped.canonical_smiles.tolist(), errors="skip").numpy()  # NaN rows: molecules it cannot read
readable = ~np.isnan(points).any(axis=1)  # a valid sample may need a token the vocabulary lacks (e.g. [SH])
mapped, points = mapped[readable], points[readable]
centred = points - points.mean(axis=0)
_, _, axes = np.linalg.svd(centred, full_matrices=False)
xy = centred @ axes[:2].T
figure, ax = plt.subplots(figsize=(5, 4))
dots = ax.scatter(xy[:, 0], xy[:, 1], c=mapped.qed, cmap="viridis", s=12)
figure.colorbar(dots, label="QED")
ax.set(xlabel="PC 1", ylabel="PC 2", title="molvae latent space")
plt.show()
