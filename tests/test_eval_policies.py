"""The evaluation loop with the model-free baselines on the synthetic benchmark and on hand-made
records: oracle, abstain and first-option outcomes worked out from the official rules, reference
images, resuming after a kill, configuration checks and the ``proactive eval`` command."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from data.environment import make_episode
from data.policies import oracle, run_policy
from data.records import Record, load_benchmark, parse_record
from data.scenarios import SCENARIO_NAMES, is_abstain
from eval.cli import EvalConfig, evaluate, select_episodes
from eval.cli import main as eval_main
from eval.open_ended import official_sample
from eval.results import MCQA, OPEN, REFERENCE
from eval.rollout import Item, Job, PolicyAgent, run_episodes

ROD, VSOD, MVPN, INC, QD, CIT, COCO = SCENARIO_NAMES


@pytest.fixture(scope="session")
def records(bench: Path) -> dict[str, list[Record]]:
    return {name: data.records for name, data in load_benchmark(bench, id_filter=None).items()}


def run(bench: Path, out: Path, policy: str, **kwargs: object) -> dict:
    return evaluate(EvalConfig(data=str(bench), out=str(out), policy=policy, progress=False, **kwargs))


def episodes(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "episodes.jsonl").read_text().splitlines()]


# --- oracle ---------------------------------------------------------------------------------------


def _frame(record: Record, image: int) -> str:
    return record.image_template.format(
        image=str(image).zfill(4) if record.scenario in (VSOD, MVPN, QD) else image
    )


def needed_interventions(record: Record) -> int | None:
    """Interventions the oracle needs, worked out from the informative-view labels (None for COCO)."""
    views = record.informative_views or frozenset()
    if record.scenario == MVPN:
        return record.num_images - 1  # only the last view is informative
    if record.scenario == QD:
        return next(k for k in range(record.num_images) if _frame(record, record.first_image + k) in views)
    if record.scenario == INC:
        return next(
            k for k in range(5) if record.image_template.format(level=record.first_image - k) in views
        )
    if record.scenario in (ROD, VSOD, CIT):
        here, target, n = record.first_image, record.reference_image, record.num_images
        backward = target < here if record.scenario == CIT else (here - target) % n < (target - here) % n
        step = record.extras.get("step_size", 1) * (-1 if backward else 1)
        k = 0
        while _frame(record, here) not in views:
            here, k = (here + step) % n if record.scenario != CIT else here + step, k + 1
        return k
    return None


def test_oracle_is_perfect_and_asks_exactly_what_is_needed(
    bench: Path, records: dict, tmp_path: Path
) -> None:
    summary = run(bench, tmp_path, "oracle", batch_size=5)
    by_key = {(e["scenario"], e["record_id"]): e for e in episodes(tmp_path)}
    for name, recs in records.items():
        block = summary["scenarios"][name]
        assert block["acc"] == 100.0 and block["n"] == len(recs) == 6
        assert block["end_reasons"]["correct"] == 6
        needs = []
        for record in recs:
            played = by_key[(name, record.id)]
            reference = run_policy(make_episode(record), oracle)  # one episode at a time
            assert played["num_turns"] == reference.num_turns and played["success"]
            assert [t["outcome"] for t in played["turns"]] == ["intervention"] * (played["num_turns"] - 1) + [
                "correct"
            ]
            assert [t["informative"] for t in played["turns"]][-1] is True
            need = needed_interventions(record)
            if need is not None:
                assert played["num_turns"] - 1 == need, (name, record.id)
            needs.append(played["num_turns"] - 1)
        assert block["psr"] == pytest.approx(sum(needs) / len(needs), abs=1e-4)
        assert block["psr"] > 0
    assert summary["average"]["acc"] == 100.0


def test_abstain_scores_zero(bench: Path, tmp_path: Path) -> None:
    summary = run(bench, tmp_path, "abstain", scenarios=["qd", "rod", "coco"])
    for block in summary["scenarios"].values():
        assert (block["acc"], block["psr"], block["end_reasons"]["abstained"]) == (0.0, 0.0, 6)
    assert summary["average"]["acc"] == 0.0 and summary["average"]["acc_ci"] == [0.0, 0.0]


# --- first option: the official rules, worked out by hand -------------------------------------------

RAW = {
    "image_template": "x/{image}.png",
    "prompt": "What is it?",
    "categories": ["cat", "dog", "cow", "pig"],
    "answer": "dog",
}


TEMPLATES = {INC: "x/{level}.png", MVPN: "x/{image}_{informative}.png"}


def record(scenario: str, **fields: object) -> Record:
    raw = {
        "id": 0,
        "reference_image": 0,
        **RAW,
        "image_template": TEMPLATES.get(scenario, RAW["image_template"]),
    }
    return parse_record(scenario, {**raw, **fields}, "hand-made:1")


HAND_MADE = [
    # ROD: moving is accepted at step 0 and later; the first option always moves left, 14 frames wrap
    # around, so the episode runs into the step limit after 14 turns (psr 13).
    (
        record(
            ROD, first_image=7, num_images=14, options=["Move the occluder to the left.", "I cannot tell."]
        ),
        "step_limit",
        14,
    ),
    # VSOD: same with "wait"; 5 frames -> 5 turns.
    (
        record(
            VSOD,
            first_image=2,
            num_images=5,
            options=["Wait for the occlusion to disappear.", "Rewind the video.", "I cannot tell."],
            strong_occlusions=True,
        ),
        "step_limit",
        5,
    ),
    # QD: details are accepted on all views but the last; on the last (turn 4) the offered option is invalid.
    (
        record(
            QD, first_image=0, num_images=4, options=["Add more details to the drawing.", "I cannot tell."]
        ),
        "invalid_option",
        4,
    ),
    # IN-C: the first option is a fix, but not the one that matches the corruption: invalid at once.
    (
        record(
            INC,
            first_image=5,
            num_images=5,
            options=["Denoise the image.", "Deblur the image.", "I cannot tell."],
            quality_answer="Deblur the image.",
        ),
        "invalid_option",
        1,
    ),
    # IN-C: the matching fix: severity 5 -> 4 -> 3 -> 2 -> 1, the last view only takes a category.
    (
        record(
            INC,
            first_image=5,
            num_images=5,
            options=["Deblur the image.", "Denoise the image.", "I cannot tell."],
            quality_answer="Deblur the image.",
        ),
        "invalid_option",
        5,
    ),
    # MVP-N: the abstain option comes first.
    (
        record(
            MVPN,
            first_image=3,
            num_images=3,
            options=["I cannot tell.", "Rotate the object."],
            valid_images=[3, 1, 2],
        ),
        "abstained",
        1,
    ),
    # ChangeIt, 10 frames, step 3, max 6 steps: frame 0 hides rewind -> wait (0->3->6->9); at 9 wait is
    # hidden, so the first option is rewind (9->6); at 6 wait again (6->9), rewind (9->6): turn 6 hits max_steps.
    (
        record(
            CIT,
            first_image=0,
            num_images=10,
            options=["Wait for the object to appear.", "Rewind the video.", "I cannot tell."],
            step_size=3,
            max_steps=6,
        ),
        "step_limit",
        6,
    ),
    # ChangeIt: rewind listed first but hidden at frame 0, so the first option offered is abstain.
    (
        record(
            CIT,
            first_image=0,
            num_images=10,
            options=["Rewind the video.", "I cannot tell.", "Wait for the object to appear."],
            step_size=3,
            max_steps=6,
        ),
        "abstained",
        1,
    ),
    # COCO "left", granularity 3: the shown crop already includes one step; after two moves the step
    # reaches 3 * step and "left" is hidden, so turn 3 offers only "I cannot tell.".
    (
        record(
            COCO,
            first_image=0,
            num_images=1,
            options=["Move the camera to the left.", "I cannot tell."],
            direction="left",
            granularity=3,
            horizontal_step=10,
            vertical_step=8,
            crop={"top": 20, "left": 40, "height": 60, "width": 70},
        ),
        "abstained",
        3,
    ),
    # COCO "zoom", granularity 2: zoom out is offered until the step reaches (granularity + 1) steps.
    (
        record(
            COCO,
            first_image=0,
            num_images=1,
            options=["Move farther from the object.", "I cannot tell."],
            direction="zoom",
            granularity=2,
            horizontal_step=5,
            vertical_step=5,
            crop={"top": 20, "left": 20, "height": 30, "width": 30},
        ),
        "abstained",
        3,
    ),
]


@pytest.mark.parametrize(
    ("rec", "end_reason", "turns"), HAND_MADE, ids=[f"{r.scenario}-{e}-{t}" for r, e, t in HAND_MADE]
)
def test_first_option_on_hand_made_records(rec: Record, end_reason: str, turns: int) -> None:
    (result,) = run_episodes([Job(MCQA, make_episode(rec))], PolicyAgent("first-option"))
    assert (result.end_reason, result.num_turns, result.proactive_steps, result.success) == (
        end_reason,
        turns,
        turns - 1,
        False,
    )
    assert all(t.answer == t.choices[0] for t in result.turns)
    assert [t.outcome for t in result.turns[:-1]] == ["intervention"] * (turns - 1)


def test_first_option_zoom_crops_grow_by_one_step(tmp_path: Path) -> None:
    rec = HAND_MADE[-1][0]
    (result,) = run_episodes([Job(MCQA, make_episode(rec))], PolicyAgent("first-option"))
    # crop (left, top, right, bottom): the official zoom adds step_k on every side, step_k = 5 * (k + 1)
    assert [t.crop for t in result.turns] == [
        [15, 15, 55, 55],
        [10.0, 10.0, 60.0, 60.0],
        [5.0, 5.0, 65.0, 65.0],
    ]


def expected_first_option(rec: Record) -> tuple[str, int]:
    """First-option outcome of a synthetic record from the official rules (COCO diagonals excluded)."""
    first = rec.options[0]
    if rec.scenario in (ROD, VSOD):
        return ("abstained", 1) if is_abstain(first) else ("step_limit", rec.num_images)
    if rec.scenario in (MVPN, QD):
        return ("abstained", 1) if is_abstain(first) else ("invalid_option", rec.num_images)
    if rec.scenario == INC:
        if is_abstain(first):
            return ("abstained", 1)
        return ("invalid_option", rec.num_images if first == rec.extras["quality_answer"] else 1)
    if rec.scenario == CIT:
        frame, step, turn = rec.first_image, rec.extras["step_size"], 0
        while True:
            turn += 1
            offered = list(rec.options)
            if frame - step < 0:
                offered.remove("Rewind the video.")
            elif frame + step >= rec.num_images:
                offered.remove(next(o for o in offered if "Wait for the" in o))
            if is_abstain(offered[0]):
                return ("abstained", turn)
            if turn == rec.extras["max_steps"]:
                return ("step_limit", turn)
            frame += -step if offered[0] == "Rewind the video." else step
    direction, g = rec.extras["direction"], rec.extras["granularity"]
    if is_abstain(first):
        return ("abstained", 1)
    return ("abstained", g + 1 if direction == "zoom" else g)


def test_first_option_on_the_synthetic_benchmark(bench: Path, records: dict, tmp_path: Path) -> None:
    summary = run(bench, tmp_path, "first-option")
    played = {(e["scenario"], e["record_id"]): e for e in episodes(tmp_path)}
    checked = 0
    for name, recs in records.items():
        for rec in recs:
            if rec.scenario == COCO and "_" in rec.extras["direction"]:
                continue
            episode = played[(name, rec.id)]
            assert (episode["end_reason"], episode["num_turns"]) == expected_first_option(rec), (name, rec.id)
            checked += 1
        assert summary["scenarios"][name]["acc"] == 0.0
    assert checked >= 36


# --- reference images, random actions, the command --------------------------------------------------


def test_reference_mode_scores_the_informative_image(bench: Path, tmp_path: Path) -> None:
    summary = run(bench, tmp_path, "oracle", scenarios=["qd", "mvp-n"], reference=True, limit=3)
    for block in summary["scenarios"].values():
        assert block["reference_acc"] == 100.0 and block["reference_n"] == 3 and block["n"] == 3
    lines = episodes(tmp_path)
    reference = [e for e in lines if e["mode"] == REFERENCE]
    assert len(reference) == 6 and all(e["num_turns"] == 1 for e in reference)
    assert all(len(e["turns"][0]["choices"]) == 4 for e in reference)  # categories only
    assert summary["average"]["reference_acc"] == 100.0


def test_random_runs_are_reproducible_in_any_batch_size(bench: Path, tmp_path: Path) -> None:
    one = run(bench, tmp_path / "a", "random", batch_size=1, random_actions=True)
    many = run(bench, tmp_path / "b", "random", batch_size=16, random_actions=True)
    assert one["scenarios"] == many["scenarios"]
    key = lambda e: (e["scenario"], e["record_id"])  # noqa: E731
    assert sorted(episodes(tmp_path / "a"), key=key) == sorted(episodes(tmp_path / "b"), key=key)


# --- resuming -------------------------------------------------------------------------------------------


class DiesAfter:
    """An agent that is 'killed' (raises) on its n-th call."""

    def __init__(self, inner: PolicyAgent, calls: int) -> None:
        self.inner, self.calls, self.asked = inner, calls, set()

    def answer(self, batch: Sequence[Item]) -> list[str]:
        if self.calls == 0:
            raise KeyboardInterrupt
        self.calls -= 1
        self.asked |= {(s.scenario, s.record_id) for _, s in batch}
        return self.inner.answer(batch)


def test_resume_after_a_kill_neither_loses_nor_duplicates(bench: Path, tmp_path: Path) -> None:
    complete = run(bench, tmp_path / "complete", "random")
    config = EvalConfig(
        data=str(bench), out=str(tmp_path / "killed"), policy="random", batch_size=4, progress=False
    )
    dying = DiesAfter(PolicyAgent("random"), calls=9)
    with pytest.raises(KeyboardInterrupt):
        evaluate(config, agent=dying)
    path = tmp_path / "killed" / "episodes.jsonl"
    written = path.read_text().splitlines()
    assert 0 < len(written) < 42
    assert len(dying.asked) - len(written) <= 4  # at most the episodes in flight are lost
    path.write_text(path.read_text() + written[0][:25])  # and a line half-written when the kill came
    resumed = evaluate(config)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    keys = [(e["scenario"], e["record_id"]) for e in lines]
    assert len(keys) == len(set(keys)) == 42
    assert [json.loads(x) for x in written] == lines[
        : len(written)
    ]  # finished episodes are kept as they were
    assert resumed["scenarios"] == complete["scenarios"]
    assert evaluate(config)["scenarios"] == complete["scenarios"]  # a third run has nothing left to do
    assert len(path.read_text().splitlines()) == 42


def test_cli_runs_refuses_other_config_and_shows_progress(
    bench: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    argv = [
        "--policy",
        "oracle",
        "--data",
        str(bench),
        "--out",
        str(out),
        "--scenarios",
        "QD",
        "coco",
        "--limit",
        "2",
    ]
    assert eval_main(argv) == 0
    captured = capsys.readouterr()
    assert "ep/s" in captured.err and "acc 100" in captured.out
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["scenarios"]) == [QD, COCO] and summary["average"]["n"] == 4
    assert summary["config"]["policy"] == "oracle" and summary["config"]["limit"] == 2
    for name in ("summary.md", "acc.png", "psr.png"):
        assert (out / name).stat().st_size > 0
    assert eval_main([*argv, "--hint"]) == 2
    err = capsys.readouterr().err
    assert "another configuration" in err and "hint: False there, True now" in err
    assert eval_main(["--policy", "oracle", "--data", str(bench), "--out", str(out), "--adapter", "x"]) == 2


def test_official_mode_flags_are_checked_and_set_the_defaults(bench: Path, tmp_path: Path) -> None:
    base = {"data": str(bench), "out": str(tmp_path), "model": "m"}
    assert EvalConfig(**base).max_new_tokens == 50  # the official MCQA loop
    assert EvalConfig(**base, icl=True, cot=True).max_new_tokens == 256  # ours: room for the reasoning
    official = EvalConfig(**base, mode=OPEN)
    assert (official.max_new_tokens, official.judge_max_new_tokens, official.sampled) == (2**15, 2**15, True)
    greedy = EvalConfig(**base, mode=OPEN, oeg_decoding="ours-greedy")
    assert (greedy.max_new_tokens, greedy.judge_max_new_tokens, greedy.sampled) == (256, 2048, False)
    assert EvalConfig(**base, mode=OPEN, hint=True).modes.hint is False  # open mode has its own hint
    refused = [
        {"cot": True},
        {"reduce_icl_steps": True},
        {"mode": OPEN, "icl": True},
        {"oeg_sample": "official"},
        {"mode": OPEN, "oeg_decoding": "greedy"},
    ]
    for bad in refused:
        with pytest.raises(ValueError):
            EvalConfig(**base, **bad)


def test_open_mode_official_sample_and_resize(bench: Path, records: dict, tmp_path: Path) -> None:
    config = EvalConfig(data=str(bench), out=str(tmp_path), model="m", mode=OPEN, oeg_sample="official",
                        hint=True, resize=True, scenarios=["rod", "coco"])  # fmt: skip
    jobs = select_episodes(config)
    for scenario in (ROD, COCO):
        chosen = [job.episode for job in jobs if job.episode.record.scenario == scenario]
        assert [e.record for e in chosen] == official_sample(records[scenario])
        assert not any(e.hint for e in chosen) and all(e.resize for e in chosen)
    assert {job.episode.state().short_edge for job in jobs} == {224, None}  # COCO crops are not resized


def test_resize_and_in_context_examples_with_a_policy(bench: Path, tmp_path: Path) -> None:
    """The oracle still wins every episode when the views are resized; --icl runs and is recorded."""
    summary = run(bench, tmp_path, "oracle", resize=True, icl=True, reduce_icl_steps=True)
    assert summary["average"]["acc"] == 100.0
    assert summary["config"]["resize"] and summary["config"]["reduce_icl_steps"]
