"""The GRPO reward: hand-checked values per case and preset on real environment states, robustness
properties, TRL's calling convention, and a real GRPOTrainer run that logs every component."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from data.builders import build_grpo_dataset, reachable_states
from data.environment import TurnState, make_episode
from data.records import parse_record, record_image_paths
from reward import (
    COMPONENT_CASES,
    PRESETS,
    WEIGHT_NAMES,
    Case,
    RewardInputError,
    RewardWarning,
    build_reward_funcs,
    check_rows,
    classify,
    markdown_table,
    preset_table,
    resolve_weights,
    score_completion,
)
from reward.funcs import judge_safely
from reward.rows import row_fields

pytestmark = pytest.mark.filterwarnings("error::reward.funcs.RewardWarning")

CATS = ["banana", "coffee mug", "blue kite", "star"]  # the answer is "banana"
ABSTAIN = "I cannot tell."
ROD = dict(
    image_template="rod/s{image}.png",
    first_image=7,
    num_images=14,
    reference_image=8,
    options=["Move the occluder to the left.", "Move the occluder to the right.", ABSTAIN],
)
QD = dict(  # four strokes; the third view (step 2) is the reference, so it is known to be informative
    image_template="qd/{image}.png",
    first_image=0,
    num_images=4,
    reference_image=2,
    options=["Add more details to the drawing.", ABSTAIN],
)
INC = dict(
    image_template="inc/{level}.png",
    first_image=5,
    num_images=5,
    reference_image=1,
    options=["Deblur the image.", "Denoise the image.", "Increase the brightness.", ABSTAIN],
    quality_answer="Denoise the image.",
)
SCENARIO_FIELDS = {"Realistic-Occlusion-Dataset": ROD, "QuickDraw": QD, "ImageNet-C": INC}


def record(scenario: str, record_id: int = 1):
    raw = {
        "id": record_id,
        "prompt": "What is it?",
        "categories": CATS,
        "answer": "banana",
        **SCENARIO_FIELDS[scenario],
    }
    return parse_record(scenario, raw, "test")


def state_at(scenario: str, step: int) -> TurnState:
    """The state after ``step`` accepted interventions (the first accepted option each time)."""
    episode = make_episode(record(scenario))
    for _ in range(step):
        episode.step(episode.state().accepted_options[0])
    return episode.state()


def row(state: TurnState) -> dict:
    """The GRPO dataset row of a state, with the columns data/builders.py writes (no image)."""
    return {
        "prompt": state.prompt,
        "options": list(state.options),
        "accepted_options": list(state.accepted_options),
        "categories": list(state.categories),
        "accepted_categories": list(state.accepted_categories),
        "answer": "banana",
        "informative": state.informative,
        "step": state.step,
        "scenario": state.scenario,
        "record_id": state.record_id,
    }


# (scenario, step, answer, case): every case, in text and letter forms, on real states.
# QD step 0: A=details B=abstain C=banana D=coffee mug; ROD step 0: A=left B=right C=abstain D=banana ...
SITUATIONS = [
    ("QuickDraw", 0, "banana", Case.CORRECT),
    ("QuickDraw", 0, "C", Case.CORRECT),
    ("QuickDraw", 0, "C. banana", Case.CORRECT),
    ("QuickDraw", 3, "banana", Case.CORRECT),  # last stroke: only categories are accepted
    ("Realistic-Occlusion-Dataset", 1, "D", Case.CORRECT),
    ("QuickDraw", 0, "Add more details to the drawing.", Case.USEFUL_INTERVENTION),
    ("QuickDraw", 1, "A", Case.USEFUL_INTERVENTION),
    ("Realistic-Occlusion-Dataset", 0, "move the occluder to the right.", Case.USEFUL_INTERVENTION),
    ("ImageNet-C", 0, "Denoise the image.", Case.USEFUL_INTERVENTION),
    ("QuickDraw", 2, "Add more details to the drawing.", Case.OVER_ASKING),  # the reference view
    ("QuickDraw", 2, "A", Case.OVER_ASKING),
    ("QuickDraw", 0, "coffee mug", Case.WRONG_CATEGORY),
    ("QuickDraw", 0, "F", Case.WRONG_CATEGORY),
    ("Realistic-Occlusion-Dataset", 1, "G", Case.WRONG_CATEGORY),
    ("Realistic-Occlusion-Dataset", 0, "banana", Case.PREMATURE_ANSWER),  # right category, wrong time
    ("Realistic-Occlusion-Dataset", 0, "D", Case.PREMATURE_ANSWER),
    ("Realistic-Occlusion-Dataset", 0, "star", Case.PREMATURE_ANSWER),
    ("QuickDraw", 0, ABSTAIN, Case.ABSTAIN),
    ("QuickDraw", 0, "B", Case.ABSTAIN),
    ("Realistic-Occlusion-Dataset", 0, "C", Case.ABSTAIN),
    ("ImageNet-C", 0, "Deblur the image.", Case.INVALID_OPTION),  # the wrong fix
    ("ImageNet-C", 0, "A", Case.INVALID_OPTION),
    ("QuickDraw", 3, "Add more details to the drawing.", Case.INVALID_OPTION),  # no more strokes
    ("QuickDraw", 0, "A or B", Case.UNPARSEABLE),
    ("QuickDraw", 0, "", Case.UNPARSEABLE),
    ("QuickDraw", 0, "I think it is a banana.", Case.UNPARSEABLE),
    ("QuickDraw", 0, "Z", Case.UNPARSEABLE),
    ("Realistic-Occlusion-Dataset", 0, "Rotate the object.", Case.UNPARSEABLE),  # not offered here
]

# Hand-written from the task's definition of each preset (not computed from reward/).
EXPECTED = {
    "proactive": {
        Case.CORRECT: 1.0,
        Case.USEFUL_INTERVENTION: 0.5,
        Case.OVER_ASKING: 0.0,
        Case.WRONG_CATEGORY: -0.5,
        Case.PREMATURE_ANSWER: -0.5,
        Case.ABSTAIN: -0.25,
        Case.INVALID_OPTION: -0.5,
        Case.UNPARSEABLE: -0.5,
    },
    **{
        f"paper_rp{rp}": {
            Case.CORRECT: 1.0,
            Case.USEFUL_INTERVENTION: rp,
            Case.OVER_ASKING: rp,
            Case.WRONG_CATEGORY: 0.0,
            Case.PREMATURE_ANSWER: 0.0,
            Case.ABSTAIN: 0.0,
            Case.INVALID_OPTION: 0.0,
            Case.UNPARSEABLE: 0.0,
        }
        for rp in (0.5, 0.75, 1.0)
    },
}


def columns(rows: list[dict]) -> dict[str, list]:
    return {name: [r[name] for r in rows] for name in rows[0]}


def component_values(funcs, completions, rows, **extra) -> list[list[float]]:
    return [func(completions=completions, **columns(rows), **extra) for func in funcs]


def test_situations_cover_every_case_and_every_preset_is_hand_checked():
    assert {case for *_, case in SITUATIONS} == set(Case)
    assert set(EXPECTED) == set(PRESETS)
    assert {r.case: r.values for r in preset_table()} == {
        case: {preset: EXPECTED[preset][case] for preset in PRESETS} for case in Case
    }


@pytest.mark.parametrize("preset", list(EXPECTED))
@pytest.mark.parametrize(("scenario", "step", "answer", "case"), SITUATIONS)
def test_value_of_each_case_in_each_preset(preset, scenario, step, answer, case):
    r = row(state_at(scenario, step))
    assert classify(answer, r) is case
    assert score_completion(answer, r, preset) == EXPECTED[preset][case]
    parts = component_values(build_reward_funcs(preset), [answer], [r])
    assert math.fsum(p[0] for p in parts) == EXPECTED[preset][case]
    assert sum(p[0] != 0.0 for p in parts) <= 1  # each case lives in exactly one component


def test_the_state_fixtures_are_what_the_cases_claim():
    assert state_at("QuickDraw", 0).informative is None and state_at("QuickDraw", 2).informative is True
    assert state_at("QuickDraw", 3).accepted_options == ()
    assert state_at("Realistic-Occlusion-Dataset", 0).accepted_categories == ()
    assert state_at("ImageNet-C", 0).accepted_options == ("Denoise the image.",)


def test_component_names_and_membership():
    funcs = build_reward_funcs()
    assert [f.__name__ for f in funcs] == ["answer_reward", "intervention_reward", "format_reward"]
    assert set().union(*COMPONENT_CASES.values()) == set(Case)
    assert sum(len(cases) for cases in COMPONENT_CASES.values()) == len(Case)


def test_weight_overrides_and_intervention_cost():
    r_ask, r_over = row(state_at("QuickDraw", 0)), row(state_at("QuickDraw", 2))
    ask = "Add more details to the drawing."
    assert score_completion(ask, r_ask, intervention_cost=0.125) == 0.375
    assert score_completion(ask, r_over, intervention_cost=0.125) == -0.125
    assert score_completion("coffee mug", r_ask, wrong_category=-1) == -1.0
    assert score_completion("banana", r_ask, "paper_rp0.5", correct=2) == 2.0
    funcs = build_reward_funcs("paper_rp1.0", useful_intervention=0.25, intervention_cost=0.25)
    assert [f([ask], **columns([r_ask]))[0] for f in funcs] == [0.0, 0.0, 0.0]
    assert [f([ask], **columns([r_over]))[0] for f in funcs] == [0.0, 0.75, 0.0]


def test_bad_presets_and_weights_are_refused_with_the_valid_names():
    with pytest.raises(ValueError, match=r"unknown reward preset 'paper'.*proactive, paper_rp0\.5"):
        build_reward_funcs("paper")
    with pytest.raises(ValueError, match=r"unknown reward weight\(s\) bonus, rp;.*useful_intervention"):
        build_reward_funcs(rp=0.5, bonus=1)
    for bad in (math.nan, math.inf, "1", True, None):
        with pytest.raises(ValueError, match="reward weight 'abstain': expected a finite number"):
            resolve_weights(abstain=bad)
    assert set(WEIGHT_NAMES) == {c.value for c in Case} | {"intervention_cost"}


def test_proactive_ordering_correct_over_asking_over_blind_guessing_over_abstaining_over_wrong():
    r = row(state_at("QuickDraw", 0))
    blind_guess = sum(score_completion(c, r) for c in CATS) / len(CATS)
    assert blind_guess == pytest.approx(0.25 * 1.0 + 0.75 * -0.5)
    values = [score_completion(a, r) for a in ("banana", "Add more details to the drawing.", ABSTAIN, "star")]
    assert values[0] > values[1] > blind_guess > values[2] > values[3]
    assert values[2] == -0.25
    assert score_completion("Add more details to the drawing.", row(state_at("QuickDraw", 2))) < values[1]


def test_paper_rp1_pays_asking_as_much_as_answering():
    r = row(state_at("QuickDraw", 2))  # even on the informative view
    ask, answer = (score_completion(a, r, "paper_rp1.0") for a in ("A", "banana"))
    assert ask == answer == 1.0
    assert (
        sum(score_completion(c, r, "paper_rp1.0") for c in CATS) / 4
        == 0.25
        > score_completion(ABSTAIN, r, "paper_rp1.0")
    )


CONVERSATIONAL_FORMS = [
    lambda t: [{"role": "assistant", "content": t}],
    lambda t: {"role": "assistant", "content": t},
    lambda t: [{"role": "assistant", "content": [{"type": "text", "text": t}]}],
    lambda t: [
        {"role": "assistant", "content": "ignored"},
        {"role": "tool", "content": "x"},
        {"role": "assistant", "content": t},
    ],
]


@pytest.mark.parametrize("form", range(len(CONVERSATIONAL_FORMS)))
def test_conversational_and_plain_completions_score_the_same(form):
    for scenario, step, answer, _ in SITUATIONS:
        r = row(state_at(scenario, step))
        wrapped = CONVERSATIONAL_FORMS[form](answer)
        assert score_completion(wrapped, r) == score_completion(answer, r)
        funcs = build_reward_funcs()
        assert component_values(funcs, [wrapped], [r]) == component_values(funcs, [answer], [r])


@pytest.mark.parametrize(
    "completion", [None, [{"role": "assistant", "content": None}], [], [{"role": "assistant"}], 42]
)
def test_empty_or_odd_completions_are_unparseable(completion):
    assert score_completion(completion, row(state_at("QuickDraw", 0))) == -0.5


def test_missing_optional_columns_mean_unknown_informativeness():
    over_asking_row = row(state_at("QuickDraw", 2))
    bare = {
        k: over_asking_row[k] for k in ("options", "accepted_options", "categories", "accepted_categories")
    }
    parts = component_values(build_reward_funcs(), ["A", "banana"], [bare, bare])
    assert parts == [[0.0, 1.0], [0.5, 0.0], [0.0, 0.0]]  # answer, intervention, format
    assert score_completion("A", bare) == 0.5 and score_completion("A", over_asking_row) == 0.0


def test_outcome_rates_and_cases_are_logged_by_the_first_component_only():
    metrics: dict[str, list[float]] = {}
    extra: dict[str, list] = {}
    r = row(state_at("QuickDraw", 0))
    texts = ["banana", "A", "A", "star", "A or B", ABSTAIN, "", "C"]
    hooks = dict(
        log_metric=lambda n, v: metrics.setdefault(n, []).append(v),
        log_extra=lambda c, v: extra.setdefault(c, []).extend(v),
    )
    for func in build_reward_funcs():
        func(
            texts,
            trainer_state=None,
            prompts=[r["prompt"]] * 8,
            completion_ids=[[1]] * 8,
            **columns([r] * 8),
            **hooks,
        )
    assert metrics == {
        "outcomes/correct": [0.25],
        "outcomes/useful_intervention": [0.25],
        "outcomes/over_asking": [0.0],
        "outcomes/wrong_category": [0.125],
        "outcomes/premature_answer": [0.0],
        "outcomes/abstain": [0.125],
        "outcomes/invalid_option": [0.0],
        "outcomes/unparseable": [0.25],
    }
    assert extra == {
        "reward_case": [
            "correct",
            "useful_intervention",
            "useful_intervention",
            "wrong_category",
            "unparseable",
            "abstain",
            "unparseable",
            "correct",
        ],
        # the row each completion answered, for the completions table (proactive view)
        "scenario": ["QuickDraw"] * 8,
        "record_id": [r["record_id"]] * 8,
        "turn": [0] * 8,
        "informative": [r["informative"]] * 8,
    }


def test_a_new_batch_is_judged_afresh_even_in_the_same_list_object():
    funcs = build_reward_funcs()
    r = row(state_at("QuickDraw", 0))
    texts, cols = ["banana", "A"], columns([r, r])
    assert [f(texts, **cols) for f in funcs] == [[1.0, 0.0], [0.0, 0.5], [0.0, 0.0]]
    texts[0] = "star"
    cols["informative"][1] = True
    assert [f(texts, **cols) for f in funcs] == [[-0.5, 0.0], [0.0, 0.0], [0.0, 0.0]]


def test_malformed_rows_raise_naming_row_and_field():
    good = row(state_at("QuickDraw", 0))
    cases = [
        (
            {"accepted_options": ["Jump."]},
            r"row 0 \(scenario 'QuickDraw', record_id 1, step 0\): field 'accepted_options': 'Jump\.' is not one of the options",
        ),
        (
            {"accepted_categories": ["dog"]},
            r"field 'accepted_categories': 'dog' is not one of the categories",
        ),
        ({"options": "Add more details."}, r"field 'options': expected a list of strings, got str"),
        ({"categories": ["banana", 3]}, r"field 'categories\[1\]': expected a string, got int"),
        ({"informative": "yes"}, r"field 'informative': expected true, false or null"),
    ]
    for change, message in cases:
        with pytest.raises(RewardInputError, match=message):
            build_reward_funcs()[0](["A"], **columns([{**good, **change}]))
    with pytest.raises(RewardInputError, match="missing column.*categories"):
        build_reward_funcs()[0](["A"], options=[[]], accepted_options=[[]], accepted_categories=[[]])
    with pytest.raises(RewardInputError, match="column 'options' has 2 entries for 1 completions"):
        build_reward_funcs()[0](["A"], **{k: [v, v] for k, v in good.items()})
    with pytest.raises(RewardInputError, match="row 3: missing column"):
        check_rows([good, good, good, {"options": []}])


def test_a_parser_failure_is_a_warning_and_scores_as_unparseable():
    class Unprintable:
        def __str__(self):
            raise RuntimeError("no text")

    with pytest.warns(RewardWarning, match="could not judge a completion.*no text"):
        assert judge_safely(Unprintable(), row_fields(row(state_at("QuickDraw", 0)))) is Case.UNPARSEABLE


def test_huge_and_strange_texts_score_finite_values():
    r = row(state_at("Realistic-Occlusion-Dataset", 1))
    for text in (
        "x" * 1_000_000,
        "A." * 500_000,
        "\x00\ud800\U0001f600" * 1000,
        " \n" * 100_000,
        "A, B, C and D",
    ):
        assert math.isfinite(score_completion(text, r))


# --- properties over arbitrary rows and texts ------------------------------------------------------


@st.composite
def rows_and_completions(draw):
    options = draw(st.lists(st.text(max_size=30), max_size=6))
    categories = draw(st.lists(st.text(max_size=30), min_size=1, max_size=6))
    accepted_options = draw(st.lists(st.sampled_from(options), max_size=3)) if options else []
    accepted_categories = draw(st.lists(st.sampled_from(categories), max_size=1))
    r = {
        "options": options,
        "accepted_options": accepted_options,
        "categories": categories,
        "accepted_categories": accepted_categories,
        "informative": draw(st.sampled_from([True, False, None])),
    }
    choices = options + categories
    piece = st.one_of(
        st.text(),
        st.sampled_from(choices),
        st.sampled_from([chr(65 + i) for i in range(len(choices) + 2)]),
        st.sampled_from(["A or B", "A. ", ". ", "", " ", "B.C.", "\n\n"]),
    )
    text = "".join(draw(st.lists(piece, min_size=1, max_size=3)))
    form = draw(st.sampled_from([lambda t: t, lambda t: [{"role": "assistant", "content": t}]]))
    return r, form(text)


@settings(max_examples=300, deadline=None)
@given(rows_and_completions(), st.sampled_from(list(PRESETS)))
def test_any_text_gets_a_finite_table_value_and_the_components_sum_to_it(sample, preset):
    r, completion = sample
    total = score_completion(completion, r, preset)
    assert math.isfinite(total) and total in set(EXPECTED[preset].values())
    parts = component_values(build_reward_funcs(preset), [completion], [r])
    assert all(math.isfinite(p[0]) for p in parts) and math.fsum(p[0] for p in parts) == total


# --- whatever object a trainer hands over ------------------------------------------------------------


class Touchy:
    """A completion whose comparisons and truth value raise (numpy arrays and tensors do the like)."""

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("no comparing")

    __ne__ = __eq__
    __hash__ = object.__hash__

    def __bool__(self) -> bool:
        raise RuntimeError("no truth value")

    def __str__(self) -> str:
        return "A"


HOSTILE = [
    Touchy,
    lambda: np.array(["A", "banana"]),
    lambda: np.array([]),
    lambda: np.array([[1.0, np.nan]]),
    lambda: torch.tensor([1, 2]),
    lambda: torch.tensor(1.0),
    lambda: None,
    lambda: [["A"]],
    lambda: [[{"role": "assistant", "content": "A"}]],
    lambda: [{"role": "assistant", "content": np.array(["banana"])}],
    lambda: {"role": "assistant", "content": torch.zeros(2)},
    lambda: [{"role": "assistant", "content": [{"type": "text", "text": Touchy()}]}],
    lambda: "banana",
    lambda: "A",
]


def test_hostile_completions_never_make_the_reward_raise():
    funcs = build_reward_funcs()
    r = row(state_at("QuickDraw", 0))
    for _ in range(2):  # the second batch is compared with the first one held in the cache
        batch = [make() for make in HOSTILE]
        cols = columns([r] * len(batch))
        parts = [f(batch, **cols) for f in funcs]
        parts_again = [f(batch, **cols) for f in funcs]  # the same batch: served from the cache
        assert parts == parts_again
        totals = [math.fsum(p[i] for p in parts) for i in range(len(batch))]
        assert totals == [score_completion(c, r) for c in batch]
        assert totals[0] == score_completion("A", r) and totals[-2] == 1.0


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from(range(len(HOSTILE))), min_size=1, max_size=6), min_size=1, max_size=4)
)
def test_any_sequence_of_hostile_batches_scores_like_one_completion_at_a_time(batches):
    funcs = build_reward_funcs()
    r = row(state_at("QuickDraw", 2))
    for indices in batches:
        batch = [HOSTILE[i]() for i in indices]
        parts = [f(batch, **columns([r] * len(batch))) for f in funcs]
        assert all(len(p) == len(batch) for p in parts)
        assert [math.fsum(p[i] for p in parts) for i in range(len(batch))] == [
            score_completion(c, r) for c in batch
        ]


# --- the real data path: builder rows ---------------------------------------------------------------


def test_rows_of_the_grpo_builder_validate_and_reward_the_oracle(tmp_path: Path):
    from PIL import Image

    records = [record(name, record_id=i) for i, name in enumerate(SCENARIO_FIELDS)]
    for rec in records:
        for image in record_image_paths(rec):
            (tmp_path / image).parent.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (8, 8)).save(tmp_path / image)
    dataset = build_grpo_dataset(records, tmp_path).remove_columns("image")
    assert check_rows(dataset) == len(dataset) == sum(len(reachable_states(rec)) for rec in records)
    oracle = [
        r["accepted_options"][0] if r["accepted_options"] and r["informative"] is not True else r["answer"]
        for r in dataset
    ]
    funcs = build_reward_funcs()
    totals = [sum(v) for v in zip(*component_values(funcs, oracle, list(dataset)), strict=True)]
    assert totals == [score_completion(a, r) for a, r in zip(oracle, dataset, strict=True)]
    assert min(totals) > 0 and totals.count(1.0) >= 1 and totals.count(0.5) >= 1


# --- TRL's GRPOTrainer calls the functions and logs every component --------------------------------


@pytest.mark.slow
def test_grpo_trainer_logs_each_component(tmp_path: Path):
    import torch
    from datasets import Dataset
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM
    from trl import GRPOConfig, GRPOTrainer

    torch.manual_seed(0)
    rows = [
        row(state_at("QuickDraw", 0)),
        row(state_at("QuickDraw", 2)),
        row(state_at("Realistic-Occlusion-Dataset", 0)),
    ]
    # one-token answers from a vocabulary of letters and two categories: most completions parse
    vocab = {t: i for i, t in enumerate(["<pad>", "<eos>", "<unk>", *"ABCDEFG", "banana", "star"])}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>"
    )
    config = Qwen2Config(
        vocab_size=len(vocab),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=256,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=1,
    )
    prompts = [f"step {r['step']} {r['scenario']} {r['prompt']}" for r in rows]  # distinct plain-text prompts
    dataset = Dataset.from_list([{**r, "prompt": p} for r, p in zip(rows, prompts, strict=True)])
    args = GRPOConfig(
        output_dir=str(tmp_path),
        per_device_train_batch_size=8,
        num_generations=4,
        max_completion_length=1,
        max_steps=2,
        logging_steps=1,
        learning_rate=1e-3,
        report_to="none",
        use_cpu=True,
        bf16=False,
        activation_checkpointing=False,
        save_strategy="no",
        seed=0,
    )
    trainer = GRPOTrainer(
        model=Qwen2ForCausalLM(config),
        reward_funcs=build_reward_funcs(),
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
    )
    trainer.train()
    steps = [h for h in trainer.state.log_history if "reward" in h]
    assert len(steps) == 2
    for logs in steps:
        means = [logs[f"rewards/{name}/mean"] for name in COMPONENT_CASES]
        assert logs["reward"] == pytest.approx(sum(means), abs=1e-6)
        assert sum(logs[f"outcomes/{case.value}"] for case in Case) == pytest.approx(1.0)
    # the last batch, as TRL logged it (trl 1.16 internals): each reward equals our own scoring
    by_prompt = dict(zip(prompts, rows, strict=True))
    logged = trainer._logs
    assert len(logged["completion"]) == 8 and len(set(logged["extra"]["reward_case"])) >= 3
    for i, (prompt, completion) in enumerate(zip(logged["prompt"], logged["completion"], strict=True)):
        total = sum(logged["rewards"][name][i] for name in COMPONENT_CASES)
        assert total == score_completion(completion, by_prompt[prompt])
        assert logged["extra"]["reward_case"][i] == classify(completion, by_prompt[prompt]).value


def test_design_doc_holds_the_generated_table():
    design = (Path(__file__).parents[1] / "reward" / "DESIGN.md").read_text(encoding="utf-8")
    assert markdown_table() in design
