"""proactive view: the pages of eval runs (alone and compared) and of a GRPO run's samples.

Two hand-made runs on a synthetic benchmark, each episode played through the real environment with a
scripted answer, so every filter's count is known by hand. Checked: the page's index and details
(counts per filter, prompts rebuilt equal to the prompts the episodes showed, COCO thumbnails cropped,
fields unknown to this version shown raw, bad input refused in one line), a tiny GRPO run's logged
completions and images, and the page used as a person would in headless Chromium (filters, pagination).
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from data.environment import Episode, TurnState, make_episode, reachable_states
from data.images import open_view
from data.policies import abstain, oracle
from data.records import load_scenario
from data.synth import generate_benchmark
from eval.metrics import summarize
from eval.open_ended import OPEN_HINT
from eval.report import write_run_report
from eval.report_cli import write_report
from eval.results import MCQA, OPEN, REFERENCE, EpisodeResult, JudgeResult, TurnResult, episode_result
from eval.store import RunStore
from eval.view.page import PAGE_SIZE, read_detail, read_index
from proactive.view.cli import main, write_view
from proactive.view.samples import images_index_path
from proactive.view.screenshot import chromium_path, launch_chromium, page_url

REPO = Path(__file__).resolve().parents[1]

ROD, QD, COCO, MVPN = "Realistic-Occlusion-Dataset", "QuickDraw", "coco2014", "MVP-N"
Policy = Callable[[Episode, TurnState], str]


def wrong_category(episode: Episode, state: TurnState) -> str:
    return next(c for c in state.categories if c != episode.record.answer)


def always_ask(episode: Episode, state: TurnState) -> str:
    return state.accepted_options[0]


def ask_once(episode: Episode, state: TurnState) -> str:
    return oracle(episode, state) if state.step == 0 else episode.record.answer


def gibberish(episode: Episode, state: TurnState) -> str:
    return "zzz"


# (scenario, record index, mode, policy) of run A, and what run B does differently.
RUN_A = [
    (QD, 0, MCQA, oracle),  # correct
    (QD, 1, MCQA, wrong_category),  # a wrong guess on the uninformative first view
    (QD, 2, MCQA, abstain),  # abstain
    (ROD, 0, MCQA, gibberish),  # unparseable
    (ROD, 1, MCQA, always_ask),  # step limit, asking on informative views too (over-asking)
    (ROD, 2, MCQA, ask_once),  # asks once, then correct
    (COCO, 0, MCQA, oracle),  # correct, on crops
    (MVPN, 0, REFERENCE, oracle),  # correct, reference image
]
RUN_B = {(QD, 1): oracle, (QD, 2): gibberish, (COCO, 0): None}  # None: not in run B
HAND_COUNTS = {
    "A": {
        "correct": 4,
        "wrong_guess_uninformative": 1,
        "abstain": 1,
        "unparseable": 1,
        "step_limit": 1,
        "over_asking": 1,
    },
    "B": {"correct": 4, "unparseable": 2, "step_limit": 1, "over_asking": 1},
}
# Items carrying a tag in any run (the page's default filter), and items where the runs differ.
HAND_ANY_RUN = {
    "correct": 5,
    "wrong_guess_uninformative": 1,
    "abstain": 1,
    "unparseable": 2,
    "step_limit": 1,
    "over_asking": 1,
}
HAND_DIFFER = 3


@dataclass
class Pages:
    bench: Path
    runs: dict[str, Path]
    played: dict[tuple[str, str, int], Episode]  # run A's episodes, by (mode, scenario, record id)
    single: Path  # the page of run A
    comparison: Path  # A and B side by side


def play(record, policy: Policy, mode: str) -> Episode:
    episode = make_episode(record, reference=mode == REFERENCE)
    while not episode.done:
        episode.step(policy(episode, episode.state()))
    return episode


def write_run(folder: Path, bench: Path, episodes: list[tuple[str, Episode]]) -> Path:
    config = {"data": str(bench), "policy": "scripted", "hint": False, "seed": 0, "random_actions": False}
    with RunStore(folder, config) as store:
        for mode, episode in episodes:
            store.append(episode_result(mode, episode))
    write_run_report(summarize(store.results.values(), n_resamples=50), folder)
    return folder


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> Pages:
    root = tmp_path_factory.mktemp("view")
    bench = root / "bench"
    generate_benchmark(bench, 3, seed=0, size=56)
    records = {s: load_scenario(bench, s).records for s in (ROD, QD, COCO, MVPN)}
    run_a, run_b, played = [], [], {}
    for scenario, index, mode, policy in RUN_A:
        record = records[scenario][index]
        episode = play(record, policy, mode)
        played[(mode, scenario, record.id)] = episode
        run_a.append((mode, episode))
        other = RUN_B.get((scenario, index), policy)
        if other is not None:
            run_b.append((mode, play(record, other, mode) if other is not policy else episode))
    wrong = played[(MCQA, QD, records[QD][1].id)]
    assert wrong.turns[0].state.informative is False  # the scripted wrong guess is on an uninformative view
    runs = {"A": write_run(root / "A", bench, run_a), "B": write_run(root / "B", bench, run_b)}
    single = write_view([runs["A"]], root / "page-a", ["A"])
    comparison = write_view([runs["A"], runs["B"]], root / "page-ab", ["A", "B"])
    return Pages(bench, runs, played, single, comparison)


def tagged(index: dict, tag: str, run: int | None = None) -> int:
    """Items the page shows for an outcome filter (in one run, or in any run)."""
    number = [t["id"] for t in index["tags"]].index(tag)
    return sum(
        any(number in run_tags for r, run_tags in enumerate(item[2]) if run is None or r == run)
        for item in index["items"]
    )


# --- the page's content, without a browser ---------------------------------------------------------------
def test_counts_per_filter_equal_the_hand_counts(pages: Pages) -> None:
    index = read_index(pages.comparison)
    assert index["runs"] == ["A", "B"]
    assert index["counts"] == HAND_COUNTS
    assert len(index["items"]) == len(RUN_A)
    for tag, expected in HAND_ANY_RUN.items():
        assert tagged(index, tag) == expected, tag
    for run, label in enumerate(("A", "B")):
        for tag, expected in HAND_COUNTS[label].items():
            assert tagged(index, tag, run) == expected, (label, tag)
    assert sum(item[3] for item in index["items"]) == HAND_DIFFER
    scenario, mode = index["facets"]
    assert scenario["values"] == ["ROD", "MVP-N", "QD", "COCO"] and mode["values"] == [MCQA, REFERENCE]
    single = read_index(pages.single)
    assert single["counts"] == {"A": HAND_COUNTS["A"]} and not any(item[3] for item in single["items"])


def item_number(index: dict, scenario: str, record_id: int, mode: str) -> int:
    """The position of an episode's card on the page."""
    title = f"{ {ROD: 'ROD', QD: 'QD', COCO: 'COCO', MVPN: 'MVP-N'}[scenario] } #{record_id}"
    modes = index["facets"][1]["values"]
    return next(i for i, item in enumerate(index["items"]) if item[0] == title and modes[item[1][1]] == mode)


def test_turns_show_the_prompts_the_episodes_showed_and_the_views(pages: Pages) -> None:
    index = read_index(pages.single)
    for (mode, scenario, record_id), episode in pages.played.items():
        [run] = read_detail(pages.single, item_number(index, scenario, record_id, mode))["runs"]
        assert len(run["turns"]) == episode.num_turns
        for shown, played in zip(run["turns"], episode.turns, strict=True):
            fields = {label: text for label, text, _ in shown["fields"]}
            assert fields["prompt"] == played.state.prompt
            assert fields["answer"] == played.answer
            assert fields["parsed as"].startswith(played.judgement.outcome.value)
            with Image.open(pages.single.parent / shown["img"]) as thumb:
                view = open_view(pages.bench, played.state.image, played.state.crop)
                assert thumb.size == view.size  # the crop the model saw (COCO), not the whole image
                assert mean_difference(thumb, view) < 8
        assert run["notes"][0] == ["ground truth", episode.record.answer, "text"]
        assert f"ended {episode.end_reason}" in run["head"]


def test_an_episode_missing_from_one_run_is_shown_as_missing(pages: Pages) -> None:
    index = read_index(pages.comparison)
    coco_id = next(record_id for _, scenario, record_id in pages.played if scenario == COCO)
    number = item_number(index, COCO, coco_id, MCQA)
    assert index["items"][number][2][1] == [] and index["items"][number][3] == 1
    a, b = read_detail(pages.comparison, number)["runs"]
    assert a is not None and b is None


def test_proactive_report_writes_and_links_the_episodes_page(pages: Pages, tmp_path: Path) -> None:
    written = write_report([str(pages.runs["A"]), str(pages.runs["B"])], tmp_path, ["A", "B"], paper=False)
    page = tmp_path / "episodes" / "index.html"
    assert page in written and read_index(page)["counts"] == HAND_COUNTS
    assert "[episodes/index.html](episodes/index.html)" in (tmp_path / "comparison.md").read_text()


def test_fields_unknown_to_this_version_and_open_mode_judging(pages: Pages, tmp_path: Path) -> None:
    record = load_scenario(pages.bench, QD).records[0]
    state = make_episode(record).state()
    judge = JudgeResult(["Add more details to the drawing", "car"], "thinking...\n1,0", 1, 0, 1, True)
    turn = TurnResult(0, state.image, None, [], "Please add strokes.", "judged", None, None, False)
    result = EpisodeResult(OPEN, QD, record.id, True, "judged", 1, 0, [turn], judge)
    line = result.to_json()
    line["judge_model"] = "judge/x"  # fields a later version may record
    line["turns"][0]["tokens"] = 7
    line["judge"]["input_messages"] = [{"role": "user", "content": "the exact judge prompt"}]
    folder = tmp_path / "open"
    folder.mkdir()
    config = {"data": str(pages.bench), "mode": OPEN, "hint": True}
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "episodes.jsonl").write_text(json.dumps(line) + "\n")
    page = write_view([folder], tmp_path / "page", ["open"])
    index = read_index(page)
    assert index["counts"] == {"open": {"suggests": 1}}
    [run] = read_detail(page, 0)["runs"]
    fields = {label: text for label, text, _ in run["turns"][0]["fields"]}
    assert fields["question"] == f"{state.question} {OPEN_HINT}"  # the open hint only, as the run asked
    assert fields["judge verdict"].startswith("ps 1 · cc 0 · agg 1")
    assert fields["judge input"] == "[user]\nthe exact judge prompt"
    assert fields["judge output"] == "thinking...\n1,0" and json.loads(fields["tokens"]) == 7
    assert ["judge_model", '"judge/x"', "details"] in run["notes"]
    # A run that did not record the judge's input says so (the prompt is not guessed after the fact).
    del line["judge"]["input_messages"]
    (folder / "episodes.jsonl").write_text(json.dumps(line) + "\n")
    [run] = read_detail(write_view([folder], tmp_path / "page2", ["open"]), 0)["runs"]
    fields = {label: text for label, text, _ in run["turns"][0]["fields"]}
    assert fields["judge input"] == "(not recorded)"


def test_a_changed_benchmark_or_none_shows_the_recorded_choices(pages: Pages, tmp_path: Path, capsys) -> None:
    lines = (pages.runs["A"] / "episodes.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    first["turns"][0]["choices"] = ["something else", *first["turns"][0]["choices"][1:]]
    folder = tmp_path / "changed"
    folder.mkdir()
    (folder / "config.json").write_text((pages.runs["A"] / "config.json").read_text())
    (folder / "episodes.jsonl").write_text(json.dumps(first) + "\n")
    [run] = read_detail(write_view([folder], tmp_path / "p1", ["x"]), 0)["runs"]
    assert "was it regenerated since the run?" in dict((n[0], n[1]) for n in run["notes"])["replay"]
    fields = {label: text for label, text, _ in run["turns"][0]["fields"]}
    assert fields["offered (prompt not rebuilt)"].startswith("A. something else\n")
    # No benchmark folder at all: the page still shows what was recorded, and says why images are missing.
    page = write_view([folder], tmp_path / "p2", ["x"], data_dir=tmp_path / "nowhere")
    assert "not found" in capsys.readouterr().err
    [run] = read_detail(page, 0)["runs"]
    assert run["turns"][0]["img"] is None and "answer" in {f[0] for f in run["turns"][0]["fields"]}


def test_bad_input_is_one_clear_line(pages: Pages, tmp_path: Path, capsys) -> None:
    assert main([str(tmp_path), "--out", str(tmp_path / "p")]) == 2
    assert capsys.readouterr().err.strip() == (
        f"proactive view: {tmp_path / 'episodes.jsonl'}: not found; RUN_DIR must be a 'proactive eval' run folder"
    )
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "episodes.jsonl").write_text('{"mode": "mcqa"}\n')
    assert main([str(folder), "--out", str(tmp_path / "p")]) == 2
    assert capsys.readouterr().err.strip() == (
        f"proactive view: {folder / 'episodes.jsonl'}:1: field 'scenario': missing"
    )
    assert main([str(pages.runs["A"]), str(pages.runs["B"]), "--labels", "x", "--out", str(tmp_path)]) == 2
    assert "--labels: 1 labels for 2 runs" in capsys.readouterr().err


# --- GRPO samples ----------------------------------------------------------------------------------------
def load_grpo_recipe():
    spec = importlib.util.spec_from_file_location("recipe_grpo", REPO / "recipes" / "grpo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def mean_difference(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference of two same-sized images' RGB values (0-255)."""
    return float(np.abs(np.asarray(a.convert("RGB"), float) - np.asarray(b.convert("RGB"), float)).mean())


@pytest.mark.slow
def test_grpo_samples_page_shows_each_logged_completion_with_its_image(
    pages: Pages, tiny_model: Path, tmp_path: Path
) -> None:
    model = tiny_model
    out = tmp_path / "grpo"
    argv = ["--config", str(REPO / "recipes" / "tiny" / "grpo.yaml"), "--model_name_or_path", str(model)]
    argv += ["--benchmark_dir", str(pages.bench), "--output_dir", str(out), "--max_steps", "2"]
    argv += ["--save_strategy", "no", "--logging_steps", "1", "--num_completions_to_print", "0"]
    argv += ["--per_device_train_batch_size", "8", "--num_generations", "4"]
    assert load_grpo_recipe().main(argv) == 0
    logged = [
        row
        for step in (1, 2)
        for row in pq.read_table(out / "completions" / f"completions_{step:05d}.parquet").to_pylist()
    ]
    page = write_view([out], tmp_path / "page")
    index = read_index(page)
    assert index["completions"] == len(logged) == 16 and len(index["items"]) == 4  # 2 prompts x 2 steps
    rows = iter(logged)
    states: dict[tuple[str, int], list[TurnState]] = {}
    for number in range(len(index["items"])):
        [run] = read_detail(page, number)["runs"]
        prompt, *completions = run["turns"]
        assert len(completions) == 4
        for completion in completions:  # in TRL's order, each with its rewards and case
            row = next(rows)
            fields = dict((label, text) for label, text, _ in completion["fields"])
            assert fields["completion"] == row["completion"][0]["content"]
            parts = ", ".join(
                f"{n} {row[n]:+.2f}" for n in ("answer_reward", "intervention_reward", "format_reward")
            )
            assert f"({parts})" in fields["reward"] and completion["badge"] == row["reward_case"]
        # The image shown is the view of the state that prompt was built from.
        key = (row["scenario"], row["record_id"])
        if key not in states:
            record = next(r for r in load_scenario(pages.bench, key[0]).records if r.id == key[1])
            states[key] = reachable_states(record)
        candidates = [s for s in states[key] if s.step == row["turn"] and s.prompt in prompt["fields"][0][1]]
        with Image.open(page.parent / prompt["img"]) as thumb:
            views = [open_view(pages.bench, s.image, s.crop) for s in candidates]
            assert min(mean_difference(thumb, v) for v in views if v.size == thumb.size) < 12
    assert next(rows, None) is None
    assert len(json.loads(images_index_path(out, 1).read_text())) == 8


# --- in a browser -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install -e .[dev])"
    )
    if chromium_path() is None:
        pytest.skip("no Chromium could be installed here (Debian package 'chromium'; .ci/run installs it)")
    with sync_api.sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


def shown_count(tab) -> int:
    return int(tab.get_attribute("#match-count", "data-count"))


def test_filters_in_headless_chromium(pages: Pages, browser) -> None:
    tab = browser.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda err: errors.append(str(err)))
    tab.goto(page_url(pages.comparison))
    tab.wait_for_selector(".card.loaded")
    assert shown_count(tab) == len(RUN_A) and tab.locator(".card").count() == len(RUN_A)
    # Outcome "abstain": the one episode where run A abstained, both runs' turns side by side.
    tab.select_option("select[name=outcome]", label=f"abstain ({HAND_ANY_RUN['abstain']})")
    tab.wait_for_selector(".card.loaded")
    assert shown_count(tab) == 1 and tab.locator(".card").count() == 1
    card = tab.locator(".card")
    assert "A: abstain" in card.locator(".head").inner_text() and "B: unparseable" in card.inner_text()
    assert "I cannot tell." in card.locator(".run").nth(0).inner_text()
    # Each filter's count as the page shows it, for one run at a time.
    tab.select_option("select[name=run]", label="B")
    tab.select_option("select[name=outcome]", label="unparseable (2)")
    assert shown_count(tab) == HAND_COUNTS["B"]["unparseable"]
    # "Only where the runs differ", with any outcome.
    tab.select_option("select[name=outcome]", value="-1")
    tab.select_option("select[name=run]", value="-1")
    tab.click("input[name=differ]")
    assert shown_count(tab) == HAND_DIFFER and tab.locator(".card").count() == HAND_DIFFER
    assert "differ=1" in tab.url
    # The prompt and the image of a turn, as the episode showed them.
    tab.click("input[name=differ]")
    tab.select_option("select[name=scenario]", label="COCO (1)")
    tab.wait_for_selector(".card.loaded")
    episode = next(e for (_, s, _), e in pages.played.items() if s == COCO)
    first_turn = tab.locator(".card .run").nth(0).locator(".turn").nth(0)
    assert first_turn.locator("pre").nth(0).inner_text() == episode.turns[0].state.prompt
    size = first_turn.locator("img").evaluate("(img) => [img.naturalWidth, img.naturalHeight]")
    assert (
        tuple(size) == open_view(pages.bench, episode.turns[0].state.image, episode.turns[0].state.crop).size
    )
    # A filtered view is a link: the hash brings it back.
    tab.goto(page_url(pages.comparison, "outcome=step_limit"))
    tab.wait_for_selector(".card.loaded")
    assert shown_count(tab) == 1 and "step limit" in tab.locator(".card .head").inner_text()
    assert errors == []


def test_pagination_in_headless_chromium(pages: Pages, browser, tmp_path: Path) -> None:
    from eval.cli import main as eval_main

    run = tmp_path / "random"
    assert (
        eval_main(
            [
                "--policy",
                "random",
                "--data",
                str(pages.bench),
                "--reference",
                "--out",
                str(run),
                "--no-progress",
            ]
        )
        == 0
    )
    page = write_view([run], tmp_path / "page", ["random"])
    titles = [item[0] for item in read_index(page)["items"]]
    assert len(titles) == 42 > 2 * PAGE_SIZE
    tab = browser.new_page()
    tab.goto(page_url(page))
    tab.wait_for_selector(".card.loaded")
    assert tab.locator(".card .title").all_inner_texts() == titles[:PAGE_SIZE]
    tab.click("button[name=next]")
    tab.click("button[name=next]")
    tab.wait_for_selector(".card.loaded")
    assert tab.locator(".card .title").all_inner_texts() == titles[2 * PAGE_SIZE :]
    assert tab.inner_text("#page-info") == "page 3 of 3" and tab.is_disabled("button[name=next]")
