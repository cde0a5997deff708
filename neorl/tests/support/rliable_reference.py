"""The reference side of neorl/tests/stats.rs: rliable's own numbers.

Reads a JSON file (argv[1]) of score matrices and settings that the Rust
test wrote, computes with rliable (Agarwal et al., NeurIPS 2021) the point
estimates, the stratified-bootstrap percentile intervals, the performance
profiles and the probabilities of improvement, and prints them as JSON.
Floats are written as Python's repr strings, so the Rust side parses them
exactly (serde_json's default float parsing may be one ulp off).

Input:  {"reps": int, "poi_reps": int, "confidence": float, "seed": int,
         "gamma": float,
         "taus": [float], "algos": [[name, [[score per task] per run]]],
         "pairs": [[x_name, y_name]]}
Output: {"algos": {name: {"point": {metric: s}, "ci": {metric: [s, s]},
                          "profile": {"fraction": [s], "lo": [s], "hi": [s]}}},
         "pairs": [{"x": name, "y": name, "point": s, "lo": s, "hi": s}],
         "versions": {package: version}}
"""

import importlib.metadata
import json
import sys

import numpy as np
import scipy
import arch
from rliable import library as rly
from rliable import metrics

METRICS = ["mean", "median", "iqm", "optimality_gap"]


def s(x):
    return repr(float(x))


def main():
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    reps, size, gamma = spec["reps"], spec["confidence"], spec["gamma"]
    taus = np.array(spec["taus"], dtype=np.float64)
    scores = {name: np.array(rows, dtype=np.float64) for name, rows in spec["algos"]}

    def aggregates(x):
        return np.array([
            metrics.aggregate_mean(x),
            metrics.aggregate_median(x),
            metrics.aggregate_iqm(x),
            metrics.aggregate_optimality_gap(x, gamma=gamma),
        ])

    # rliable resamples with numpy's global generator.
    np.random.seed(spec["seed"])
    points, cis = rly.get_interval_estimates(
        scores, aggregates, reps=reps, confidence_interval_size=size)
    profiles, profile_cis = rly.create_performance_profile(
        scores, taus, reps=reps, confidence_interval_size=size)

    out = {"algos": {}, "pairs": []}
    for name, x in scores.items():
        direct = aggregates(x)
        assert np.array_equal(direct, points[name])
        out["algos"][name] = {
            "point": {m: s(v) for m, v in zip(METRICS, direct)},
            "ci": {m: [s(cis[name][0][i]), s(cis[name][1][i])] for i, m in enumerate(METRICS)},
            "profile": {
                "fraction": [s(v) for v in profiles[name]],
                "lo": [s(v) for v in profile_cis[name][0]],
                "hi": [s(v) for v in profile_cis[name][1]],
            },
        }

    pairs = {f"{a},{b}": [scores[a], scores[b]] for a, b in spec["pairs"]}
    poi_points, poi_cis = rly.get_interval_estimates(
        pairs,
        lambda x, y: np.array([metrics.probability_of_improvement(x, y)]),
        reps=spec["poi_reps"],
        confidence_interval_size=size)
    for a, b in spec["pairs"]:
        key = f"{a},{b}"
        out["pairs"].append({
            "x": a,
            "y": b,
            "point": s(poi_points[key][0]),
            "lo": s(poi_cis[key][0][0]),
            "hi": s(poi_cis[key][1][0]),
        })

    out["versions"] = {
        "rliable": importlib.metadata.version("rliable"),
        "arch": arch.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
    }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
