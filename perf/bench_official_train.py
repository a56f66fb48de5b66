"""usage: python perf/bench_official_train.py [--rows 26879] [--image-size 448] [--pool 60] [--work DIR]
                                           [--json OUT.json]

How fast, and in how much memory, the GRPO recipe builds its rows from a local copy of the paper's train split.

Setup (not timed): DIR/ProactiveBench/data/train-*.parquet with the dataset card's schema and ``--rows`` rows
(the hub split has 26,879), cycling over the reachable states of ``--pool`` synthetic QuickDraw and coco2014
episodes; every image is resized to ``--image-size`` px, sketches stored as PNG and the photo-like COCO views,
with added noise, as JPEG (about 4x the hub's bytes per row). Then, in a fresh process each, the recipe's own
path: the paper recipe's arguments (recipes/qwen2.5-vl-3b/grpo.yaml, ``--train_data`` pointed at the folder)
and ``load_official_train(script_args.train_data)``, first with an empty datasets cache (parquet converted
to Arrow) and then with the cache built. Each run reports seconds until the rows are ready, the process's
peak RSS and its RSS before loading (torch, transformers, trl and datasets imported), and the time to read
64 random rows (images decoded). Targets: peak RSS under 2 GB and rows ready in under 60 s.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PAPER_RECIPE = REPO / "recipes" / "qwen2.5-vl-3b" / "grpo.yaml"
HUB_ROWS = 26879


def _rss_mib() -> float:
    """The current resident set size, from /proc/self/status."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _encoded_view(state: Any, data_dir: Path, size: int, rng: random.Random) -> bytes:
    import numpy as np
    from PIL import Image

    from data.images import open_view

    view = open_view(data_dir, state.image, state.crop).resize((size, size))
    buffer = io.BytesIO()
    if state.scenario == "QuickDraw":
        view.save(buffer, format="PNG")
    else:  # a photo: texture (noise) and JPEG, as COCO's are
        noise = np.random.default_rng(rng.randrange(2**32)).normal(0, 12, (size, size, 3))
        pixels = np.clip(np.asarray(view, dtype=np.float32) + noise, 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def write_split(work: Path, rows: int, image_size: int, pool: int) -> dict[str, Any]:
    """The parquet folder of the card's schema (reused when it already holds ``rows`` rows of this size)."""
    from data.environment import reachable_states
    from data.records import load_benchmark
    from data.synth import generate_benchmark
    from data.synth.train_split import card_row, write_train_split

    folder = work / "ProactiveBench"
    stamp = folder / "bench_official_train.json"
    wanted = {"rows": rows, "image_size": image_size, "pool": pool}
    if stamp.is_file() and json.loads(stamp.read_text())["args"] == wanted:
        return json.loads(stamp.read_text())
    shutil.rmtree(folder, ignore_errors=True)
    bench = work / "synthetic"
    start = time.perf_counter()
    generate_benchmark(bench, pool // 2, seed=0, size=image_size // 2, scenarios=["QuickDraw", "coco2014"])
    loaded = load_benchmark(bench, ["QuickDraw", "coco2014"])
    rng = random.Random(0)
    states = [
        (state, _encoded_view(state, bench, image_size, rng))
        for data in loaded.values()
        for record in data.records
        for state in reachable_states(record)
    ]
    table = [card_row(*states[i % len(states)]) for i in range(rows)]
    paths = write_train_split(folder, table, rows_per_file=2000)
    summary = {
        "args": wanted,
        "distinct_states": len(states),
        "parquet_mib": round(sum(p.stat().st_size for p in paths) / 2**20, 1),
        "image_kib_mean": round(sum(len(states[i % len(states)][1]) for i in range(rows)) / rows / 1024, 1),
        "setup_seconds": round(time.perf_counter() - start, 1),
    }
    stamp.write_text(json.dumps(summary, indent=2))
    return summary


def build_rows(train_data: str) -> dict[str, Any]:
    """One measurement, in this (fresh) process: the recipe's arguments and loader, then 64 random rows read."""
    from trl import GRPOConfig

    from data.official_train import load_official_train
    from proactive.recipe_args import parse_recipe_args

    argv = ["--config", str(PAPER_RECIPE), "--train_data", train_data, "--use_cpu", "true"]
    script_args, _, _ = parse_recipe_args(GRPOConfig, argv)
    rss_before = _rss_mib()
    start = time.perf_counter()
    split = load_official_train(script_args.train_data)
    ready = time.perf_counter() - start
    peak_building = _peak_rss_mib()
    rows = split.rows
    picks = random.Random(0).sample(range(len(rows)), 64)
    start = time.perf_counter()
    sizes = {rows[i]["image"].size for i in picks}
    return {
        "rows": len(rows),
        "ready_seconds": round(ready, 1),
        "rss_before_mib": round(rss_before),
        "peak_rss_building_mib": round(peak_building),
        "read_64_rows_seconds": round(time.perf_counter() - start, 2),
        "image_sizes": sorted(sizes),
        "content_sha256": split.provenance["content_sha256"][:16],
        "scenarios": split.provenance["scenarios"],
    }


def measure(work: Path, cold: bool) -> dict[str, Any]:
    cache = work / "hf-datasets-cache"
    if cold:
        shutil.rmtree(cache, ignore_errors=True)
    env = {**os.environ, "HF_DATASETS_CACHE": str(cache), "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    command = [sys.executable, str(Path(__file__).resolve()), "--child", str(work / "ProactiveBench")]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"measurement failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1].strip())
    parser.add_argument("--rows", type=int, default=HUB_ROWS)
    parser.add_argument("--image-size", type=int, default=448)
    parser.add_argument("--pool", type=int, default=60, help="synthetic episodes (half QuickDraw, half COCO)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench_official_train"))
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(build_rows(args.child)))
        return 0
    args.work.mkdir(parents=True, exist_ok=True)
    report = {"split": write_split(args.work, args.rows, args.image_size, args.pool)}
    report["cold_cache"] = measure(args.work, cold=True)
    report["warm_cache"] = measure(args.work, cold=False)
    report["targets_met"] = all(
        run["peak_rss_building_mib"] < 2048 and run["ready_seconds"] < 60
        for run in (report["cold_cache"], report["warm_cache"])
    )
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
