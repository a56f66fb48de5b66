"""Weight and build time of ``proactive view`` pages for runs as large as the official benchmark.

usage: python perf/time_view.py [--out /tmp/time_view] [--size 112]

Writes a synthetic benchmark with the official filter's episodes per scenario (7,557 in all), plays the
random and the oracle baselines on it (``proactive eval --policy``), then builds the page of the random
run and the page comparing both, and prints for each: the build time, the size of index.html, the
weight of the first screen (index.html plus the chunk files and thumbnails of the first page's
episodes), the largest chunk file and the whole folder. Nothing is reused between invocations.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from data.filters import official_filter
from data.synth import generate_benchmark
from eval.cli import main as eval_main
from eval.view.page import CHUNK_DIR, PAGE_SIZE, read_detail, read_index
from proactive.view.cli import write_view

MB = 1024 * 1024


def first_screen(page: Path) -> tuple[int, int]:
    """Bytes loaded to show the first page of an unfiltered view: index.html, its chunks, its images."""
    index = read_index(page)
    shown = range(min(PAGE_SIZE, len(index["items"])))
    chunks = {page.parent / CHUNK_DIR / f"{i // index['chunk_size']:05d}.js" for i in shown}
    images = {
        turn["img"]
        for i in shown
        for run in read_detail(page, i)["runs"]
        if run
        for turn in run["turns"]
        if turn.get("img")
    }
    weight = page.stat().st_size + sum(c.stat().st_size for c in chunks)
    return weight + sum((page.parent / image).stat().st_size for image in images), len(images)


def folder_size(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def measure(label: str, runs: Sequence[Path], out: Path) -> dict[str, float]:
    began = time.perf_counter()
    page = write_view(runs, out, [r.name for r in runs])
    seconds = time.perf_counter() - began
    weight, images = first_screen(page)
    chunks = list((out / CHUNK_DIR).glob("*.js"))
    figures = {
        "episodes": len(read_index(page)["items"]),
        "build_s": round(seconds, 1),
        "index_html_mb": round(page.stat().st_size / MB, 2),
        "first_screen_mb": round(weight / MB, 2),
        "first_screen_images": images,
        "largest_chunk_kb": round(max(c.stat().st_size for c in chunks) / 1024, 1),
        "folder_mb": round(folder_size(out) / MB, 1),
    }
    print(f"{label}: {json.dumps(figures)}", flush=True)
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python perf/time_view.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="/tmp/time_view")
    parser.add_argument("--size", type=int, default=112, help="synthetic image side in pixels")
    args = parser.parse_args(argv)
    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    bench = out / "bench"
    counts = {scenario: len(ids) for scenario, ids in official_filter().ids.items()}
    began = time.perf_counter()
    for scenario, count in counts.items():
        generate_benchmark(bench, count, seed=0, size=args.size, scenarios=[scenario])
    print(f"benchmark: {sum(counts.values())} episodes in {time.perf_counter() - began:.0f} s", flush=True)
    runs = []
    for policy in ("random", "oracle"):
        run = out / "runs" / policy
        argv_eval = ["--policy", policy, "--data", str(bench), "--out", str(run), "--no-progress"]
        if eval_main(argv_eval) != 0:
            return 1
        runs.append(run)
    measure("one run (random)", runs[:1], out / "page-random")
    measure("two runs (random vs oracle)", runs, out / "page-compare")
    return 0


if __name__ == "__main__":
    sys.exit(main())
