"""The cached-stage rule (data/stage.py): done when the stamp holds exactly the key, the stamp written last,
otherwise rebuilt from empty; foreign folders refused; resumable folders pin their inputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from data.stage import Stage, pin_inputs, unfinished_marker

KEY = {"seed": 1, "size": 56, "path": Path("/x")}


def test_done_only_when_the_stamp_holds_exactly_the_key(tmp_path: Path) -> None:
    stage = Stage(tmp_path / "out", KEY)
    assert not stage.done()
    (stage.begin() / "output.txt").write_text("made")
    assert not stage.done() and stage.marker_path.is_file()  # outputs alone vouch for nothing
    stage.finish()
    assert stage.done() and not stage.marker_path.exists()
    assert json.loads(stage.stamp_path.read_text()) == {"seed": 1, "size": 56, "path": "/x"}
    assert not Stage(tmp_path / "out", {**KEY, "seed": 2}).done()
    assert not Stage(tmp_path / "out", {"seed": 1, "size": 56}).done()  # a key with fewer inputs differs too
    stage.stamp_path.write_text("{not json")
    assert not stage.done()


def test_not_done_is_rebuilt_from_empty(tmp_path: Path) -> None:
    old = Stage(tmp_path / "out", KEY)
    folder = old.begin()
    (folder / "sub").mkdir()
    (folder / "sub" / "stale.bin").write_bytes(b"x")
    (folder / "stale.txt").write_text("x")
    old.finish()
    new = Stage(folder, {**KEY, "seed": 2})
    assert new.begin() == folder
    assert sorted(p.name for p in folder.iterdir()) == [unfinished_marker("stage.json")]
    assert json.loads(new.marker_path.read_text())["seed"] == 2


def test_a_killed_build_is_redone_and_a_foreign_folder_refused(tmp_path: Path) -> None:
    stage = Stage(tmp_path / "out", KEY, "synthetic.json")
    (stage.begin() / "half.png").write_bytes(b"x")  # killed here: the marker stays, no stamp
    assert stage.marker_path.name == "synthetic.unfinished" and not stage.done()
    stage.begin()
    assert not (stage.folder / "half.png").exists()
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match=r"mine: holds files but no synthetic.json; refusing"):
        Stage(foreign, KEY, "synthetic.json").begin()
    assert (foreign / "keep.txt").read_text() == "mine"
    Stage(foreign, KEY, owns_folder=True).begin()  # a place the caller owns is emptied
    assert not (foreign / "keep.txt").exists()
    Stage(tmp_path / "empty", KEY).check_ours()  # an empty or missing folder is free


def test_staged_build_swaps_the_folder_whole_and_keeps_the_old_one_on_failure(tmp_path: Path) -> None:
    stage = Stage(tmp_path / "model", {"arch": "a"}, "record.json", field="build")

    def make(folder: Path) -> dict[str, int]:
        (folder / "weights").write_text("a")
        return {"parameters": 3}

    assert stage.build_staged(make) == tmp_path / "model"
    assert stage.done()
    assert json.loads(stage.stamp_path.read_text()) == {"build": {"arch": "a"}, "parameters": 3}
    other = Stage(tmp_path / "model", {"arch": "b"}, "record.json", field="build")
    assert not other.done()

    def broken(folder: Path) -> None:
        (folder / "weights").write_text("half")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        other.build_staged(broken)
    assert stage.done() and (tmp_path / "model" / "weights").read_text() == "a"
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # no staging folder left behind


def test_pin_inputs_refuses_other_inputs_and_keeps_the_record(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    assert pin_inputs(path, {"seed": 0, "limit": 3}, lambda r: {"seed": r["seed"]}) == []
    assert pin_inputs(path, {"seed": 0, "limit": 9}, lambda r: {"seed": r["seed"]}) == []
    assert json.loads(path.read_text()) == {"seed": 0, "limit": 9}  # a setting outside the compared part
    assert pin_inputs(path, {"seed": 1, "limit": 9}) == ["seed: 0 there, 1 now"]
    assert json.loads(path.read_text()) == {"seed": 0, "limit": 9}
    path.write_text("{oops")
    with pytest.raises(ValueError, match=r"config.json:1: invalid JSON"):
        pin_inputs(path, {"seed": 0})
