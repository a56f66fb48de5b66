"""Locating and running the official proactivebench environment (needs Python >= 3.12 and the PyPI wheel)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

OFFICIAL_VERSION = "0.1.1"
CACHE = Path(os.environ.get("PROACTIVE_CACHE", Path.home() / ".cache" / "proactive-recipes"))
DRIVER = Path(__file__).with_name("official_driver.py")


def find_python312() -> str | None:
    """A working Python >= 3.12: $PROACTIVE_PY312, a pyenv install, or python3.12/3.13 on PATH."""
    candidates = [os.environ.get("PROACTIVE_PY312")]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    if pyenv.is_dir():
        candidates += [str(p / "bin" / "python") for p in sorted(pyenv.glob("3.1[2-9]*"))]
    candidates += [shutil.which("python3.12"), shutil.which("python3.13")]
    check = "import sys; sys.exit(sys.version_info < (3, 12))"
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            if subprocess.run([candidate, "-c", check], capture_output=True, timeout=60).returncode == 0:
                return candidate
    return None


def official_source() -> Path | None:
    """The official package's source folder, downloading the wheel from PyPI into the cache once."""
    target = CACHE / f"proactivebench-{OFFICIAL_VERSION}"
    if (target / "proactivebench" / "environment.py").is_file():
        return target / "proactivebench"
    wheels = CACHE / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--python-version",
        "3.12",
        "-d",
        str(wheels),
        f"proactivebench=={OFFICIAL_VERSION}",
    ]
    if subprocess.run(command, capture_output=True, timeout=120).returncode != 0:
        return None
    wheel = next(wheels.glob(f"proactivebench-{OFFICIAL_VERSION}-*.whl"), None)
    if wheel is None:
        return None
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(target)
    return target / "proactivebench"


def run_official(cases: list[dict[str, Any]], python: str, source: Path, work: Path) -> list[dict[str, Any]]:
    """Trajectories of ``cases`` under the official environment."""
    path = work / "cases.json"
    path.write_text(json.dumps(cases))
    done = subprocess.run(
        [python, str(DRIVER), str(source), str(path)], capture_output=True, text=True, timeout=600
    )
    if done.returncode != 0:
        raise RuntimeError(f"official driver failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)
