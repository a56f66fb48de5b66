"""Dataset builders and splits, on hand-made records with hand-derived expectations."""

from __future__ import annotations

from dataclasses import replace

import pytest
from PIL import Image

from data.builders import build_grpo_dataset, build_sft_dataset, reachable_states
from data.records import LoadReport, ScenarioData, parse_record, record_image_paths
from data.splits import split_by_scenario, split_episodes

CATS = ["apple", "red car", "blue kite", "star"]
ABSTAIN = "I cannot tell."
MORE = "Add more details to the drawing."
SKETCH = "Continue the sketch."


def make(scenario, record_id=1, **fields):
    base = {
        "id": record_id,
        "prompt": "What is it?",
        "categories": CATS,
        "answer": "red car",
        "first_image": 0,
        "reference_image": 0,
    }
    base.update(fields)
    return parse_record(scenario, base, "test")


def qd(record_id=1, num_images=3):
    return make(
        "QuickDraw",
        record_id,
        image_template=f"qd/{record_id}/{{image}}.png",
        num_images=num_images,
        reference_image=num_images - 1,
        options=[MORE, SKETCH, ABSTAIN],
    )


ROD = make(
    "Realistic-Occlusion-Dataset",
    image_template="rod/s{image}.png",
    first_image=7,
    num_images=14,
    reference_image=0,
    options=["Move the occluder to the left.", "Move the occluder to the right.", ABSTAIN],
)


def coco(direction, granularity=2):
    options = {
        "left": ["Move the camera to the left.", ABSTAIN],
        "up_left": ["Move the camera up.", "Move the camera to the left.", ABSTAIN],
    }[direction]
    return make(
        "coco2014",
        image_template="coco/img.png",
        num_images=1,
        options=options,
        direction=direction,
        granularity=granularity,
        horizontal_step=5,
        vertical_step=5,
        crop={"top": 20, "left": 30, "height": 50, "width": 60},
    )


def write_images(folder, *records):
    for record in records:
        for path in record_image_paths(record):
            (folder / path).parent.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (64, 64), (200, 10, 10)).save(folder / path)
    return folder


def prompt_texts(dataset):
    return [row["prompt"][0]["content"][1]["text"] for row in dataset]


# --- GRPO ---------------------------------------------------------------------------------------
def test_grpo_quickdraw_has_one_row_per_stroke_and_no_intervention_on_the_last(tmp_path):
    record = qd()
    ds = build_grpo_dataset([record], write_images(tmp_path, record))
    assert len(ds) == 3
    assert ds["step"] == [0, 1, 2]
    assert ds["accepted_options"] == [[MORE, SKETCH], [MORE, SKETCH], []]
    assert ds["options"] == [[MORE, SKETCH, ABSTAIN]] * 3
    assert ds["accepted_categories"] == [["red car"]] * 3
    assert ds["answer"] == ["red car"] * 3
    assert ds["informative"] == [None, None, True]  # official data: only the reference view is known
    assert ds["scenario"] == ["QuickDraw"] * 3 and ds["record_id"] == [1, 1, 1]
    first = ds[0]
    assert first["prompt"] == [
        {
            "role": "user",
            "content": [{"type": "image", "text": None}, {"type": "text", "text": prompt_texts(ds)[0]}],
        }
    ]
    assert prompt_texts(ds)[0] == (
        "What is it? Choose from the following options. Options:\n"
        f"A. {MORE}\nB. {SKETCH}\nC. {ABSTAIN}\nD. apple\nE. red car\nF. blue kite\nG. star\n"
        "Please only return one of the options without any other words."
    )
    assert first["image"].size == (64, 64) and first["image"].mode == "RGB"


def test_grpo_rod_walks_both_ways_around_the_wheel(tmp_path):
    ds = build_grpo_dataset([ROD], write_images(tmp_path, ROD))
    # every frame once, plus frame 7 a second time: back at the start after one move each way, answering
    # is allowed there (a different single-turn example than step 0, where only moving is accepted)
    assert len(ds) == 15
    # breadth first from frame 7: distance d reaches frames 7-d and 7+d (mod 14)
    assert ds["step"] == [0, 1, 1, 2, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7]
    assert ds["accepted_categories"][0] == []  # ROD's first step accepts only moving the occluder
    assert all(cats == ["red car"] for cats in ds["accepted_categories"][1:])
    states = reachable_states(ROD)
    assert [s.image for s in states[:6]] == [
        "rod/s7.png",
        "rod/s6.png",
        "rod/s8.png",
        "rod/s5.png",
        "rod/s7.png",
        "rod/s9.png",
    ]
    assert states[-1].image == "rod/s0.png" and states[-1].informative is True


def test_grpo_coco_crops_grow_until_the_direction_is_used_up(tmp_path):
    record = coco("left")
    ds = build_grpo_dataset([record], write_images(tmp_path, record))
    states = reachable_states(record)
    # the official box is (left - h_step, top, width, height); h_step 5 -> 10 = max_h, then "left" is hidden
    assert [s.crop for s in states] == [(25, 20, 60, 50), (20, 20, 60, 50)]
    assert ds["accepted_options"] == [["Move the camera to the left."], []]
    assert [row["image"].size for row in ds] == [(35, 30), (40, 30)]


def test_grpo_coco_diagonal_dedupes_views_reached_by_two_paths(tmp_path):
    record = coco("up_left")
    states = reachable_states(record)
    # up then left and left then up show the same crop: 4 views, not 5
    assert [(s.step, s.crop) for s in states] == [
        (0, (25, 15, 60, 50)),
        (1, (25, 10, 60, 50)),
        (1, (20, 15, 60, 50)),
        (2, (20, 10, 60, 50)),
    ]
    assert states[-1].accepted_options == ()


def test_grpo_hint_appends_the_scenario_hint(tmp_path):
    record = qd()
    ds = build_grpo_dataset([record], write_images(tmp_path, record), hint=True)
    assert all(
        "What is it? Hint: Adding more details to the quickdraw could help with classification. Choose" in t
        for t in prompt_texts(ds)
    )


def test_grpo_labelled_views_set_informative_true_and_false(tmp_path):
    record = replace(qd(), informative_views=frozenset({"qd/1/0001.png", "qd/1/0002.png"}))
    ds = build_grpo_dataset([record], write_images(tmp_path, record))
    assert ds["informative"] == [False, True, True]


def test_grpo_missing_image_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"qd/1/0000\.png"):
        build_grpo_dataset([qd()], tmp_path)


# --- SFT ----------------------------------------------------------------------------------------
def sft_targets(ds):
    return [row["messages"][1]["content"][0]["text"] for row in ds]


def test_sft_single_turn_oracle_asks_until_the_last_stroke_then_answers(tmp_path):
    record = qd()
    ds = build_sft_dataset([record], write_images(tmp_path, record))
    assert len(ds) == 3 and ds["step"] == [0, 1, 2]
    assert sft_targets(ds) == [MORE, MORE, "red car"]
    assert [m["role"] for m in ds[0]["messages"]] == ["user", "assistant"]
    assert ds[0]["messages"][0]["content"][0]["type"] == "image"
    assert ds[0]["image"].size == (64, 64)


@pytest.mark.parametrize(
    ("answer_format", "expected"),
    [("letter", ["A", "A", "E"]), ("letter_text", [f"A. {MORE}", f"A. {MORE}", "E. red car"])],
)
def test_sft_letter_formats(tmp_path, answer_format, expected):
    record = qd()
    ds = build_sft_dataset([record], write_images(tmp_path, record), answer_format=answer_format)
    assert sft_targets(ds) == expected


def test_sft_oracle_answers_as_soon_as_the_view_is_labelled_informative(tmp_path):
    record = replace(qd(num_images=5), informative_views=frozenset({"qd/1/0001.png"}))
    ds = build_sft_dataset([record], write_images(tmp_path, record))
    assert sft_targets(ds) == [MORE, "red car"]


def test_sft_multi_turn_is_one_conversation_per_episode(tmp_path):
    records = [qd(1), qd(2, num_images=2)]
    ds = build_sft_dataset(records, write_images(tmp_path, *records), turns="multi")
    assert len(ds) == 2 and ds["record_id"] == [1, 2]
    first = ds[0]
    assert [m["role"] for m in first["messages"]] == ["user", "assistant"] * 3
    assert [m["content"][0]["text"] for m in first["messages"][1::2]] == [MORE, MORE, "red car"]
    assert len(first["images"]) == 3 and len(ds[1]["images"]) == 2


def test_sft_rejects_unknown_formats(tmp_path):
    with pytest.raises(ValueError, match="answer_format 'digits'"):
        build_sft_dataset([qd()], tmp_path, answer_format="digits")
    with pytest.raises(ValueError, match="turns 'many'"):
        build_sft_dataset([qd()], tmp_path, turns="many")


# --- splits -------------------------------------------------------------------------------------
def benchmark_of(**records_by_scenario):
    return {name: ScenarioData(recs, LoadReport(name, "x")) for name, recs in records_by_scenario.items()}


def test_split_by_scenario_accepts_acronyms_and_refuses_overlap():
    bench = benchmark_of(QuickDraw=[qd(1), qd(2)], **{"Realistic-Occlusion-Dataset": [ROD]})
    train, held = split_by_scenario(bench, ["qd"], ["ROD"])
    assert [r.id for r in train] == [1, 2] and held == [ROD]
    with pytest.raises(ValueError, match="both trained on and held out: QuickDraw"):
        split_by_scenario(bench, ["QuickDraw"], ["qd"])
    with pytest.raises(KeyError, match="'coco2014' was not loaded"):
        split_by_scenario(bench, ["QuickDraw"], ["coco"])


def test_split_episodes_is_deterministic_disjoint_and_sized():
    records = [qd(i) for i in range(50)] + [replace(ROD, id=i) for i in range(10)]
    train, held = split_episodes(records, 0.2, seed=3)
    keys = lambda rs: {(r.scenario, r.id) for r in rs}  # noqa: E731
    assert keys(train).isdisjoint(keys(held))
    assert keys(train) | keys(held) == keys(records)
    assert (
        sum(r.scenario == "QuickDraw" for r in held) == 10
        and sum(r.scenario != "QuickDraw" for r in held) == 2
    )
    assert split_episodes(list(reversed(records)), 0.2, seed=3)[1] == list(reversed(held))
    assert keys(split_episodes(records, 0.2, seed=4)[1]) != keys(held)
    assert split_episodes(records, 0.0)[1] == []


def test_split_episodes_refuses_bad_fraction_and_duplicate_ids():
    with pytest.raises(ValueError, match=r"eval_fraction must be in \[0, 1\)"):
        split_episodes([qd()], 1.0)
    with pytest.raises(ValueError, match="QuickDraw: duplicate record ids"):
        split_episodes([qd(1), qd(1)], 0.5)
