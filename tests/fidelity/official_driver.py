"""Replays answer scripts through the OFFICIAL proactivebench environment and prints trajectories as JSON.

usage: python3.12 official_driver.py OFFICIAL_SRC_DIR CASES.json > TRAJECTORIES.json

Runs under the interpreter the official package needs (Python >= 3.12); uses only the standard library and
the official ``environment`` module found in OFFICIAL_SRC_DIR. Each case is {"scenario", "record",
"answers", "hint", "reference", "random_seed"}; answers are used turn after turn, cycling when exhausted.
"""

import json
import random
import sys


class _BoxProbe:
    """Stands in for a PIL image: records the crop box a transform asks for."""

    box = None

    def crop(self, box):
        self.box = list(box)
        return self


def run_case(environment, case):
    env_class = environment.get_environment(case["scenario"])
    if case["random_seed"] is not None:
        random.seed(case["random_seed"])
    env = env_class(
        entry=case["record"],
        data_dir="DATA",
        reference=case["reference"],
        random=case["random_seed"] is not None,
    )
    turns = []
    answers = case["answers"]
    while not env.stop:
        state = env.get_state(hint=case["hint"])
        probe = _BoxProbe()
        state["transform"](probe)
        answer = answers[len(turns) % len(answers)]
        turns.append(
            {
                "image": state["image_path"][len("DATA/") :],
                "crop": probe.box,
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


def main():
    sys.path.insert(0, sys.argv[1])
    import environment

    cases = json.load(open(sys.argv[2]))
    results = []
    for case in cases:
        try:
            results.append(run_case(environment, case))
        except Exception as err:  # the official code asserts on some inputs; report it as data
            results.append({"error": f"{type(err).__name__}: {err}"})
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
