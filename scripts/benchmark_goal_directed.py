"""Goal-directed design on the PMO benchmark (Gao et al. 2022): the 20 tasks that need no downloaded model, with
PMO's budget and metric, our rows beside the published ones.

Usage:
  python scripts/benchmark_goal_directed.py [--quick] [--tasks qed median1 ...] [--seeds 3] [--budget 10000]
      [--methods local random] [--model default] [--batch 100] [--points 1000] [--json OUT]

Each task, seed and method: ``MolVAE.optimize(task, method=..., budget=...)`` with no start molecules (the default
method learns from every call: ``molvae.optimization.design``). Reported per run: PMO's AUC of the top-10 mean
(logged every 100 calls, ``molvae.optimization.pmo.top_auc``), the top-1 and top-10 mean at the end, the calls spent,
the wall time, the top-10 curve every 100 calls (the AUC recomputes from it) and the ten best molecules with their
scores (each re-scores with GuacaMol's function: ``--check OUT.json``). Needs ``pip install --no-deps
guacamol==0.5.5`` (see ``molvae.optimization.pmo``). ``--quick``: 3 tasks, 1 seed, 300 calls (CI).
Ablations measure what one idea of the default search adds: ``--methods local-no-gp`` ranks a round's candidates at
random instead of by the GP's expected improvement; ``local-no-restarts`` draws no fresh codes from the prior after
the first design (``ABLATIONS``).
Writes OUT (.json) and OUT.md. Stopped, the same command resumes from the runs logged in OUT.partial.jsonl; on two
cores, start it a second time with ``--from-end`` (each run once; the process that logs the last run writes the report).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import time
import unittest.mock
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
# PMO leaderboard (Gao et al. 2022, Table 2 / the authors' repository), AUC top-10 at 10,000 calls, mean of 5 seeds
PUBLISHED = {
    "REINVENT": {"sum_20": 11.600, "osimertinib_mpo": 0.837, "ranolazine_mpo": 0.760, "celecoxib_rediscovery": 0.713},
    "Graph GA": {"sum_20": 11.444, "osimertinib_mpo": 0.831, "ranolazine_mpo": 0.728, "celecoxib_rediscovery": 0.630},
    "GP BO": {"sum_20": 10.816, "osimertinib_mpo": 0.787, "ranolazine_mpo": 0.735, "celecoxib_rediscovery": 0.723},
    "SMILES-VAE BO": {"sum_20": 7.403, "osimertinib_mpo": 0.771, "ranolazine_mpo": 0.457,
                      "celecoxib_rediscovery": 0.354},
    "random ZINC screening": {"sum_20": 7.412, "osimertinib_mpo": 0.764, "ranolazine_mpo": 0.411,
                              "celecoxib_rediscovery": 0.351},
}
QUICK_TASKS = ["qed", "median1", "osimertinib_mpo"]


def _unranked(candidates: list, scored: list, gp) -> list:
    """A round's candidates in a random order (seeded by the number of scores), without fingerprints."""
    order = np.random.default_rng(len(scored)).permutation(len(candidates))
    return [(candidates[int(i)], None) for i in order]


# an idea of the default search ('local' without starts, molvae.optimization.design) taken out: (name, replacement)
ABLATIONS = {"local-no-gp": ("_ranked", _unranked), "local-no-restarts": ("FRESH_SHARE", 0.0)}


def parse() -> argparse.Namespace:
    from molvae.optimization.pmo import TASKS

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default")
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS), metavar="TASK")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--budget", type=int, default=10_000)
    parser.add_argument("--methods", nargs="+", default=["local", "random"],
                        choices=["local", "random", "bo", *ABLATIONS])
    parser.add_argument("--batch", type=int, default=100, help="oracle calls per round")
    parser.add_argument("--points", type=int, default=1000, help="latent points decoded per round")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--from-end", action="store_true", help="run the last runs first: a second process on the "
                        "other core, sharing the log, meets the first in the middle (each run once)")
    parser.add_argument("--json", type=Path, default=ROOT / "docs" / "benchmarks" / "goal_directed.json")
    parser.add_argument("--check", type=Path, default=None, help="re-score every molecule of a written JSON and exit")
    args = parser.parse_args()
    if args.quick:
        args.tasks, args.seeds, args.budget, args.batch, args.points = QUICK_TASKS, 1, 300, 50, 300
    return args


def run(vae, name: str, fn, method: str, seed: int, args: argparse.Namespace) -> dict:
    """One task, method and seed: the PMO figures, the top-10 curve and the ten best molecules."""
    from molvae.optimization.pmo import top_auc

    began = time.perf_counter()
    with ablated(method):
        frame = vae.optimize(fn, method="local" if method in ABLATIONS else method, budget=args.budget,
                             batch=args.batch, n_points=args.points, seed=seed, n_steps=10**9, progress=False)
    seconds = time.perf_counter() - began
    ordered = frame.sort_values("oracle_calls", kind="stable")
    scores = ordered.score.to_numpy(dtype=float)
    curve = [float(np.mean(sorted(scores[:at], reverse=True)[:10])) for at in range(100, len(scores) + 1, 100)]
    best = frame.sort_values("score", ascending=False, kind="stable").head(10)
    return {"task": name, "method": method, "seed": seed, "auc_top10": top_auc(scores, args.budget),
            "top1": float(scores.max()) if len(scores) else 0.0,
            "top10": float(np.mean(sorted(scores, reverse=True)[:10])) if len(scores) else 0.0,
            "calls": int(frame.attrs["oracle_calls"]), "decoded": int(frame.attrs.get("decoded", 0)),
            "seconds": round(seconds, 1), "top10_every_100_calls": [round(v, 6) for v in curve],
            "best": [{"smiles": s, "score": float(v)} for s, v in zip(best.smiles, best.score)]}


def ablated(method: str):
    """A context in which the design search runs without the idea ``method`` names (nothing changed for others)."""
    from molvae.optimization import design

    if method not in ABLATIONS:
        return contextlib.nullcontext()
    return unittest.mock.patch.object(design, *ABLATIONS[method])


def summary(runs: list[dict], tasks: list[str], methods: list[str]) -> dict:
    """Mean over seeds of each task's AUC per method, and the sum over the tasks."""
    out: dict[str, dict] = {}
    for method in methods:
        per_task = {t: float(np.mean([r["auc_top10"] for r in runs if r["task"] == t and r["method"] == method]))
                    for t in tasks}
        seconds = [r["seconds"] for r in runs if r["method"] == method]
        per_task_seconds = {t: float(np.median([r["seconds"] for r in runs if r["task"] == t and r["method"] == method]))
                            for t in tasks}
        out[method] = {"per_task": per_task, "sum": float(sum(per_task.values())),
                       "median_seconds_per_run": float(np.median(seconds)) if seconds else None,
                       "median_seconds_per_task": per_task_seconds}
    return out


def wins(report: dict, method: str, other: str = "random") -> int:
    """On how many tasks ``method``'s mean AUC over the seeds is above ``other``'s."""
    ours, theirs = report["summary"][method]["per_task"], report["summary"][other]["per_task"]
    return sum(ours[t] > theirs[t] for t in report["tasks"])


def markdown(report: dict) -> str:
    methods, tasks = report["methods"], report["tasks"]
    lines = [f"# PMO goal-directed benchmark ({report['date']})", "",
             f"`{report['command']}` — model {report['model']}, {report['machine']}, {report['seconds']:.0f} s.", "",
             f"AUC of the top-10 mean over {report['budget']:,} oracle calls (PMO's metric), mean of "
             f"{report['seeds']} seed(s); wall time: the median seconds of one run (one core).", "",
             "| task | " + " | ".join(f"molvae {m}" for m in methods) + " | "
             + " | ".join(f"{p} (published)" for p in PUBLISHED) + " | " + " | ".join(f"seconds ({m})" for m in methods)
             + " |", "|---|" + "---|" * (2 * len(methods) + len(PUBLISHED))]
    for task in tasks:
        ours = [f"{report['summary'][m]['per_task'][task]:.3f}" for m in methods]
        theirs = [f"{PUBLISHED[p][task]:.3f}" if task in PUBLISHED[p] else "" for p in PUBLISHED]
        seconds = [f"{report['summary'][m]['median_seconds_per_task'][task]:.0f}" for m in methods]
        lines.append(f"| {task} | " + " | ".join(ours + theirs + seconds) + " |")
    sums = [f"**{report['summary'][m]['sum']:.3f}**" for m in methods]
    published = [f"{PUBLISHED[p]['sum_20']:.3f}" if len(tasks) == 20 else "" for p in PUBLISHED]
    lines.append(f"| sum ({len(tasks)} tasks) | " + " | ".join(sums + published + [""] * len(methods)) + " |")
    lines += ["", "Median wall time per run: " + ", ".join(
        f"{m} {report['summary'][m]['median_seconds_per_run']:.0f} s" for m in methods) + "."]
    if "random" in methods:
        lines += [f"molvae {m} above random search (mean AUC over the seeds): {wins(report, m)} of {len(tasks)} tasks."
                  for m in methods if m != "random"]
    return "\n".join(lines) + "\n"


def check(path: Path) -> None:
    """Re-score every reported molecule with GuacaMol's function; exits non-zero on a mismatch."""
    from molvae.optimization.pmo import guacamol_tasks

    report = json.loads(path.read_text())
    functions = guacamol_tasks(report["tasks"])
    bad = [(r["task"], b["smiles"], b["score"]) for r in report["runs"] for b in r["best"]
           if abs(functions[r["task"]](b["smiles"]) - b["score"]) > 1e-9]
    print(f"{sum(len(r['best']) for r in report['runs'])} molecules re-scored, {len(bad)} mismatches")
    raise SystemExit(1 if bad else 0)


def main() -> None:
    args = parse()
    if args.check is not None:
        check(args.check)
    import sys

    import torch
    from tqdm.auto import tqdm

    from molvae import MolVAE
    from molvae.api import model_path
    from molvae.optimization.pmo import guacamol_tasks
    from molvae.outputs import StageLog
    from molvae.smiles.files import file_sha256

    if args.threads:
        torch.set_num_threads(args.threads)
    vae = MolVAE.load(args.model)
    functions = guacamol_tasks(args.tasks)
    log = StageLog(args.json.with_suffix(".partial.jsonl"), {
        "model_sha256": file_sha256(model_path(args.model)), "budget": args.budget,
        "batch": args.batch, "points": args.points})
    if log.resumed:
        print(f"resuming from {log.path}: {len(log.stages)} finished runs kept", flush=True)
    jobs = [(t, m, s) for t in args.tasks for s in range(args.seeds) for m in args.methods]
    for task, method, seed in tqdm(jobs[::-1] if args.from_end else jobs, desc="PMO", unit="run"):
        if log.claim(f"{task}/{method}/{seed}"):
            done = run(vae, task, functions[task], method, seed, args)
            log.put(f"{task}/{method}/{seed}", done)
            print(json.dumps({k: v for k, v in done.items() if k not in ("best", "top10_every_100_calls")}),
                  flush=True)
    names = [f"{task}/{method}/{seed}" for task, method, seed in jobs]
    if pending := log.pending(names):
        print(f"{len(pending)} runs are being run by another process (first: {pending[0]}); the process that logs "
              "the last run writes the report", flush=True)
        return
    runs = [log.get(name) for name in names]
    command = "python " + " ".join(a for a in sys.argv if a != "--from-end")  # the run's command, either process
    report = {"model": args.model, "date": time.strftime("%Y-%m-%d"), "command": command,
              "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads",
              "budget": args.budget, "seeds": args.seeds, "tasks": args.tasks, "methods": args.methods,
              "batch": args.batch, "points": args.points, "seconds": round(sum(r["seconds"] for r in runs), 1),
              "summary": summary(runs, args.tasks, args.methods), "published": PUBLISHED, "runs": runs}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1) + "\n")
    args.json.with_suffix(".md").write_text(markdown(report))
    log.remove()
    print(markdown(report))


if __name__ == "__main__":
    main()
