"""The tools protocol (data/tools.py, eval/tool_rollout.py): the same episodes as MCQA with the
interventions as tool calls. Checked: the oracle scores 100% with the MCQA oracle's psr, a tool policy
that mirrors any MCQA script gets the MCQA episodes exactly (through the eval loop and through the
training environment), tool responses carry the next view, and the conversation the model sees."""

from __future__ import annotations

import random
import zlib
from collections.abc import Sequence
from pathlib import Path

import pytest
from PIL import Image

from data import tools
from data.environment import make_episode
from data.records import load_benchmark
from eval.cli import EvalConfig, evaluate
from eval.results import episode_result
from eval.rollout import Item, Job, PolicyAgent, run_episodes
from eval.tool_rollout import ToolPolicyAgent, read_reply, tool_conversation


def state_seed(state) -> int:
    """A seed fixed by the state (``hash`` of a string changes with each interpreter: PYTHONHASHSEED)."""
    return zlib.crc32(f"{state.scenario}/{state.record_id}/{state.step}".encode())


def script_answer(state, seed: int) -> str:
    """A scripted MCQA answer: any offered choice as text or letter, or an unparseable one."""
    rng = random.Random(seed)
    index = rng.randrange(len(state.choices))
    form = rng.choice(["text", "letter", "letter_text", "junk"])
    if form == "junk":
        return rng.choice(["A or B", "", "maybe", "Z"])
    letter = chr(65 + index)
    return {
        "text": state.choices[index],
        "letter": letter,
        "letter_text": f"{letter}. {state.choices[index]}",
    }[form]


class Script:
    """The MCQA script, as is or mirrored into tool replies (then read back as the tools protocol does)."""

    def __init__(self, mirrored: bool) -> None:
        self.mirrored = mirrored

    def answer(self, batch: Sequence[Item]) -> list[str]:
        answers = [script_answer(s, state_seed(s)) for _, s in batch]
        if not self.mirrored:
            return answers
        return [tools.mcqa_answer(tools.mirror(a, s), s) for a, (_, s) in zip(answers, batch, strict=True)]


def all_records(bench: Path):
    return [r for data in load_benchmark(bench, id_filter=None).values() for r in data.records]


def outcomes(results) -> list[tuple]:
    return sorted(
        (r.scenario, r.record_id, r.success, r.end_reason, r.num_turns, r.interventions) for r in results
    )


def test_the_oracle_scores_100_with_the_mcqa_psr(bench: Path, tmp_path: Path):
    runs = {
        protocol: evaluate(
            EvalConfig(
                data=str(bench),
                out=str(tmp_path / protocol),
                policy="oracle",
                protocol=protocol,
                progress=False,
            )
        )
        for protocol in ("mcqa", "tools")
    }
    assert runs["tools"]["average"]["acc"] == 100.0
    for name, block in runs["mcqa"]["scenarios"].items():
        assert runs["tools"]["scenarios"][name]["psr"] == block["psr"] > 0


@pytest.mark.parametrize("policy", ["random", "first-option", "abstain"])
def test_baselines_mirror_their_mcqa_runs(policy: str, bench: Path):
    records = all_records(bench)
    mcqa = run_episodes([Job("mcqa", make_episode(r)) for r in records], PolicyAgent(policy, seed=3))
    mirrored = run_episodes([Job("mcqa", make_episode(r)) for r in records], ToolPolicyAgent(policy, seed=3))
    assert outcomes(mirrored) == outcomes(mcqa)


def test_a_mirrored_script_plays_the_mcqa_episodes(bench: Path):
    records = all_records(bench)
    mcqa, mirrored = (
        run_episodes([Job("mcqa", make_episode(r)) for r in records], Script(mirrored=m))
        for m in (False, True)
    )
    assert outcomes(mirrored) == outcomes(mcqa)
    ends = {r.end_reason for r in mcqa}
    assert {"correct", "wrong_category", "unparseable", "invalid_option"} <= ends  # the script covers them


def test_the_training_environment_plays_the_mcqa_episodes(bench: Path):
    """Mirrored replies sent through ToolEpisode (what TRL's tool loop calls) end each episode as MCQA."""
    for record in all_records(bench):
        reference, played = make_episode(record), tools.ToolEpisode(make_episode(record), bench)
        while not reference.done:
            state = reference.state()
            answer = script_answer(state, state_seed(state))
            reference.step(answer)
            reply = tools.mirror(answer, state)
            if reply.requests:
                response = played.intervene(reply.requests[0])
                if played.episode.done:
                    assert response == [{"type": "text", "text": tools.ENDED}]
                else:
                    image, text = response
                    assert isinstance(image["image"], Image.Image)
                    assert text["text"] == tools.view_text(played.episode.state())
            else:
                played.answer(reply.text)
        assert outcomes([episode_result("mcqa", played.episode)]) == outcomes(
            [episode_result("mcqa", reference)]
        )
        assert [t.judgement for t in played.episode.turns] == [t.judgement for t in reference.turns]


def test_tool_calls_that_name_no_offered_request_end_the_episode(bench: Path):
    record = next(r for r in all_records(bench) if r.scenario == "QuickDraw")
    for request in ("banana", "A", "", 3):
        played = tools.ToolEpisode(make_episode(record), bench)
        assert played.intervene(request) == [{"type": "text", "text": tools.ENDED}]
        assert played.episode.end_reason == "unparseable"
    state = make_episode(record).state()
    request = tools.requests(state)[0]
    assert tools.request_answer(request.lower().replace(" ", "  "), state) == request  # case and spaces


def test_a_text_answer_naming_a_request_does_not_intervene(bench: Path):
    record = next(r for r in all_records(bench) if r.scenario == "QuickDraw")
    played = tools.ToolEpisode(make_episode(record), bench)
    played.answer(tools.requests(make_episode(record).state())[0])
    assert played.episode.end_reason == "unparseable"


def test_the_conversation_shows_each_view_after_its_tool_call(bench: Path):
    record = next(r for r in all_records(bench) if r.scenario == "QuickDraw")
    episode = make_episode(record)
    request = tools.requests(episode.state())[0]
    episode.step(request)
    episode.step(request)
    prompt = tool_conversation(episode, episode.state(), bench)
    roles = [m["role"] for m in prompt.messages]
    assert roles == ["user", "assistant", "tool", "assistant", "tool"]
    assert prompt.messages[1]["tool_calls"][0]["function"] == {
        "name": "intervene",
        "arguments": {"request": request},
    }
    assert len(prompt.images) == 3  # the first view and one per tool response
    first = prompt.messages[0]["content"][1]["text"]
    assert f'call the tool intervene with one of these requests: "{request}"' in first
    assert "A. I cannot tell." in first and request not in first.split("Options:")[1]


def test_replies_are_read_from_parsed_messages():
    call = {"type": "function", "function": {"name": "intervene", "arguments": {"request": "Rotate it."}}}
    other = {"type": "function", "function": {"name": "zoom", "arguments": {}}}
    assert read_reply({"role": "assistant", "content": "", "tool_calls": [call, other]}).requests == (
        "Rotate it.",
    )
    assert read_reply({"role": "assistant", "content": "", "tool_calls": [other]}).requests == ("",)
    assert read_reply({"role": "assistant", "content": "B. banana"}) == tools.ToolReply((), "B. banana")


def test_tool_policy_agent_is_the_mirrored_policy(bench: Path):
    records = all_records(bench)
    results = run_episodes([Job("mcqa", make_episode(r)) for r in records], ToolPolicyAgent("oracle"))
    assert all(r.success for r in results)
