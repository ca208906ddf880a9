"""Sampling at scale, measured: wall time, molecules/s, peak memory and CPU use of `molvae sample` streaming N
molecules to a gzipped CSV with every score column, next to many separate runs of a smaller N and to one chunk
holding all N (the old one-shot path: decode everything, then score everything, then write).

Usage: ``python scripts/benchmark_sampling.py [--n 1000000] [--small 10000] [--repeats 100] [--model PATH]
[--chunk-sizes 50000,100000] [--work runs/sampling-bench] [--json OUT]``

Peak memory is the largest sum of PSS over the process and its scoring workers (read from /proc every 0.2 s); CPU
use is (user + system CPU seconds of the whole tree) / wall seconds, so 2.0 means both cores busy all the time.
Run it on a quiet machine: nothing else should use the cores.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _tree_rss(pid: int) -> int:
    """Bytes of memory of ``pid`` and all its descendants (Linux /proc): PSS, which shares the pages the forked
    scoring workers have in common with the main process among them (RSS would count the model and torch once per
    process); RSS where PSS cannot be read."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry))
            except (OSError, ValueError, IndexError):
                continue
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            rollup = Path(f"/proc/{current}/smaps_rollup").read_text().splitlines()
            total += sum(int(line.split()[1]) * 1024 for line in rollup if line.startswith("Pss:"))
        except OSError:
            try:
                for line in Path(f"/proc/{current}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            except OSError:
                pass
        todo.extend(children.get(current, []))
    return total


def run(args: list[str]) -> dict[str, float]:
    """Wall seconds, peak tree RSS (bytes) and CPU seconds of one `molvae sample` run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "molvae", "sample", *args], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = 0
    while process.poll() is None:
        peak = max(peak, _tree_rss(process.pid))
        time.sleep(0.2)
    wall = time.perf_counter() - start
    err = process.stderr.read() if process.stderr else ""
    if process.returncode != 0:
        raise SystemExit(f"molvae sample {' '.join(args)} failed:\n{err[-2000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": wall, "peak_pss_mb": peak / 2**20, "cpu_s": cpu, "cores_busy": cpu / wall,
            "summary": err.strip().splitlines()[-1] if err.strip() else ""}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=100, help="Separate runs of --small molecules.")
    parser.add_argument("--chunk-sizes", default="50000,100000", type=lambda s: [int(x) for x in s.split(",")])
    parser.add_argument("--model", default=None)
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "sampling-bench")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--skip-one-shot", action="store_true", help="Leave out the one-chunk run of all N.")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    model = ["--model", args.model] if args.model else []
    rows = []

    def record(label: str, n: int, result: dict[str, float]) -> None:
        result.update(label=label, n=n, molecules_per_s=n / result["wall_s"])
        rows.append(result)
        print(f"{label:<34} n={n:>9,}  {result['wall_s']:8.1f} s  {result['molecules_per_s']:7.1f} mol/s  "
              f"peak {result['peak_pss_mb']:7.1f} MB  cores busy {result['cores_busy']:.2f}", flush=True)

    for chunk in args.chunk_sizes:
        out = args.work / f"stream_{chunk}.csv.gz"
        record(f"stream, chunk {chunk:,}", args.n, run([*model, "--n", str(args.n), "--seed", "1", "--chunk-size",
                                                        str(chunk), "--output", str(out), "--force"]))
        out.unlink(missing_ok=True)
    total = {"wall_s": 0.0, "peak_pss_mb": 0.0, "cpu_s": 0.0}
    for i in range(args.repeats):  # --repeats 0 leaves the separate runs out
        out = args.work / f"small_{i}.csv.gz"
        one = run([*model, "--n", str(args.small), "--seed", str(100 + i), "--output", str(out), "--force"])
        total = {"wall_s": total["wall_s"] + one["wall_s"], "peak_pss_mb": max(total["peak_pss_mb"],
                 one["peak_pss_mb"]), "cpu_s": total["cpu_s"] + one["cpu_s"]}
        out.unlink(missing_ok=True)
    if args.repeats:
        total["cores_busy"] = total["cpu_s"] / total["wall_s"]
        record(f"{args.repeats} separate runs of {args.small:,}", args.repeats * args.small, total)
    if not args.skip_one_shot:
        out = args.work / "one_shot.csv.gz"
        record("one chunk of all N (one-shot)", args.n, run([*model, "--n", str(args.n), "--seed", "1",
                                                              "--chunk-size", str(args.n), "--output", str(out),
                                                              "--force"]))
        out.unlink(missing_ok=True)
    if args.json:
        args.json.write_text(json.dumps({"cpu_count": os.cpu_count(), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
