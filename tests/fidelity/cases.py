"""Random but valid records of every scenario, answer scripts that exercise every parser path, judge
outputs that exercise every verdict-parser path, and the cases of each kind the official driver runs."""

from __future__ import annotations

import random
import zlib
from typing import Any

from data.environment import image_path_for, make_episode
from data.icl import ICL_SCENARIOS
from data.records import parse_record
from data.scenarios import SCENARIO_NAMES
from eval.open_ended import expected_verdicts, valid_answers

ABSTAIN = "I cannot tell."
CATEGORY_POOL = [
    "apple",
    "red car",
    "blue kite",
    "green frog",
    "star",
    "house",
    "cup",
    "lamp",
    "tree",
    "fish",
    "St. Bernard",  # dots are removed from the open-ended answer list
    "tench, Tinca tinca",  # commas split it
    "U.S. flag",
]
ROTATE = [
    "Rotate the object.",
    "Show me a different view.",
    "Change the viewing angle.",
    "Turn it to another orientation.",
]
DETAILS = ["Add more details.", "Keep drawing.", "Continue the sketch.", "Finish the quickdraw."]
FIXES = [
    "Deblur the image.",
    "Denoise the image.",
    "Increase the brightness.",
    "Increase the contrast.",
    "Increase the saturation.",
    "Reduce the compression.",
    "Increase the resolution.",
    "Remove the artifacts.",
]
MOVES = {
    "left": "Move the camera to the left.",
    "right": "Move the camera to the right.",
    "up": "Move the camera up.",
    "down": "Move the camera down.",
    "zoom": "Move farther from the object.",
}


def _common(
    rng: random.Random, record_id: int, template: str, options: list[str], **fields: Any
) -> dict[str, Any]:
    categories = rng.sample(CATEGORY_POOL, 4)
    rng.shuffle(options)
    return {
        "id": record_id,
        "image_template": template,
        "prompt": "What is shown?",
        "options": options,
        "categories": categories,
        "answer": rng.choice(categories),
        **fields,
    }


def make_record(scenario: str, rng: random.Random, record_id: int) -> dict[str, Any]:
    if scenario == "Realistic-Occlusion-Dataset":
        name = rng.choice(["natural_bluebl_greenr-banana", "obj"])
        return _common(
            rng,
            record_id,
            f"ROD/{name}-s{{image}}.jpg",
            ["Move the occluder to the left.", "Move the occluder to the right.", ABSTAIN],
            first_image=7,
            num_images=14,
            reference_image=rng.randrange(14),
        )
    if scenario == "OcclusionDataSet-MM20":
        n = rng.randint(3, 9)
        return _common(
            rng,
            record_id,
            "VSOD/v/{image}.png",
            ["Wait for the occlusion to disappear.", "Rewind the video.", ABSTAIN],
            first_image=rng.randrange(n),
            num_images=n,
            reference_image=rng.randrange(n),
            strong_occlusions=True,
        )
    if scenario == "MVP-N":
        n = rng.randint(2, 5)
        valid = rng.sample(range(40), n + rng.randint(0, 2))
        return _common(
            rng,
            record_id,
            "MVPN/p/{image}_{informative}.png",
            rng.sample(ROTATE, 2) + [ABSTAIN],
            first_image=valid[0],
            num_images=n,
            reference_image=valid[-1],
            valid_images=valid,
        )
    if scenario == "ImageNet-C":
        fixes = rng.sample(FIXES, 4)
        return _common(
            rng,
            record_id,
            "INC/c/{level}/x.png",
            fixes + [ABSTAIN],
            first_image=5,
            num_images=5,
            reference_image=0,
            quality_answer=fixes[0],
        )
    if scenario == "QuickDraw":
        n = rng.randint(2, 6)
        return _common(
            rng,
            record_id,
            "QD/s/{image}.png",
            [rng.choice(DETAILS), ABSTAIN],
            first_image=0,
            num_images=n,
            reference_image=n - 1,
        )
    if scenario == "ChangeIt":
        n, step = rng.randint(4, 12), rng.randint(1, 3)
        return _common(
            rng,
            record_id,
            "CIT/v/{image}.png",
            ["Wait for the object to appear.", "Rewind the video.", ABSTAIN],
            first_image=rng.randrange(0, n, step),
            num_images=n,
            reference_image=n - 1,
            step_size=step,
            max_steps=rng.randint(2, 8),
        )
    if scenario == "coco2014":
        direction = rng.choice(
            ["left", "right", "up", "down", "up_left", "down_right", "up_right", "down_left", "zoom"]
        )
        words = ["zoom"] if direction == "zoom" else direction.split("_")
        step = rng.choice([rng.randint(3, 20), round(rng.uniform(2, 20), 3)])
        return _common(
            rng,
            record_id,
            "COCO/img.jpg",
            [MOVES[w] for w in words] + [ABSTAIN],
            first_image=0,
            num_images=1,
            reference_image=0,
            direction=direction,
            granularity=rng.randint(3, 5),
            horizontal_step=step,
            vertical_step=rng.randint(3, 20),
            crop={
                "top": rng.randint(60, 100),
                "left": rng.randint(60, 100),
                "height": rng.randint(120, 200),
                "width": rng.randint(120, 200),
            },
        )
    raise ValueError(scenario)


def answer_script(
    record: dict[str, Any], rng: random.Random, length: int = 16, ask_bias: float = 0.0
) -> list[str]:
    """Answers mixing letters, option and category texts in several spellings, and junk.

    With ``ask_bias`` a turn repeats a proactive option's text, so that long trajectories (step limits,
    used-up directions, hidden options) are reached.
    """
    texts = record["options"] + record["categories"]
    proactive = (
        [record["quality_answer"]]
        if "quality_answer" in record
        else [o for o in record["options"] if o != ABSTAIN]
    )
    script = []
    for _ in range(length):
        if rng.random() < ask_bias:
            script.append(rng.choice(proactive))
            continue
        kind = rng.random()
        text = record["answer"] if rng.random() < 0.3 else rng.choice(texts)
        if kind < 0.3:
            script.append(rng.choice("ABCDEFGHabcz"))
        elif kind < 0.55:
            script.append(text)
        elif kind < 0.65:
            script.append(f"{rng.choice('ABCDEFG')}. {text}")
        elif kind < 0.75:
            script.append("  " + text.upper().replace(" ", "  ") + " ")
        elif kind < 0.8:
            script.append(f"{rng.choice('ABCDEFG')}.")
        else:
            script.append(
                rng.choice(
                    [
                        "",
                        "I think A",
                        "A or B",
                        "The answer is C.",
                        "Z",
                        "maybe.",
                        "\n",
                        "Ok. " + text,
                        text + " because",
                        "é",
                    ]
                )
            )
    return script


def image_sizes(scenario: str, raw: dict[str, Any]) -> dict[str, list[int]]:
    """A made-up but fixed size for every image an episode of the record can show (the resize needs it)."""
    sizes = {}
    for path in image_path_for(parse_record(scenario, raw, "case")):
        crc = zlib.crc32(path.encode())
        sizes[path] = [24 + crc % 900, 24 + (crc >> 12) % 900]
    return sizes


def episode_cases(per_scenario: int, seed: int) -> list[dict[str, Any]]:
    """Multiple-choice episodes of every scenario under hint, reference, random-action and resize modes;
    some scripts hold a refused image (None) somewhere."""
    rng = random.Random(seed)
    cases = []
    for scenario in SCENARIO_NAMES:
        for i in range(per_scenario):
            record = make_record(scenario, rng, i)
            mode = rng.random()
            answers: list[str | None] = list(
                answer_script(record, rng, ask_bias=rng.choice([0.0, 0.6, 0.9, 1.0]))
            )
            if rng.random() < 0.15:
                answers[rng.randrange(4)] = None
            cases.append(
                {
                    "kind": "episode",
                    "scenario": scenario,
                    "record": record,
                    "answers": answers,
                    "hint": rng.random() < 0.3,
                    "reference": mode < 0.1,
                    "random_seed": rng.randrange(10**6) if 0.1 <= mode < 0.25 else None,
                    "resize": rng.random() < 0.3,
                    "sizes": image_sizes(scenario, record),
                }
            )
    return cases


def icl_case(scenario: str, record: dict[str, Any], rng: random.Random, sizes: dict[str, list[int]]) -> dict:
    return {
        "kind": "icl",
        "scenario": scenario,
        "record": record,
        "hint": rng.random() < 0.5,
        "cot": rng.random() < 0.5,
        "resize": rng.random() < 0.5,
        "reduce_icl_steps": rng.random() < 0.5,
        "random_seed": rng.randrange(10**6),
        "sizes": sizes,
    }


def icl_cases(per_scenario: int, seed: int) -> list[dict[str, Any]]:
    """In-context examples of ROD and MVP-N under every mix of hint, chain of thought, resize and reduced
    steps; and of the other scenarios, which the official code refuses."""
    rng = random.Random(seed)
    cases = []
    for scenario in SCENARIO_NAMES:
        for i in range(per_scenario if scenario in ICL_SCENARIOS else 3):
            record = make_record(scenario, rng, i)
            cases.append(icl_case(scenario, record, rng, image_sizes(scenario, record)))
    return cases


VERDICT_SEPARATORS = [",", ", ", " ,", ",\n", " , ", ",  ", ",\t", "\n,", " ,\n "]
VERDICT_PREFIXES = [
    "",
    "Let me check each answer.\n",
    "<think>The reply asks to rotate: 1,1,1</think>\n",
    "Scores 10, 2021 and 0.5; final:\n",
    "**",
    "Verdicts:\n",
    "[",
    "first guess 1,0 then I changed my mind:\n",
    "1\n",
]
VERDICT_SUFFIXES = ["", "\n", ".", "**", "]", " 1", "\n\nDone.", "\n0,1", ",", " (0.5 sure)", "0"]
JUNK_OUTPUTS = ["", "yes, no, no", "1 0 1", "one, zero", "\n\n", "I cannot decide.", "10", "0.1, 0.9"]


def judge_output(rng: random.Random, count: int) -> str:
    """A judge output with about ``count`` verdicts, spelled in the many ways judges write them."""
    if rng.random() < 0.08:
        return rng.choice(JUNK_OUTPUTS)
    count = max(1, count + rng.choice([0, 0, 0, 0, 1, -1]))
    verdicts = [rng.choice("01") for _ in range(count)]
    body = verdicts[0] + "".join(rng.choice(VERDICT_SEPARATORS) + v for v in verdicts[1:])
    return rng.choice(VERDICT_PREFIXES) + body + rng.choice(VERDICT_SUFFIXES)


ANSWER_PIECES = [
    "Move the camera",
    "Rotate the object.",
    " Rewind the video",
    "a dog",
    "St. Bernard",
    "",
    " ",
]


def valid_answer_string(rng: random.Random) -> str:
    """An answer string like the environment's, odd ones included (empty pieces, dots, bare commas)."""
    pieces = [rng.choice(ANSWER_PIECES) for _ in range(rng.randint(1, 6))]
    return rng.choice([",", ", "]).join(pieces) + rng.choice([".", "", ".."])


def verdict_cases(count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` judge outputs in all, over every scenario and many answer strings."""
    rng = random.Random(seed)
    cases = []
    per_case = 50
    for i in range(count // per_case):
        answers = valid_answer_string(rng)
        expected = len([a for a in answers.split(",") if a.strip()])
        outputs = [judge_output(rng, expected) for _ in range(per_case)]
        scenario = SCENARIO_NAMES[i % len(SCENARIO_NAMES)]
        cases.append({"kind": "verdicts", "scenario": scenario, "valid_answers": answers, "outputs": outputs})
    return cases


REPLIES = [
    "I cannot see the object; please move the block to the left.",
    "It is a red car.",
    "",
    "Could you rotate it? Maybe it is a St. Bernard.",
    "Wait for the occlusion to disappear, then I will tell you.",
]


def open_cases(per_scenario: int, seed: int) -> list[dict[str, Any]]:
    """One open-ended record each: the question (with or without the hint), a reply and a judge output."""
    rng = random.Random(seed)
    cases = []
    for scenario in SCENARIO_NAMES:
        for i in range(per_scenario):
            record = make_record(scenario, rng, i)
            episode = make_episode(parse_record(scenario, record, "case"))
            counted = expected_verdicts(valid_answers(episode)[rng.choice([0, 1])])
            cases.append(
                {
                    "kind": "open",
                    "scenario": scenario,
                    "record": record,
                    "hint": rng.random() < 0.5,
                    "reply": rng.choice(REPLIES),
                    "judge_output": judge_output(rng, counted),
                    "sizes": image_sizes(scenario, record),
                }
            )
    return cases
