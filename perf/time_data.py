"""Usage: python perf/time_data.py [--per-scenario 500] [--size 112] [--records 18000] [--repeats 3] [--dir DIR]

Times the synthetic benchmark generator on 7 x N episodes in one thread (target >= 200 episodes/s;
images, sidecar walk and oracle check included) and the loader on 18,000 records (the generated lines
replicated with fresh ids into a second folder, images hard-linked), with and without the image check.
Episodes/s are given per wall-clock second and per CPU second of this process: on a shared machine or
a slow disk the two differ. Everything is written under a temporary folder unless --dir is given.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from data.records import informative_path, load_benchmark, scenario_path
from data.scenarios import SCENARIO_NAMES, SCENARIOS
from data.synth import generate_benchmark


def time_generation(folder: Path, per_scenario: int, size: int) -> dict[str, tuple[int, float, float]]:
    """Per scenario: episodes written, wall seconds, CPU seconds."""
    timings = {}
    for name in SCENARIO_NAMES:
        wall, cpu = time.perf_counter(), time.process_time()
        summary = generate_benchmark(folder, per_scenario, seed=0, size=size, scenarios=[name])
        timings[name] = (summary[name]["records"], time.perf_counter() - wall, time.process_time() - cpu)
    return timings


def replicate(source: Path, target: Path, total: int) -> int:
    """Fill ``target`` with ``total`` JSONL lines cycled from ``source`` (fresh ids, same images, hard-linked)."""
    target.mkdir(parents=True)
    for index, name in enumerate(SCENARIO_NAMES):
        lines = [
            json.loads(line) for line in scenario_path(source, name).read_text(encoding="utf-8").splitlines()
        ]
        views = json.loads(informative_path(source, name).read_text(encoding="utf-8"))
        count = total // len(SCENARIO_NAMES) + (index < total % len(SCENARIO_NAMES))
        sidecar = {}
        with open(scenario_path(target, name), "w", encoding="utf-8") as handle:
            for new_id in range(count):
                line = dict(lines[new_id % len(lines)])
                sidecar[str(new_id)] = views[str(line["id"])]
                line["id"] = new_id
                handle.write(json.dumps(line) + "\n")
        informative_path(target, name).write_text(json.dumps(sidecar), encoding="utf-8")
        shutil.copytree(source / name, target / name, copy_function=os.link)  # images must lie inside
    return total


def time_loading(folder: Path, repeats: int, check_images: bool) -> tuple[int, int, float]:
    """Lines read, records kept and the best wall time of ``repeats`` loads."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        data = load_benchmark(folder, id_filter=None, check_images=check_images)
        best = min(best, time.perf_counter() - start)
    return sum(d.report.read for d in data.values()), sum(len(d.records) for d in data.values()), best


def run(folder: Path, per_scenario: int, size: int, records: int, repeats: int) -> None:
    timings = time_generation(folder / "generated", per_scenario, size)
    print(f"generation, {per_scenario} kept episodes per scenario, {size} px, one thread:")
    for name, (episodes, wall, cpu) in timings.items():
        print(
            f"  {SCENARIOS[name].short:6s} {episodes:5d} episodes  {episodes / wall:7.0f}/s wall  {episodes / cpu:7.0f}/s CPU"
        )
    episodes = sum(t[0] for t in timings.values())
    wall, cpu = sum(t[1] for t in timings.values()), sum(t[2] for t in timings.values())
    print(
        f"  total  {episodes:5d} episodes in {wall:.1f} s: {episodes / wall:.0f} episodes/s wall, {episodes / cpu:.0f}/s CPU"
    )
    replicate(folder / "generated", folder / "replicated", records)
    for check in (False, True):
        read, kept, seconds = time_loading(folder / "replicated", repeats, check)
        label = "with image check" if check else "no image check  "
        print(
            f"loading {read} lines ({kept} kept), {label}: {seconds:.2f} s, {read / seconds:,.0f} records/s"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    parser.add_argument("--per-scenario", type=int, default=500)
    parser.add_argument("--size", type=int, default=112)
    parser.add_argument("--records", type=int, default=18_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--dir", type=Path, default=None, help="work folder (must not exist); default: a temporary one"
    )
    args = parser.parse_args(argv)
    if args.dir is not None:
        run(args.dir, args.per_scenario, args.size, args.records, args.repeats)
        return 0
    with tempfile.TemporaryDirectory(prefix="time_data_") as folder:
        run(Path(folder), args.per_scenario, args.size, args.records, args.repeats)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
