"""The official GRPO train split loader, on parquet files with exactly the dataset card's schema.

Good files are written from synthetic QuickDraw / coco2014 episodes in every encoding of the card's unknowns;
read back, they must give the rows ``build_grpo_dataset`` builds from the same episodes. Broken files (one
assumption broken in one row each) must stop the load with one line naming that row and column.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from data.builders import GRPO_FEATURES, build_grpo_dataset
from data.official_rows import ENCODINGS, OfficialTrainError, action_scenario
from data.official_train import (
    CARD_FEATURES,
    content_sha256,
    load_official_train,
    map_train_split,
    open_train_split,
)
from data.prompts import mcqa_prompt
from data.records import load_benchmark
from data.synth.train_split import card_rows, write_train_split

ALL_ENCODINGS = [
    dict(zip(ENCODINGS, values, strict=True)) for values in itertools.product(*ENCODINGS.values())
]


def label(encoding: dict[str, str]) -> str:
    return "-".join(encoding.values())


@pytest.fixture(scope="module")
def episodes(bench: Path):
    """(the shared benchmark, its QuickDraw + coco2014 records, the GRPO rows build_grpo_dataset makes of them)."""
    loaded = load_benchmark(bench, ["QuickDraw", "coco2014"])
    records = loaded["QuickDraw"].records + loaded["coco2014"].records
    return bench, records, build_grpo_dataset(records, bench)


@pytest.fixture
def cache(tmp_path: Path) -> str:
    return str(tmp_path / "hf-cache")


def write(folder: Path, rows: list[dict[str, Any]], **kwargs: Any) -> Path:
    write_train_split(folder, rows, **kwargs)
    return folder


@pytest.mark.parametrize("encoding", ALL_ENCODINGS, ids=label)
def test_each_encoding_reads_back_as_the_builders_rows(encoding, episodes, tmp_path: Path, cache: str):
    bench, records, expected = episodes
    folder = write(tmp_path / "split", card_rows(records, bench, **encoding), rows_per_file=7)
    split = load_official_train(folder, cache_dir=cache)
    rows = split.rows
    assert rows.features == GRPO_FEATURES and len(rows) == len(expected)
    reordered = encoding["options"] == "without_actions" and encoding["prompt"] == "question"
    for index, (got, want) in enumerate(zip(rows, expected, strict=True)):
        for name in ("accepted_options", "categories", "accepted_categories", "answer"):
            assert got[name] == want[name], (index, name)
        assert got["record_id"] == index and got["informative"] is None and got["step"] is None
        # The last views of a COCO episode offer no intervention: no text tells the scenario.
        assert got["scenario"] == (want["scenario"] if got["options"] != ["I cannot tell."] else None)
        text = got["prompt"][0]["content"][1]["text"]
        if reordered:  # the actions are lettered first, then the rest of the options
            assert sorted(got["options"]) == sorted(want["options"])
            assert got["options"][: len(want["accepted_options"])] == want["accepted_options"]
            question = want["prompt"][0]["content"][1]["text"].split(" Choose from")[0]
            assert text == mcqa_prompt(question, got["options"] + got["categories"])
        else:
            assert got["options"] == want["options"] and got["prompt"] == want["prompt"]
        assert np.array_equal(np.asarray(got["image"]), np.asarray(want["image"]))
    assert split.provenance["encodings"] == encoding
    assert split.provenance["rows"] == len(expected)
    assert sum(split.provenance["scenarios"].values()) == len(expected)
    assert split.provenance["unread_columns"] == ["qwen_conf", "llava_conf", "qwen_delta", "llava_delta"]


def test_images_are_not_copied_or_decoded(episodes, tmp_path: Path, cache: str):
    """The rows' image column is a view of the memory-mapped split's buffers: nothing is decoded up front."""
    bench, records, _ = episodes
    folder = write(tmp_path / "split", card_rows(records, bench))
    raw = open_train_split(folder, cache_dir=cache)
    rows = map_train_split(raw, str(folder)).rows
    source = raw.data.column("images").chunk(0).flatten().flatten()[0]  # the bytes of every image
    mapped = rows.data.column("image").chunk(0).flatten()[0]
    assert mapped.buffers()[2].address == source.buffers()[2].address
    assert rows[3]["image"].size == (56, 56)  # decoded when read


def test_every_storage_gives_the_same_rows_and_hash(episodes, tmp_path: Path, cache: str):
    bench, records, _ = episodes
    rows = card_rows(records, bench, ground_truth="letter")
    folder = write(tmp_path / "hub-layout", rows, rows_per_file=5)
    single = tmp_path / "one.parquet"
    datasets.Dataset.from_list(rows, features=CARD_FEATURES).to_parquet(str(single))
    saved = tmp_path / "saved"
    datasets.Dataset.from_list(rows, features=CARD_FEATURES).save_to_disk(str(saved))
    saved_dict = tmp_path / "saved-dict"
    datasets.DatasetDict({"train": datasets.Dataset.from_list(rows, features=CARD_FEATURES)}).save_to_disk(
        str(saved_dict)
    )
    loads = [load_official_train(source, cache_dir=cache) for source in (folder, single, saved, saved_dict)]
    hashes = {split.provenance["content_sha256"] for split in loads}
    assert len(hashes) == 1 and len(hashes.pop()) == 64
    assert all(split.rows[:] == loads[0].rows[:] for split in loads[1:])
    changed = [dict(rows[0], qwen_conf=0.5)] + rows[1:]  # an unread column still changes the hash
    other = load_official_train(write(tmp_path / "changed", changed), cache_dir=cache)
    assert other.provenance["content_sha256"] != loads[0].provenance["content_sha256"]


def test_parquet_without_the_datasets_schema_is_read(episodes, tmp_path: Path, cache: str):
    """Parquet written by plain pyarrow holds images as bytes/path structs: they are cast to Image."""
    bench, records, expected = episodes
    table = datasets.Dataset.from_list(card_rows(records, bench), features=CARD_FEATURES).data.table
    (tmp_path / "plain").mkdir()
    pq.write_table(table.replace_schema_metadata(None), tmp_path / "plain" / "train-0.parquet")
    rows = load_official_train(tmp_path / "plain", cache_dir=cache).rows
    assert rows[0]["answer"] == expected[0]["answer"] and rows[0]["image"].size == (56, 56)


def test_hint_tells_the_scenario_where_no_intervention_does(episodes, tmp_path: Path, cache: str):
    """The last views of a COCO episode offer no intervention; with the hint in the prompt, it names COCO."""
    bench, records, expected = episodes
    rows = card_rows(records, bench, hint=True, prompt="question")
    split = load_official_train(write(tmp_path / "hint", rows), cache_dir=cache)
    assert split.provenance["rows_with_hint"] == len(rows)
    assert split.rows["scenario"] == expected["scenario"]
    assert all("Hint: " in row["prompt"][0]["content"][1]["text"] for row in split.rows)


def test_action_scenario_follows_the_official_keyword_order():
    assert action_scenario("Add more details to the drawing.") == "QuickDraw"
    assert (
        action_scenario("Keep drawing, move the pen up.") == "QuickDraw"
    )  # "drawing" is scanned before "up"
    assert action_scenario("Move the camera to the left.") == "coco2014"
    assert action_scenario("Move farther from the object.") == "coco2014"
    assert action_scenario("Rotate the object.") is None


# --- broken files -----------------------------------------------------------------------------------
def _user(text: str, image: bool = True) -> list[dict[str, Any]]:
    content = ([{"type": "image", "text": None}] if image else []) + [{"type": "text", "text": text}]
    return [{"role": "user", "content": content}]


BROKEN: dict[str, tuple[Any, str, str]] = {
    # name: (change to row 2, column, the expectation the message states)
    "ground truth names nothing offered": (
        {"ground_truth": "zebra"},
        "ground_truth",
        "one of the categories",
    ),
    "letter of an option": (
        {"ground_truth": "A"},
        "ground_truth",
        "the letter of a category, not of the option",
    ),
    "two images": (lambda r: {"images": r["images"] * 2}, "images", "a list of one image"),
    "no image": ({"images": []}, "images", "a list of one image"),
    "action not offered": (
        lambda r: {"proactive_actions": r["proactive_actions"] + ["Move the camera further down."]},
        "proactive_actions",
        "all of them among the options or none of them",
    ),
    "action of another scenario": (
        lambda r: {
            "proactive_actions": ["Rotate the object."],
            "options": ["Rotate the object."] + r["options"][1:],
        },
        "proactive_actions",
        "a QuickDraw or COCO intervention",
    ),
    "assistant turn in the prompt": (
        lambda r: {
            "prompt": r["prompt"] + [{"role": "assistant", "content": [{"type": "text", "text": "B"}]}]
        },
        "prompt",
        "system messages (if any) then one user message",
    ),
    "options in another layout": (
        {"prompt": _user("What is it? Options:\nA) cat\nB) dog")},
        "prompt",
        "the official MCQA layout",
    ),
    "three categories": (
        lambda r: {"options": r["options"][:-1]},
        "options",
        "categories last, after the proactive and abstain options",
    ),
    "abstain among the categories": (
        lambda r: {"options": r["options"][:-1] + ["I do not know."]},
        "options",
        "categories last",
    ),
    "two image placeholders": (
        lambda r: {"prompt": [{"role": "user", "content": r["prompt"][0]["content"] * 2}]},
        "prompt",
        "a user message of one text part and at most one image placeholder",
    ),
    "ground truth not a string": ({"ground_truth": None}, "ground_truth", "a string"),
    "letter ground truth after text ones": (
        lambda r: {"ground_truth": chr(65 + len(r["options"]) - 1)},  # the last category's letter
        "ground_truth",
        "the text encoding of row 0",
    ),
    "options of another encoding than row 0": (
        lambda r: {"options": [o for o in r["options"] if o not in r["proactive_actions"]]},
        "options",
        "the with_actions encoding of row 0",
    ),
}


@pytest.mark.parametrize("name", BROKEN)
def test_a_broken_row_stops_the_load_with_one_line(name, episodes, tmp_path: Path, cache: str):
    bench, records, _ = episodes
    rows = [row for row in card_rows(records, bench, prompt="question") if row["proactive_actions"]][:4]
    change, column, expected = BROKEN[name]
    rows[2] = {**rows[2], **(change(rows[2]) if callable(change) else change)}
    folder = write(tmp_path / "broken", rows)
    with pytest.raises(OfficialTrainError) as caught:
        load_official_train(folder, cache_dir=cache)
    message = str(caught.value)
    assert "\n" not in message
    assert re.match(rf"{re.escape(str(folder))}: row 2: column '{column}': expected .*, found .+", message), (
        message
    )
    assert expected in message, message


def test_missing_column_and_empty_folder_are_named(episodes, tmp_path: Path, cache: str):
    bench, records, _ = episodes
    table = datasets.Dataset.from_list(card_rows(records[:1], bench), features=CARD_FEATURES).data.table
    (tmp_path / "no-options").mkdir()
    pq.write_table(table.drop_columns(["options"]), tmp_path / "no-options" / "train-0.parquet")
    with pytest.raises(
        OfficialTrainError, match=r"no-options: column 'options': expected a column of the dataset card"
    ):
        load_official_train(tmp_path / "no-options", cache_dir=cache)
    (tmp_path / "empty").mkdir()
    with pytest.raises(
        OfficialTrainError, match=r"empty: no parquet files \(looked for data/train-\*\.parquet"
    ):
        load_official_train(tmp_path / "empty", cache_dir=cache)
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(OfficialTrainError, match="expected a .parquet file, a folder or a hub dataset id"):
        load_official_train(tmp_path / "notes.txt", cache_dir=cache)


def test_hub_id_that_cannot_be_reached_is_one_line(monkeypatch, cache: str):
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    with pytest.raises(OfficialTrainError) as caught:
        load_official_train("no-such-owner/no-such-split", cache_dir=cache)
    assert str(caught.value).startswith(
        "train_data 'no-such-owner/no-such-split': no such local folder or file, and the hub dataset could not"
    )
    assert "\n" not in str(caught.value)


def test_content_hash_of_an_in_memory_split_equals_the_files_one(episodes, tmp_path: Path, cache: str):
    bench, records, _ = episodes
    rows = card_rows(records, bench)
    on_disk = open_train_split(write(tmp_path / "split", rows), cache_dir=cache)
    in_memory = datasets.Dataset(
        datasets.table.InMemoryTable(pa.concat_tables([on_disk.data.table])), info=on_disk.info
    )
    assert content_sha256(in_memory) == content_sha256(on_disk)
