"""Random but valid records of every scenario, and answer scripts that exercise every parser path."""

from __future__ import annotations

import random
from typing import Any

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
