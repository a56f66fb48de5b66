"""Every command refuses an output folder it cannot write (held by a file, below a file, or in a folder it
may not write) before any work, with one line naming it, and leaves nothing behind. The recipes'
output_dir: tests/test_recipe_checks.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from data.outdir import OutputFolderError, check_output_folder
from proactive.cli import main as proactive

REPO = Path(__file__).resolve().parents[1]

# Each command with what it needs besides the output folder; OUT stands for the folder.
COMMANDS = {
    "eval": ["eval", "--policy", "oracle", "--data", "BENCH", "--out", "OUT"],
    "report": ["report", "RUN", "--out", "OUT"],
    "view": ["view", "RUN", "--out", "OUT"],
    "synth": ["synth", "--per-scenario", "1", "--out", "OUT"],
    "tiny-model": ["tiny-model", "--arch", "qwen2_vl", "--out", "OUT"],
    "quickstart": ["quickstart", "--out", "OUT"],
    "release": ["release", "ADAPTER", "--out", "OUT"],
    "study --out": ["study", "--config", "STUDY", "--out", "OUT"],
    "study --emit-jobs": ["study", "--config", "STUDY", "--emit-jobs", "OUT"],
}


def unwritable_folder() -> Path | None:
    """A folder this process may not write in (permissions, or a read-only file system), if there is one."""
    for candidate in ("/sys", "/proc/1"):
        try:
            check_output_folder(Path(candidate) / "x")
        except OutputFolderError:
            return Path(candidate)
    return None


def run(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, list[str]]:
    try:
        code = proactive(argv)
    except SystemExit as exit_:
        code = exit_.code
    return code, capsys.readouterr().err.strip().splitlines()


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("where", ["a file", "below a file", "unwritable"])
def test_an_unusable_output_folder_is_one_line(
    command: str, where: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    taken = tmp_path / "taken"
    taken.write_text("a file")
    if where == "unwritable":
        folder = unwritable_folder()
        if folder is None:
            pytest.skip("no unwritable folder here")
        out, reason = folder / "proactive-out", f"cannot write in {folder}"
    else:
        out = taken if where == "a file" else taken / "sub" / "dir"
        reason = (
            "exists and is not a folder" if where == "a file" else f"cannot be created, {taken} is a file"
        )
    placeholders = {"OUT": str(out), "BENCH": str(tmp_path), "RUN": str(tmp_path), "ADAPTER": str(tmp_path)}
    study = tmp_path / "study.yaml"
    study.write_text("{}\n")
    placeholders["STUDY"] = str(study)
    argv = [placeholders.get(arg, arg) for arg in COMMANDS[command]]
    code, lines = run(argv, capsys)
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith(f"proactive {command.split()[0]}: {out}: {reason}"), lines[0]
    assert taken.read_text() == "a file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["study.yaml", "taken"]  # nothing was written


def test_the_study_files_out_is_checked_before_any_cell_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """The study folder named in the file (not on the command line) is checked when the study runs."""
    taken = tmp_path / "taken"
    taken.write_text("a file")
    study = tmp_path / "study.yaml"
    study.write_text(
        "methods: [sft]\n"
        f"recipes: {{sft: {REPO / 'recipes' / 'tiny' / 'sft.yaml'}}}\n"
        f"accelerate_config: {REPO / 'accelerate_configs' / 'cpu.yaml'}\n"
        "splits: {qd: [QD]}\n"
        f"eval: {{data: {tmp_path / 'bench'}}}\n"
        f"out: {taken}\n"
    )
    code, lines = run(["study", "--config", str(study)], capsys)
    assert code == 2 and lines == [
        f"proactive study: {taken}: exists and is not a folder; choose another output folder"
    ]


def test_the_check_leaves_nothing_and_accepts_new_and_existing_folders(tmp_path: Path) -> None:
    check_output_folder(tmp_path / "new" / "deeper")
    check_output_folder(tmp_path)
    assert list(tmp_path.iterdir()) == []
    link = tmp_path / "link"
    os.symlink(tmp_path / "nowhere", link)  # a dangling link is not a folder
    with pytest.raises(OutputFolderError, match="exists and is not a folder"):
        check_output_folder(link)
