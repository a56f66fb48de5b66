"""The evaluation loop with real (tiny, random-weight, offline) transformers models: batched rollouts
give the same per-episode outcomes as one episode at a time, with and without history and in-context
examples; a LoRA adapter is applied; a view the processor refuses ends its episode without a turn; the
open-ended protocol runs with a tiny judge."""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import pytest
import torch
from PIL import Image
from transformers import (
    AutoConfig,
    AutoModelForImageTextToText,
    AutoTokenizer,
    Qwen2_5_VLConfig,
    Qwen2Config,
    Qwen2ForCausalLM,
)

from data.environment import REJECTED_IMAGE, make_episode
from data.icl import in_context_example
from data.prompts import user_message
from data.records import load_scenario, parse_record
from eval.backends import REJECTED, HFGenerator, Prompt, load_hf_generator, load_text_generator
from eval.batching import AUTO, MAX_AUTO_BATCH, MEMORY_SHARE, auto_batch_size, bytes_per_token, sequence_bytes
from eval.cli import EvalConfig, evaluate, resolve_batch_size
from eval.results import MCQA, OPEN
from eval.rollout import Job, ModelAgent, PolicyAgent, conversation, run_episodes

LETTERS = "ABCDEFGH"


@pytest.fixture(scope="session")
def letter_model(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model with a generation config that only lets it write one letter A-H, so that its
    answers parse and episodes run for several turns (the choice still depends on the input)."""
    path = tmp_path_factory.getbasetemp() / "eval_tiny_letters"
    if not path.is_dir():
        shutil.copytree(tiny_model, path)
        tokenizer = AutoTokenizer.from_pretrained(path)
        allowed = {tokenizer.convert_tokens_to_ids(letter) for letter in LETTERS}
        vocab = AutoConfig.from_pretrained(path).get_text_config().vocab_size
        config_path = path / "generation_config.json"
        config = json.loads(config_path.read_text())
        config["suppress_tokens"] = [i for i in range(vocab) if i not in allowed]
        config_path.write_text(json.dumps(config))
    return path


@pytest.fixture(scope="session")
def tiny_judge(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Qwen2 causal LM with the Qwen chat template, as the open-ended judge."""
    path = tmp_path_factory.getbasetemp() / "eval_tiny_judge"
    if not path.is_dir():
        tokenizer = AutoTokenizer.from_pretrained(tiny_model)
        config = Qwen2Config(
            vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
            num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=2048,
        )  # fmt: skip
        torch.manual_seed(0)
        Qwen2ForCausalLM(config).save_pretrained(path)
        tokenizer.save_pretrained(path)
    return path


def run(bench: Path, out: Path, model: Path, **kwargs: object) -> list[dict]:
    evaluate(EvalConfig(data=str(bench), out=str(out), model=str(model), progress=False, **kwargs))
    lines = [json.loads(line) for line in (out / "episodes.jsonl").read_text().splitlines()]
    return sorted(lines, key=lambda e: (e["mode"], e["scenario"], e["record_id"]))


def test_batched_equals_one_at_a_time_over_several_turns(
    bench: Path, letter_model: Path, tmp_path: Path
) -> None:
    common = {"limit": 3, "max_new_tokens": 1}
    one = run(bench, tmp_path / "one", letter_model, batch_size=1, **common)
    batched = run(bench, tmp_path / "batched", letter_model, batch_size=8, max_live=16, **common)
    assert len(one) == 21
    assert one == batched  # every turn: image, choices, raw answer, outcome
    assert all(len(t["answer"]) == 1 and t["answer"] in LETTERS for e in one for t in e["turns"])
    assert max(e["num_turns"] for e in one) >= 3  # the loop really ran several turns
    assert len({e["end_reason"] for e in one}) >= 2


@pytest.mark.parametrize("arch", ["qwen2_vl", "qwen2_5_vl", "llava"])
def test_batched_equals_one_at_a_time_free_text(arch: str, bench: Path, tiny_models, tmp_path: Path) -> None:
    model = tiny_models(arch)
    common = {"limit": 2, "scenarios": ["qd", "coco", "cit"]}
    one = run(bench, tmp_path / "one", model, batch_size=1, **common)
    batched = run(bench, tmp_path / "batched", model, batch_size=6, **common)
    assert one == batched and len(one) == 6
    assert all(t["answer"] for e in one for t in e["turns"])


def test_history_keeps_earlier_turns_and_batches_identically(
    bench: Path, letter_model: Path, tmp_path: Path
) -> None:
    record = load_scenario(bench, "QuickDraw", id_filter=None).records[1]
    episode = make_episode(record)
    episode.step(episode.state().accepted_options[0])
    prompt = conversation(episode, episode.state(), bench, history=True)
    assert [m["role"] for m in prompt.messages] == ["user", "assistant", "user"] and len(prompt.images) == 2
    assert len(conversation(episode, episode.state(), bench, history=False).images) == 1
    common = {"limit": 2, "max_new_tokens": 1, "history": True, "scenarios": ["qd", "rod", "mvp-n"]}
    one = run(bench, tmp_path / "one", letter_model, batch_size=1, **common)
    batched = run(bench, tmp_path / "batched", letter_model, batch_size=6, **common)
    assert one == batched
    assert max(e["num_turns"] for e in one) >= 2


def test_generator_decodes_only_new_tokens(tiny_model: Path, bench: Path) -> None:
    generator = load_hf_generator(str(tiny_model), max_new_tokens=5)
    record = load_scenario(bench, "QuickDraw", id_filter=None).records[0]
    episode = make_episode(record)
    prompt = conversation(episode, episode.state(), bench, history=False)
    (answer,) = generator.generate([prompt])
    assert "Choose from the following options" not in answer
    assert len(generator.tokenizer(answer, add_special_tokens=False)["input_ids"]) <= 5 + 2
    assert generator.generate([]) == []


def test_adapter_is_applied(bench: Path, tiny_model: Path, tmp_path: Path) -> None:
    from peft import LoraConfig, get_peft_model

    model = AutoModelForImageTextToText.from_pretrained(tiny_model)
    torch.manual_seed(0)
    lora = LoraConfig(
        r=4, lora_alpha=64, target_modules=r".*language_model.*\.(q_proj|v_proj)", init_lora_weights=False
    )
    get_peft_model(model, lora).save_pretrained(tmp_path / "adapter")
    common = {"limit": 2, "scenarios": ["qd", "rod"], "max_new_tokens": 8}
    base = run(bench, tmp_path / "base", tiny_model, **common)
    tuned = run(bench, tmp_path / "tuned", tiny_model, adapter=str(tmp_path / "adapter"), **common)
    assert [t["answer"] for e in base for t in e["turns"]] != [t["answer"] for e in tuned for t in e["turns"]]
    assert json.loads((tmp_path / "tuned" / "summary.json").read_text())["config"]["adapter"] == str(
        tmp_path / "adapter"
    )


def test_open_mode_with_a_tiny_judge(bench: Path, tiny_model: Path, tiny_judge: Path, tmp_path: Path) -> None:
    config = EvalConfig(
        data=str(bench), out=str(tmp_path), model=str(tiny_model), mode=OPEN, judge_model=str(tiny_judge),
        judge_max_new_tokens=12, max_new_tokens=12, limit=2, batch_size=4, progress=False,
    )  # fmt: skip
    summary = evaluate(config)
    lines = [json.loads(line) for line in (tmp_path / "episodes.jsonl").read_text().splitlines()]
    assert len(lines) == 14 and all(e["mode"] == OPEN and e["num_turns"] == 1 for e in lines)
    for e in lines:
        judge = e["judge"]
        assert judge["aggregate"] == int(judge["suggestion"] or judge["category"]) == int(e["success"])
        assert "Choose from the following options" not in e["turns"][0]["answer"]
    rod = next(e for e in lines if e["scenario"] == "Realistic-Occlusion-Dataset")
    assert rod["judge"]["correct_answers"] == ["Move the blocks", "Move the camera"]
    assert rod["judge"]["expected_verdicts"] == 2
    system, user = rod["judge"]["input_messages"]
    assert system["role"] == "system" and user["content"].startswith("### User Prompt:\n")
    assert rod["turns"][0]["answer"] in user["content"]
    assert summary["config"]["oeg_decoding"] == "official" and summary["config"]["judge_max_new_tokens"] == 12
    for block in summary["scenarios"].values():
        assert {"ps", "cc", "agg", "n", "ps_ci", "cc_ci", "agg_ci"} <= set(block) and block["n"] == 2
    assert (tmp_path / "agg.png").stat().st_size > 0


class ScriptedJudge:
    """Stands in for the judge model to check the scoring path: says 'category only' for QuickDraw and
    'first suggestion only' elsewhere, after some thinking."""

    def generate(self, prompts: list[Prompt]) -> list[str]:
        outputs = []
        for prompt in prompts:
            lines = prompt.messages[1]["content"].split("\n")
            listed = ast.literal_eval(lines[lines.index("### Correct Answers (List):") + 1])
            quickdraw = "drawing" in prompt.messages[1]["content"].lower()
            verdicts = [0] * (len(listed) - 1) + [1] if quickdraw else [1] + [0] * (len(listed) - 1)
            outputs.append("<think>let me see 1,1</think>\nVerdicts:\n" + ",".join(map(str, verdicts)))
        return outputs


def test_open_mode_scores_judge_verdicts(bench: Path, tiny_model: Path, tmp_path: Path) -> None:
    config = EvalConfig(
        data=str(bench), out=str(tmp_path), model=str(tiny_model), mode=OPEN, scenarios=["qd", "coco", "rod"],
        max_new_tokens=4, limit=3, progress=False,
    )  # fmt: skip
    summary = evaluate(config, judge=ScriptedJudge())
    qd, coco, rod = (
        summary["scenarios"][n] for n in ("QuickDraw", "coco2014", "Realistic-Occlusion-Dataset")
    )
    assert (qd["ps"], qd["cc"], qd["agg"]) == (0.0, 100.0, 100.0)
    assert (coco["ps"], coco["cc"], coco["agg"]) == (100.0, 0.0, 100.0)
    assert (rod["ps"], rod["cc"], rod["agg"]) == (100.0, 0.0, 100.0)


def test_text_judge_loads_causal_lm_or_falls_back(tiny_judge: Path, tiny_model: Path) -> None:
    causal = load_text_generator(str(tiny_judge), max_new_tokens=3)
    assert isinstance(causal.model, Qwen2ForCausalLM)
    fallback = load_text_generator(str(tiny_model), max_new_tokens=3)
    assert fallback.model.__class__.__name__ == "Qwen2VLForConditionalGeneration"
    messages = [{"role": "system", "content": "grade"}, {"role": "user", "content": "1. yes"}]
    assert len(causal.generate([Prompt(messages)] * 2)) == 2
    assert len(fallback.generate([Prompt(messages)])) == 1


def test_the_judge_cuts_its_thinking_at_the_tokenizers_end_token(tiny_judge: Path, tmp_path: Path) -> None:
    shutil.copytree(tiny_judge, tmp_path / "judge")
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "judge")
    tokenizer.add_tokens(["</think>"])
    tokenizer.save_pretrained(tmp_path / "judge")
    judge = load_text_generator(str(tmp_path / "judge"), max_new_tokens=3, do_sample=True)
    assert judge.thinking_end_id == tokenizer.convert_tokens_to_ids("</think>") and judge.do_sample
    assert judge.clean_up_spaces is None  # the official judge decodes with the tokenizer's default
    assert load_text_generator(str(tiny_judge), max_new_tokens=3).thinking_end_id is None


def test_a_prompt_the_processor_rejects_is_marked_rejected(
    tiny_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    generator = load_hf_generator(str(tiny_model), max_new_tokens=4)
    good = Prompt([user_message("What is it?")], [Image.new("RGB", (56, 56), "red")])
    thin = Prompt([user_message("What is it?")], [Image.new("RGB", (1000, 2))])  # aspect ratio 500 > 200
    assert generator.generate([good, thin, good]) == [
        *generator.generate([good]),
        REJECTED,
        *generator.generate([good]),
    ]
    assert "aspect ratio" in capsys.readouterr().err


def test_a_refused_crop_ends_the_episode_without_a_turn(tiny_model: Path, tmp_path: Path) -> None:
    """The official loop breaks out of the episode when the processor refuses a view (a thin COCO crop):
    the turn is not counted, so an episode refused at its first view has 0 turns and psr -1."""
    Image.new("RGB", (1200, 400), "gray").save(tmp_path / "scene.png")
    thin = {"top": 100, "left": 20, "height": 102, "width": 1020}  # shown: a 1005 x 2 crop
    line = {
        "id": 0, "image_template": "scene.png", "first_image": 0, "num_images": 1, "reference_image": 0,
        "prompt": "What is it?", "options": ["Move the camera to the left.", "I cannot tell."],
        "categories": ["cat", "dog", "cow", "fox"], "answer": "cat", "direction": "left", "granularity": 3,
        "horizontal_step": 5, "vertical_step": 5, "crop": thin,
    }  # fmt: skip
    generator = load_hf_generator(str(tiny_model), max_new_tokens=2)
    job = Job(MCQA, make_episode(parse_record("coco2014", line, "test")))
    (result,) = run_episodes([job], ModelAgent(generator, tmp_path))
    assert (result.end_reason, result.num_turns, result.success, result.proactive_steps) == (
        REJECTED_IMAGE,
        0,
        False,
        -1,
    )


def test_in_context_examples_come_first_and_batch_identically(
    bench: Path, letter_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rod, other = load_scenario(bench, "Realistic-Occlusion-Dataset", id_filter=None).records[:2]
    example = in_context_example(other, cot=True, resize=True)
    episode = make_episode(rod, resize=True)
    prompt = conversation(episode, episode.state(), bench, history=False, examples=example)
    assert [m["role"] for m in prompt.messages] == ["user", "assistant", "user", "assistant", "user"]
    assert prompt.messages[1]["content"][0]["text"].endswith(f". {example[0].answer.split('. ')[-1]}")
    assert prompt.messages[3]["content"][0]["text"] == other.answer
    assert [min(image.size) for image in prompt.images] == [512, 512, 224]  # ROD examples: 512 px
    seen: list[Prompt] = []
    real = load_hf_generator

    def recording(config: EvalConfig) -> object:
        generator = real(str(letter_model), max_new_tokens=config.max_new_tokens)
        inner = generator.generate
        generator.generate = lambda prompts: seen.extend(prompts) or inner(prompts)  # type: ignore[method-assign]
        return generator

    monkeypatch.setattr("eval.cli.load_generator", recording)
    common = {"limit": 2, "max_new_tokens": 1, "icl": True, "cot": True, "scenarios": ["rod", "mvp-n", "qd"]}
    one = run(bench, tmp_path / "one", letter_model, batch_size=1, **common)
    batched = run(bench, tmp_path / "batched", letter_model, batch_size=6, **common)
    assert one == batched and len(one) == 6
    questions = {p.messages[-1]["content"][1]["text"].split(" Choose")[0]: len(p.messages) for p in seen}
    qd = {r.prompt for r in load_scenario(bench, "QuickDraw", id_filter=None).records[:2]}
    assert all(size == 1 for question, size in questions.items() if question in qd)  # no example for QD
    assert all(size >= 5 for question, size in questions.items() if question not in qd)


# --- the batch chosen from the free memory ----------------------------------------------------------
def test_bytes_per_token_of_qwen2_5_vl_3b_by_hand() -> None:
    """The real 3B's text dimensions: cache 2 x 36 layers x 2 heads x 128 x 2 B = 36,864 B; one layer's
    activations (4 x 2048 + 3 x 11008) x 2 B = 82,432 B; counted twice."""
    config = Qwen2_5_VLConfig(
        text_config=dict(hidden_size=2048, intermediate_size=11008, num_hidden_layers=36, num_attention_heads=16,
                         num_key_value_heads=2, vocab_size=151936),
    )  # fmt: skip
    assert bytes_per_token(config.get_text_config(), 2) == 2 * (36_864 + 82_432)
    assert sequence_bytes(config, 230) == 230 * 238_592 + 2 * 151936 * 4


def test_auto_batch_size_fills_a_share_of_the_free_memory() -> None:
    gib = 2**30
    assert auto_batch_size(10 * gib, 100_000_000) == int(10 * gib * MEMORY_SHARE) // 100_000_000 == 64
    assert auto_batch_size(131 * gib, 56_000_000) == MAX_AUTO_BATCH
    assert auto_batch_size(1_000, 56_000_000) == 1
    with pytest.raises(ValueError, match="positive"):
        auto_batch_size(gib, 0)


def test_auto_batch_uses_the_longest_first_prompt(bench: Path, tiny_model: Path, capsys) -> None:
    generator = load_hf_generator(str(tiny_model), max_new_tokens=7)
    jobs = [
        Job(MCQA, make_episode(record))
        for scenario in ("QuickDraw", "coco2014")
        for record in load_scenario(bench, scenario, id_filter=None).records[:2]
    ]
    agent = ModelAgent(generator, bench)
    lengths = [
        generator.encode([conversation(job.episode, job.episode.state(), bench, False)])["input_ids"].shape[1]
        for job in (jobs[0], jobs[2])
    ]
    per_sequence = sequence_bytes(generator.model.config, max(lengths) + 7, 4)
    free = 50 * per_sequence
    assert (
        resolve_batch_size(AUTO, agent, jobs, free_bytes=free)
        == int(free * MEMORY_SHARE) // per_sequence
        == 30
    )
    assert "--batch-size auto: 30" in capsys.readouterr().err
    assert resolve_batch_size(12, agent, jobs) == 12
    assert resolve_batch_size(AUTO, PolicyAgent("oracle"), jobs) == MAX_AUTO_BATCH


def test_auto_batch_end_to_end_gives_the_same_episodes(
    bench: Path, letter_model: Path, tmp_path: Path
) -> None:
    common = {"limit": 2, "max_new_tokens": 1, "scenarios": ["qd", "rod", "coco"]}
    fixed = run(bench, tmp_path / "fixed", letter_model, batch_size=4, **common)
    auto = run(bench, tmp_path / "auto", letter_model, batch_size=AUTO, **common)
    assert fixed == auto and len(auto) == 6
    with pytest.raises(ValueError, match="--batch-size auto sizes single-turn MCQA prompts"):
        EvalConfig(data=str(bench), out=str(tmp_path), model="m", batch_size=AUTO, history=True)
    with pytest.raises(ValueError, match="positive integer or auto"):
        EvalConfig(data=str(bench), out=str(tmp_path), model="m", batch_size=0)


class OutOfMemoryAbove(HFGenerator):
    """A real generator whose device runs out of memory on batches larger than ``limit``."""

    def __init__(self, generator: HFGenerator, limit: int) -> None:
        super().__init__(generator.model, generator.processor, generator.max_new_tokens)
        self.limit = limit
        self.sizes: list[int] = []

    def _generate(self, inputs):
        self.sizes.append(inputs["input_ids"].shape[0])
        if self.sizes[-1] > self.limit:
            raise torch.OutOfMemoryError("CUDA out of memory (test)")
        return super()._generate(inputs)


def test_a_batch_out_of_memory_is_halved_and_later_calls_split(tiny_model: Path, capsys) -> None:
    generator = load_hf_generator(str(tiny_model), max_new_tokens=3)
    prompts = [
        Prompt([user_message(f"What is {i}?")], [Image.new("RGB", (56, 56), (i, 0, 0))]) for i in range(8)
    ]
    expected = [generator.generate([p])[0] for p in prompts]
    limited = OutOfMemoryAbove(generator, limit=3)
    assert limited.generate(prompts) == expected
    assert limited.sizes == [8, 4, 2, 2, 2, 2] and limited.max_batch == 2
    assert "out of memory at batch 8; continuing at 4" in capsys.readouterr().err
    limited.sizes.clear()
    assert limited.generate(prompts[:5]) == expected[:5] and limited.sizes == [2, 2, 1]
