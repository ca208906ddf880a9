"""The field's optimization benchmarks on ZINC-250k, one command, our rows beside the published ones.

Usage:
  python scripts/benchmark_optimize.py --suite zinc250k [--quick] [--json OUT] [--model zinc250k] [--n 800]
      [--sets test|valid] [--methods local random] [--points 2000] [--curve 1,5,20,100,1000 --curve-n 100]

``--sets valid`` runs the validation start sets (data/benchmarks/zinc250k_*_valid200.txt, drawn from molecules no
zinc250k model trains on by scripts/make_validation_starts.py): every setting is chosen there, never on the 800.

Protocols (``molvae.optimization.suite``; docs/benchmarks/optimization.md writes them down):
1. Constrained penalized logP on data/benchmarks/zinc250k_plogp_test800.txt at similarity >= 0, 0.2, 0.4, 0.6
   (Morgan r2 2048 bits; at 0.4 and 0.6 also JT-VAE's unhashed Morgan count fingerprint): per molecule, at most
   ``--per-start`` candidates scored (from ``--points`` decoded latent points); improvement over the successes and
   over all molecules (failures 0), success rate.
2. QED on data/benchmarks/zinc250k_qed_test800.txt: success = a candidate with similarity >= 0.4 and QED >= 0.9.
3. Unconstrained: best three penalized logP and QED in ``--budget`` oracle calls, with the degenerate-molecule guard
   (38 heavy atoms, long chains, aryl rods) and, for penalized logP, without it.
Each task is run by each of ``--methods`` at the same budget, ``--part`` molecules at a time (each part logged as
it ends, so a stopped run resumes there); the first method is compared with ``random`` on the same
molecules by a paired test (Wilcoxon signed-rank on the improvements, McNemar on QED successes). ``--curve B1,B2``:
the first method's rows at delta 0.4, 0.6 and QED at these oracle budgets per molecule (on the first ``--curve-n``
molecules), with wall time per molecule. Writes OUT (.json: summary rows, every molecule's best candidate, the paired
tests, the curve, the published rows), OUT.md (tables) and OUT.png (start -> optimized pairs).
Two cores: start the same command a second time with ``--from-end``; the two share the log of finished stages,
each stage runs once, and the process that logs the last stage writes the report.
``--suite moses`` runs the project's older MOSES-test protocol (scripts/benchmark_optimize_moses.py).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETS = {"test": {"plogp": ROOT / "data" / "benchmarks" / "zinc250k_plogp_test800.txt",
                 "qed": ROOT / "data" / "benchmarks" / "zinc250k_qed_test800.txt"},
        "valid": {"plogp": ROOT / "data" / "benchmarks" / "zinc250k_plogp_valid200.txt",
                  "qed": ROOT / "data" / "benchmarks" / "zinc250k_qed_valid200.txt"}}
UNCONSTRAINED_STARTS = ROOT / "data" / "benchmarks" / "zinc250k_valid_starts.txt"

# Published rows: (method, value, source). As quoted in issue #30 (JT-VAE's recomputed from its repository's result
# files; VJTNN and GCPN from the VJTNN paper's tables; HierG2G and QMO from their papers); not re-checked against the
# papers in this repository. Improvement in normalized penalized-logP units; "over": the molecules it is averaged
# over (the successes: JT-VAE's count; all 800 with failures as 0: HierG2G's; GCPN succeeds on all). "budget": the
# oracle calls per molecule at test time, where the method's code says it (MoFlow's and JT-VAE's read from their
# repositories' optimization scripts and result files); MoFlow's rows are its README's, on its own 800 starts (the
# lowest penalized logP of its training split) with unhashed count fingerprints and success = improvement >= 0.
JTVAE_RESULTS = "Jin et al. 2018 (ICML), recomputed from the icml18-jtnn result files"
GCPN_TABLED = "You et al. 2018, as tabled in Jin et al. 2019 (VJTNN, ICLR)"
TRANSLATIONS = "20 translations (trained on pairs)"
MOFLOW = "Zang & Wang 2020 (KDD), its repository's README: its own 800 starts, count fingerprints"
PUBLISHED = {
    "plogp": [
        {"method": "JT-VAE", "delta": 0.4, "improvement": "0.84 +- 1.45", "over": "successes", "success": 0.836,
         "budget": "80 gradient steps, each decoded", "source": JTVAE_RESULTS},
        {"method": "JT-VAE", "delta": 0.6, "improvement": "0.21 +- 0.71", "over": "successes", "success": 0.464,
         "budget": "80 gradient steps, each decoded", "source": JTVAE_RESULTS},
        {"method": "GCPN", "delta": 0.4, "improvement": "2.49 +- 1.30", "over": "all", "success": 1.0,
         "budget": "RL trained on the oracle", "source": GCPN_TABLED},
        {"method": "GCPN", "delta": 0.6, "improvement": "0.79 +- 0.63", "over": "all", "success": 1.0,
         "budget": "RL trained on the oracle", "source": GCPN_TABLED},
        {"method": "VJTNN", "delta": 0.4, "improvement": "3.30 +- 1.80", "over": "all", "success": None,
         "budget": TRANSLATIONS, "source": "Jin et al. 2019 (ICLR)"},
        {"method": "VJTNN", "delta": 0.6, "improvement": "1.48 +- 1.29", "over": "all", "success": None,
         "budget": TRANSLATIONS, "source": "Jin et al. 2019 (ICLR)"},
        {"method": "HierG2G", "delta": 0.4, "improvement": "3.98 +- 1.46", "over": "all", "success": None,
         "budget": TRANSLATIONS, "source": "Jin et al. 2019 (arXiv 1907.11223)"},
        {"method": "HierG2G", "delta": 0.6, "improvement": "2.49 +- 1.09", "over": "all", "success": None,
         "budget": TRANSLATIONS, "source": "Jin et al. 2019 (arXiv 1907.11223)"},
        {"method": "MoFlow", "delta": 0.4, "improvement": "4.71 +- 4.55", "over": "successes", "success": 0.8575,
         "budget": "100 gradient steps, each decoded", "source": MOFLOW},
        {"method": "MoFlow", "delta": 0.6, "improvement": "2.10 +- 2.86", "over": "successes", "success": 0.5825,
         "budget": "100 gradient steps, each decoded", "source": MOFLOW},
    ],
    "qed": [
        {"method": "JT-VAE", "success": 0.088, "budget": "", "source": "as tabled in Jin et al. 2019 (VJTNN, ICLR)"},
        {"method": "VJTNN", "success": "0.569-0.605", "budget": TRANSLATIONS, "source": "Jin et al. 2019 (ICLR)"},
        {"method": "HierG2G", "success": 0.769, "budget": TRANSLATIONS, "source": "Jin et al. 2019 (arXiv 1907.11223)"},
        {"method": "QMO", "success": "~0.928", "budget": "about 8,000 queries",
         "source": "Hoffman et al. 2022 (Nature Machine Intelligence)"},
    ],
    "unconstrained": [
        {"method": "JT-VAE", "top1": 5.30, "cap": "none", "source": "Jin et al. 2018 (ICML)"},
        {"method": "GCPN", "top1": 7.98, "cap": "38 heavy atoms", "source": "You et al. 2018 (NeurIPS)"},
        {"method": "LIMO", "top1": 10.5, "cap": "none", "source": "Eckmann et al. 2022 (ICML)"},
        {"method": "MolDQN", "top1": 11.84, "cap": "none", "source": "Zhou et al. 2019 (Scientific Reports)"},
    ],
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", choices=["zinc250k", "moses"], default="zinc250k")
    parser.add_argument("--model", default="zinc250k", help="a bundled model's name, run folder or checkpoint")
    parser.add_argument("--quick", action="store_true", help="10 molecules per task, small budgets (CI)")
    parser.add_argument("--json", type=Path, default=ROOT / "docs" / "benchmarks" / "optimization_zinc250k.json")
    parser.add_argument("--n", type=int, default=800, help="molecules per task (the first N of each set)")
    parser.add_argument("--per-start", type=int, default=20, help="candidates scored per start molecule")
    parser.add_argument("--points", type=int, default=2000, help="latent points decoded per start molecule")
    parser.add_argument("--sets", choices=sorted(SETS), default="test", help="the 800 test molecules or the "
                        "validation starts (choose settings there)")
    parser.add_argument("--curve", type=lambda t: [int(x) for x in t.split(",") if x.strip()], default=[],
                        help="oracle budgets per molecule for the budget curve, e.g. 1,5,20,100,1000")
    parser.add_argument("--curve-n", type=int, default=100, help="molecules per task of the budget curve")
    parser.add_argument("--budget", type=int, default=2000, help="oracle calls of each unconstrained search")
    parser.add_argument("--methods", nargs="+", default=["local", "random"])
    parser.add_argument("--deltas", nargs="+", type=float, default=[0.0, 0.2, 0.4, 0.6])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--from-end", action="store_true", help="run the stages last first: a second process on the "
                        "other core, sharing the log, meets the first in the middle (each stage runs once)")
    parser.add_argument("--part", type=int, default=100, help="molecules searched and logged together (a stopped "
                        "run resumes at the last finished part; part k searches with seed --seed + k)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    return parser


def parse() -> argparse.Namespace:
    parser = build_parser()
    args, rest = parser.parse_known_args()
    if args.suite == "moses":
        sys.argv = [sys.argv[0], *rest, "--model", args.model]
        sys.path.insert(0, str(ROOT / "scripts"))
        import benchmark_optimize_moses

        benchmark_optimize_moses.main()
        raise SystemExit(0)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.quick:
        args.n, args.points, args.budget, args.curve_n, args.part = 10, 40, 60, 5, 5
        args.curve = args.curve[:2]
    return args


def protocols(args: argparse.Namespace) -> list:
    from molvae.optimization.suite import Protocol

    runs = [Protocol("plogp", d, m, "bits", args.per_start, args.points) for d in args.deltas for m in args.methods]
    runs += [Protocol("qed", 0.4, m, "bits", args.per_start, args.points) for m in args.methods]
    runs += [Protocol("plogp", d, m, "counts", args.per_start, args.points)
             for d in (0.4, 0.6) for m in args.methods[:1]]
    return runs


def paired(rows: list[dict], methods: list[str]) -> list[dict]:
    """The first method against random on the same molecules, per task, threshold and fingerprint."""
    from molvae.optimization.suite import paired_test

    if "random" not in methods or methods[0] == "random":
        return []
    out = []
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["task"], r["delta"], r["fingerprint"], r["method"]), []).append(r)
    for task, delta, fingerprint in sorted({key[:3] for key in groups}):
        ours, theirs = groups.get((task, delta, fingerprint, methods[0]), []), groups.get((task, delta, fingerprint,
                                                                                            "random"), [])
        if ours and len(ours) == len(theirs):
            out.append({"task": task, "delta": delta, "fingerprint": fingerprint, "ours": methods[0],
                        "theirs": "random", **paired_test(ours, theirs)})
            print(f"paired {task} {delta:g} {fingerprint}: {out[-1]}", flush=True)
    return out


def protocol_parts(vae, sets: dict, runs: list, args: argparse.Namespace, log) -> list[tuple[str, Callable]]:
    """Each protocol's stages: ``--part`` molecules at a time, part k searched with seed ``--seed`` + k (a protocol
    logged whole, as runs before parts were, is not split)."""
    from molvae.optimization.suite import run_protocol

    def part(protocol, starts: list[str], seed: int) -> dict:
        began = time.perf_counter()
        rows = run_protocol(vae, starts, protocol, seed=seed, progress=True)
        return {"rows": rows, "seconds": round(time.perf_counter() - began, 1)}

    out = []
    for protocol in runs:
        if log.get(protocol.name) is not None:
            continue
        starts = sets[protocol.task]
        for k, first in enumerate(range(0, len(starts), args.part)):
            name = f"{protocol.name}/molecules {first + 1}-{min(first + args.part, len(starts))}"
            out.append((name, functools.partial(part, protocol, starts[first:first + args.part], args.seed + k)))
    return out


def protocol_result(protocol, n: int, args: argparse.Namespace, log) -> dict:
    """A protocol's summary and rows, from the log: logged whole, or joined from its parts."""
    from molvae.optimization.suite import summarize

    if (whole := log.get(protocol.name)) is not None:
        return whole
    parts = [log.get(f"{protocol.name}/molecules {first + 1}-{min(first + args.part, n)}")
             for first in range(0, n, args.part)]
    rows = [row for part in parts for row in part["rows"]]
    return {"summary": {"task": protocol.task, "delta": protocol.delta, "fingerprint": protocol.fingerprint,
                        "method": protocol.method, **summarize(rows),
                        "seconds": round(sum(part["seconds"] for part in parts), 1)}, "rows": rows}


def curve_points(vae, sets: dict, args: argparse.Namespace) -> list[tuple[str, Callable]]:
    """The budget curve's stages: the first method at delta 0.4, 0.6 and on QED at each budget of ``--curve`` (calls
    per molecule), on the first ``--curve-n`` molecules, with ``10 x budget`` decoded points per molecule at least."""
    from molvae.optimization.suite import Protocol, run_protocol, summarize

    def point(protocol, starts: list[str]) -> dict:
        began = time.perf_counter()
        rows = run_protocol(vae, starts, protocol, seed=args.seed)
        return {"task": protocol.task, "delta": protocol.delta, "method": protocol.method,
                "calls_per_molecule": protocol.per_start, "points_per_molecule": protocol.n_points, **summarize(rows),
                "seconds_per_molecule": round((time.perf_counter() - began) / max(1, len(starts)), 2)}

    out = []
    for budget in args.curve:
        for task, delta in (("plogp", 0.4), ("plogp", 0.6), ("qed", 0.4)):
            protocol = Protocol(task, delta, args.methods[0], "bits", budget, max(args.points, 10 * budget))
            out.append((f"curve/{budget}/{protocol.name}", functools.partial(point, protocol,
                                                                             sets[task][: args.curve_n])))
    return out


def unconstrained_searches(vae, args: argparse.Namespace) -> list[tuple[str, Callable]]:
    """The unconstrained stages: best three of each objective and method within the oracle budget, guard on;
    penalized logP also guard off."""
    from molvae.optimization.optimize import best_molecules
    from molvae.optimization.suite import read_benchmark

    starts = read_benchmark(UNCONSTRAINED_STARTS)[: 10 if args.quick else 50]

    def search(objective: str, method: str, guard: bool) -> dict:
        began = time.perf_counter()
        frame = vae.optimize(objective, start=starts if method in ("gradient", "local") else None, method=method,
                             budget=args.budget, n_steps=10_000 if method == "gradient" else args.budget,
                             seed=args.seed, radius=1.0, allow_degenerate=not guard, progress=True,
                             n_points=args.points)
        best = best_molecules(frame, 3)
        return {"objective": objective, "method": method, "guard": guard, "oracle_calls": frame.attrs["oracle_calls"],
                "seconds": round(time.perf_counter() - began, 1),
                "best": [{"smiles": s, "score": float(v)} for s, v in zip(best.smiles, best.score)]}

    return [(f"unconstrained/{objective}/{method}/{guard}", functools.partial(search, objective, method, guard))
            for objective, guard in (("penalized_logp", True), ("penalized_logp", False), ("qed", True))
            for method in args.methods]


def work(stages: list[tuple[str, Callable]], log, from_end: bool = False) -> None:
    """Run every stage not yet logged nor claimed by another live process (``StageLog.claim``), logging each as it
    ends; ``from_end``: last stage first (a second process on the other core meets the first in the middle)."""
    from tqdm.auto import tqdm

    for name, job in tqdm(stages[::-1] if from_end else stages, desc="suite", unit="stage"):
        if log.claim(name):
            result = job()
            log.put(name, result)
            print(f"{name}: {json.dumps({k: v for k, v in result.items() if k not in ('rows', 'best')})}", flush=True)


def main() -> None:
    args = parse()
    import torch

    from molvae import MolVAE
    from molvae.api import model_path
    from molvae.optimization.suite import read_benchmark
    from molvae.outputs import StageLog

    if args.threads:
        torch.set_num_threads(args.threads)
    vae = MolVAE.load(args.model)
    weights = model_path(args.model)
    sets = {task: read_benchmark(path)[: args.n] for task, path in SETS[args.sets].items()}
    report = {"suite": "zinc250k", "model": args.model, "model_sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
              "date": time.strftime("%Y-%m-%d"), "machine": f"{platform.processor() or platform.machine()}, "
              f"{torch.get_num_threads()} torch threads", "quick": args.quick, "per_start": args.per_start,
              "points": args.points, "budget_unconstrained": args.budget, "seed": args.seed, "sets": args.sets,
              "methods": args.methods,
              "summary": [], "molecules": [], "paired": [], "curve": [], "unconstrained": [], "published": PUBLISHED}
    log = StageLog(args.json.with_suffix(".partial.jsonl"), {
        key: report[key] for key in ("model_sha256", "quick", "per_start", "points", "budget_unconstrained", "seed",
                                     "sets", "methods")} | {"n": args.n, "deltas": args.deltas, "curve": args.curve,
                                                             "curve_n": args.curve_n})
    if log.resumed:
        print(f"resuming from {log.path}: {len(log.stages)} finished stages kept", flush=True)
    runs = protocols(args)
    curve, searches = curve_points(vae, sets, args), unconstrained_searches(vae, args)
    stages = protocol_parts(vae, sets, runs, args, log) + curve + searches
    work(stages, log, args.from_end)
    if pending := log.pending([name for name, _ in stages]):
        print(f"{len(pending)} stages are being run by another process (first: {pending[0]}); the process that logs "
              "the last stage writes the report", flush=True)
        return
    for protocol in runs:
        done = protocol_result(protocol, len(sets[protocol.task]), args, log)
        report["summary"].append(done["summary"])
        report["molecules"] += done["rows"]
    report["paired"] = paired(report["molecules"], args.methods)
    report["curve"] = [log.get(name) for name, _ in curve]
    report["unconstrained"] = [log.get(name) for name, _ in searches]
    report["seconds"] = round(sum(s["seconds"] for s in report["summary"]) + sum(
        c["seconds_per_molecule"] * c["n"] for c in report["curve"]) + sum(u["seconds"] for u in
                                                                          report["unconstrained"]), 1)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(dump(report))
    args.json.with_suffix(".md").write_text(markdown(report, args))
    draw_pairs(report, args.json.with_suffix(".png"))
    log.remove()
    print(f"wrote {args.json}, {args.json.with_suffix('.md')}, {args.json.with_suffix('.png')} "
          f"({report['seconds']:.0f} s of work)")


def command(args: argparse.Namespace) -> str:
    """The command line that reproduces a report: every option that differs from its default (``--from-end`` left
    out: it only changes which process runs which stage; ``--quick`` stands for the sizes it sets)."""
    parser = build_parser()
    out = args.json.relative_to(ROOT) if args.json.is_relative_to(ROOT) else args.json
    words = ["python scripts/benchmark_optimize.py --suite zinc250k", f"--model {args.model}"]
    sized = ("n", "points", "budget", "curve_n", "part") if args.quick else ()
    words += ["--quick"] if args.quick else []
    for dest in ("n", "per_start", "points", "sets", "methods", "deltas", "curve", "curve_n", "budget", "seed",
                 "part", "threads"):
        value = getattr(args, dest)
        if dest in sized or value == parser.get_default(dest):
            continue
        if dest == "curve":
            value = ",".join(map(str, value))
        elif isinstance(value, list):
            value = " ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
        words.append(f"--{dest.replace('_', '-')} {value}")
    return " ".join(words + [f"--json {out}"])


def dump(report: dict) -> str:
    """The report as JSON: the summary indented, one line per molecule row (a file of 11,200 rows stays small)."""
    head = {k: v for k, v in report.items() if k != "molecules"}
    rows = ",\n  ".join(json.dumps(row) for row in report["molecules"])
    return json.dumps(head, indent=1)[:-2] + ',\n "molecules": [\n  ' + rows + "\n ]\n}\n"


def _pm(pair: list) -> str:
    return "—" if pair[0] is None else f"{pair[0]:.2f} +- {pair[1]:.2f}"


def markdown(report: dict, args: argparse.Namespace) -> str:
    """Our rows beside the published ones, with the protocol in one paragraph."""
    lines = [f"# ZINC-250k optimization benchmarks ({report['date']})", "",
             f"`{command(args)}` — model sha256 {report['model_sha256'][:16]}..., {report['machine']}, "
             f"{report['seconds']:.0f} s.", "",
             f"Budget per start molecule: at most {args.per_start} candidates scored by the oracle (decoded "
             f"molecules meeting the similarity threshold, the start itself excluded), from {args.points} decoded "
             f"latent points; the same for every method. Similarity: Tanimoto to the molecule as given in the file; "
             f"`bits` = Morgan r2 2048 bits, `counts` = JT-VAE's unhashed Morgan r2 counts. Improvement in normalized "
             f"penalized logP; \"all\" counts failures as 0 (HierG2G), \"successes\" averages the successes (JT-VAE).",
             "", "## Constrained penalized logP", "",
             "| method | oracle calls per molecule | delta | fingerprint | molecules | unreadable | success | "
             "improvement (all) | improvement (successes) | similarity | seconds |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in (r for r in report["summary"] if r["task"] == "plogp"):
        sim = "—" if s["mean_similarity"] is None else f"{s['mean_similarity']:.2f}"
        lines.append(f"| molvae {s['method']} | {args.per_start} | {s['delta']:g} | {s['fingerprint']} | {s['n']} | "
                     f"{s['unreadable']} | {s['success']:.1%} | {_pm(s['improvement_all'])} | "
                     f"{_pm(s['improvement_successes'])} | {sim} | {s['seconds']:.0f} |")
    for p in PUBLISHED["plogp"]:
        success = "—" if p["success"] is None else f"{p['success']:.1%}"
        cells = [p["improvement"], ""] if p["over"] == "all" else ["", p["improvement"]]
        lines.append(f"| {p['method']} (published: {p['source']}) | {p['budget']} | {p['delta']:g} | | 800 | | "
                     f"{success} | {cells[0]} | {cells[1]} | | |")
    lines += ["", "## QED (similarity >= 0.4, QED >= 0.9)", "",
              "| method | oracle calls per molecule | molecules | unreadable | success | seconds |",
              "|---|---|---|---|---|---|"]
    for s in (r for r in report["summary"] if r["task"] == "qed"):
        lines.append(f"| molvae {s['method']} | {args.per_start} | {s['n']} | {s['unreadable']} | {s['success']:.1%} | "
                     f"{s['seconds']:.0f} |")
    for p in PUBLISHED["qed"]:
        success = p["success"] if isinstance(p["success"], str) else f"{p['success']:.1%}"
        lines.append(f"| {p['method']} (published: {p['source']}) | {p['budget']} | 800 | | {success} | |")
    if report["paired"]:
        lines += ["", "## Model-based search against random search on the same molecules", "",
                  "| task | delta | fingerprint | test | molecules | wins | losses | mean difference | p |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for t in report["paired"]:
            lines.append(f"| {t['task']} | {t['delta']:g} | {t['fingerprint']} | {t['ours']} vs random: {t['test']} | "
                         f"{t['n']} | {t['wins']} | {t['losses']} | {t['mean_difference']:.3f} | {t['p']:.2g} |")
    if report["curve"]:
        lines += ["", f"## Budget curve ({report['curve'][0]['method']}, first {args.curve_n} molecules of each set)", "",
                  "| oracle calls per molecule | decoded points per molecule | task | delta | success | "
                  "improvement (all) | improvement (successes) | seconds per molecule |",
                  "|---|---|---|---|---|---|---|---|"]
        for c in report["curve"]:
            lines.append(f"| {c['calls_per_molecule']} | {c['points_per_molecule']} | {c['task']} | {c['delta']:g} | "
                         f"{c['success']:.1%} | {_pm(c['improvement_all'])} | {_pm(c['improvement_successes'])} | "
                         f"{c['seconds_per_molecule']} |")
    lines += ["", f"## Unconstrained (best three, {args.budget} oracle calls)", "",
              "| objective | method | guard | 1st | 2nd | 3rd | seconds | molecules |", "|---|---|---|---|---|---|---|---|"]
    for u in report["unconstrained"]:
        scores = [f"{b['score']:.2f}" for b in u["best"]] + [""] * (3 - len(u["best"]))
        guard = "38 atoms + degenerate guard" if u["guard"] else "none"
        lines.append(f"| {u['objective']} | molvae {u['method']} | {guard} | {' | '.join(scores)} | {u['seconds']:.0f} | "
                     + ", ".join(f"`{b['smiles']}`" for b in u["best"]) + " |")
    for p in PUBLISHED["unconstrained"]:
        lines.append(f"| penalized_logp | {p['method']} (published: {p['source']}) | {p['cap']} | {p['top1']} | | | | |")
    return "\n".join(lines) + "\n"


def draw_pairs(report: dict, path: Path, n: int = 6) -> None:
    """A grid of start -> best candidate pairs (the largest improvements at delta 0.4, the first method)."""
    from rdkit.Chem import Draw

    from molvae.chemistry import chem

    rows = [r for r in report["molecules"] if r["task"] == "plogp" and r["delta"] == 0.4
            and r["fingerprint"] == "bits" and r["method"] == report["methods"][0] and r["success"]]
    rows = sorted(rows, key=lambda r: r["start_score"] - r["score"])[:n]
    mols, legends = [], []
    for r in rows:
        mols += [chem.to_mol(r["start"]), chem.to_mol(r["smiles"])]
        legends += [f"start: pLogP {r['start_score']:.2f}", f"{r['method']}: {r['score']:.2f} (sim {r['similarity']:.2f})"]
    if not mols:
        return
    Draw.MolsToGridImage(mols, molsPerRow=2, subImgSize=(320, 240), legends=legends).save(str(path))


if __name__ == "__main__":
    main()
