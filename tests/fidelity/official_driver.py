"""Replays cases through the OFFICIAL proactivebench code and prints what it did as JSON.

usage: python3.12 official_driver.py OFFICIAL_SRC_DIR CASES.json > RESULTS.json

Runs under the interpreter the official package needs (Python >= 3.12); uses only the standard library and
the official ``environment`` and ``open_ended_gen`` modules found in OFFICIAL_SRC_DIR. Each case names its
"kind":
- "episode": the multiple-choice loop of the official tests/mcqa.py on {"scenario", "record", "answers",
  "hint", "reference", "random_seed", "resize", "sizes"}; answers are used turn after turn, cycling when
  exhausted; an answer of null stands for a view the model's processor refuses (the loop breaks there).
- "icl": ``get_icl_example(hint, cot, resize, reduce_icl_steps)`` of {"scenario", "record", "hint", "cot",
  "resize", "reduce_icl_steps", "random_seed", "sizes"}.
- "open": one record of the official open-ended loop (tests/oeg.py) on {"scenario", "record", "hint",
  "reply", "judge_output", "sizes"}: the prompt, the judge's messages and the parsed verdict.
- "verdicts": ``parse_judge_prediction`` of each of "outputs" on {"scenario", "valid_answers"}.
- "sample": the official open-ended record sample (random.seed(0), shuffle, first 100) of "items".
Images are probes of the size "sizes" gives their path: they record what the official transform does.
"""

import contextlib
import io
import json
import random
import sys

ACRONYMS = {
    "Realistic-Occlusion-Dataset": "ROD",
    "OcclusionDataSet-MM20": "VSOD",
    "MVP-N": "MVP-N",
    "ImageNet-C": "IN-C",
    "QuickDraw": "QD",
    "ChangeIt": "CIT",
    "coco2014": "COCO",
}
OPEN_HINT = " If you cannot answer this question, please tell me what I should do to help you."


class _ImageProbe:
    """Stands in for a PIL image: records the crops and resizes a transform applies to it."""

    def __init__(self, size, ops=()):
        self.size = tuple(size)
        self.ops = list(ops)

    def crop(self, box):
        left, top, right, bottom = (int(round(v)) for v in box)  # PIL's rounding of a crop box
        return _ImageProbe((right - left, bottom - top), self.ops + [["crop", list(box)]])

    def resize(self, size):
        return _ImageProbe(size, self.ops + [["resize", list(size)]])


def _view(state, sizes):
    """The state's image path (relative) and what its transform does to the image."""
    image = state["image_path"][len("DATA/") :]
    return image, state["transform"](_ImageProbe(sizes[image])).ops


def run_episode(environment, case):
    env_class = environment.get_environment(case["scenario"])
    if case["random_seed"] is not None:
        random.seed(case["random_seed"])
    env = env_class(
        entry=case["record"],
        data_dir="DATA",
        resize_samples=case["resize"],
        reference=case["reference"],
        random=case["random_seed"] is not None,
    )
    turns = []
    answers = case["answers"]
    while not env.stop:
        state = env.get_state(hint=case["hint"])
        image, view = _view(state, case["sizes"])
        answer = answers[len(turns) % len(answers)]
        if answer is None:  # the processor refuses the image: the official loop breaks out
            break
        turns.append(
            {
                "image": image,
                "view": view,
                "question": state["prompt"],
                "choices": state["options"],
                "answer": answer,
            }
        )
        env.evaluate_generated_answer(answer)
    stats = env.get_statistics()
    return {
        "turns": turns,
        "num_turns": stats["num_turns"],
        "success": stats["correct_prediction"],
        "actions": [int(a) for a in stats["action_history"]],
        "max_steps": stats["max_steps"],
    }


def run_icl(environment, case):
    env = environment.get_environment(case["scenario"])(
        entry=case["record"], data_dir="DATA", resize_samples=case["resize"]
    )
    random.seed(case["random_seed"])
    steps = env.get_icl_example(
        hint=case["hint"], cot=case["cot"], resize=case["resize"], reduce_icl_steps=case["reduce_icl_steps"]
    )
    out = []
    for step in steps:
        image, view = _view(step, case["sizes"])
        out.append(
            {
                "image": image,
                "view": view,
                "question": step["prompt"],
                "choices": step["options"],
                "answer": step["generated_answer"],
            }
        )
    return out


def run_open(environment, open_ended_gen, case):
    env = environment.get_environment(case["scenario"])(case["record"], resize_samples=False, data_dir="DATA")
    state = env.get_state(hint=False)
    if case["hint"]:
        state["prompt"] += OPEN_HINT
    image, view = _view(state, case["sizes"])
    messages = open_ended_gen.get_oeg_judge_messages(
        prompt=state["prompt"], valid_answers=env.get_open_ended_gen_answers(), generated_answer=case["reply"]
    )
    result = open_ended_gen.parse_judge_prediction(
        valid_answers=env.get_open_ended_gen_answers(),
        raw_judge_output=case["judge_output"].strip("\n"),  # as the official loop decodes the judge
        dataset=ACRONYMS[case["scenario"]],
    )
    return {"image": image, "view": view, "prompt": state["prompt"], "messages": messages, "result": result}


def run_verdicts(open_ended_gen, case):
    dataset = ACRONYMS[case["scenario"]]
    return [
        open_ended_gen.parse_judge_prediction(case["valid_answers"], output, dataset)
        for output in case["outputs"]
    ]


def run_sample(case):
    dataset = list(case["items"])
    random.seed(0)
    random.shuffle(dataset)
    return dataset[:100]


def run_case(environment, open_ended_gen, case):
    kind = case["kind"]
    if kind == "episode":
        return run_episode(environment, case)
    if kind == "icl":
        return run_icl(environment, case)
    if kind == "open":
        return run_open(environment, open_ended_gen, case)
    if kind == "verdicts":
        return run_verdicts(open_ended_gen, case)
    if kind == "sample":
        return run_sample(case)
    raise ValueError(f"unknown case kind {kind!r}")


def main():
    sys.path.insert(0, sys.argv[1])
    import environment
    import open_ended_gen

    cases = json.load(open(sys.argv[2]))
    results = []
    with contextlib.redirect_stdout(io.StringIO()):  # the official code prints warnings
        for case in cases:
            try:
                results.append(run_case(environment, open_ended_gen, case))
            except Exception as err:  # the official code asserts on some inputs; report it as data
                results.append({"error": f"{type(err).__name__}: {err}"})
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
