#!/usr/bin/env python3
"""The learning-curve table of RESULTS.md's "Protocol v1, medium, 50 000
steps": each algorithm's mean score over seeds at a few evaluations, per
process, from the run records (`neorl sweep export`), and the change from
the middle of training (25–35 k steps) to its end (40–50 k).

    python3 neorl/results/protocol-v1-medium-50k/curves.py [medium.jsonl]
"""
import json
import statistics
import sys
from pathlib import Path

path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("medium.jsonl")
runs = [r for r in map(json.loads, path.read_text().splitlines()) if "algo" in r]
score = {}
for r in runs:
    for e in r["evals"]:
        score.setdefault((r["algo"], r["env"], e["step"]), []).append(float(e["score"]))


def mean_at(algo, env, steps):
    return statistics.mean(statistics.mean(score[(algo, env, s)]) for s in steps)


shown = [5000, 10000, 25000, 40000, 50000]
print("| algorithm | process | " + " | ".join(f"{s // 1000}k" for s in shown) + " | end − middle |")
print("|---|---|" + "---:|" * (len(shown) + 1))
for algo in dict.fromkeys(r["algo"] for r in runs):
    for env in sorted({r["env"] for r in runs}):
        cells = " | ".join(f"{mean_at(algo, env, [s]):.1f}" for s in shown)
        delta = mean_at(algo, env, [40000, 45000, 50000]) - mean_at(algo, env, [25000, 30000, 35000])
        print(f"| {algo} | {env} | {cells} | {delta:+.1f} |")
