"""Agents for ``proactive eval --protocol tools``: the tools protocol (data/tools.py) on the eval loop.

Each agent turns one reply (a tool call or a text answer) into the MCQA answer of the same meaning
(:func:`data.tools.mcqa_answer`), which :func:`eval.rollout.run_episodes` plays on the MCQA episode: acc,
psr and end reasons are therefore the official ones. The model sees the whole conversation: the first
turn, then each accepted request as its tool call and the tool's response (the next view's image and
the requests available there). A reply's first ``intervene`` call is its request; a reply whose calls
all name another tool, or lack the ``request`` argument, counts as a request naming nothing (unparseable).
(In training, TRL answers such calls with an error message and lets the model go on.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trl.chat_template_utils import parse_response

from data import tools
from data.environment import Episode, TurnState
from data.images import open_view
from eval.backends import REJECTED, HFGenerator, Prompt
from eval.rollout import Item, PolicyAgent
from eval.tool_chat import enable_tool_calling

TOOLS = "tools"  # the protocol's name: proactive eval --protocol tools, recipes' rollout: tools
MAX_NEW_TOKENS = 128  # a call writes the tool's name and a request in JSON: more than an MCQA answer


def tool_conversation(episode: Episode, state: TurnState, data_dir: str | Path) -> Prompt:
    """The conversation up to ``state``: the first turn, then a tool call and its response per past turn
    (every past turn of a live episode is an accepted request)."""
    shown = [turn.state for turn in episode.turns] + [state]
    messages = [tools.first_message(shown[0])]
    for turn, view in zip(episode.turns, shown[1:], strict=True):
        messages += [tools.tool_call_message(turn.answer), tools.tool_response_message(view)]
    return Prompt(messages, [open_view(data_dir, view.image, view.crop, view.short_edge) for view in shown])


def read_reply(parsed: dict[str, Any]) -> tools.ToolReply:
    """A parsed assistant message (role, content, tool_calls) as a tool reply."""
    requests = []
    for call in parsed.get("tool_calls") or []:
        function = call.get("function", call)
        arguments = function.get("arguments")
        if function.get("name") == tools.TOOL_NAME:
            requests.append(str(arguments.get("request", "")) if isinstance(arguments, dict) else "")
    if parsed.get("tool_calls") and not requests:
        requests = [""]
    content = parsed.get("content")
    return tools.ToolReply(tuple(requests), content if isinstance(content, str) else "")


@dataclass
class ToolPolicyAgent:
    """A baseline policy (oracle, random, ...) under the tools protocol: its MCQA answer, mirrored."""

    name: str
    seed: int = 0
    policy: PolicyAgent = field(init=False)

    def __post_init__(self) -> None:
        self.policy = PolicyAgent(self.name, self.seed)

    def answer(self, batch: Sequence[Item]) -> list[str]:
        answers = self.policy.answer(batch)
        return [tools.mcqa_answer(tools.mirror(a, s), s) for a, (_, s) in zip(answers, batch, strict=True)]


@dataclass
class ToolModelAgent:
    """A model under the tools protocol: its chat template renders the ``intervene`` tool."""

    generator: HFGenerator
    data_dir: str | Path

    def __post_init__(self) -> None:
        enable_tool_calling(self.generator.processor)
        self.generator.chat_kwargs = {**self.generator.chat_kwargs, "tools": [tools.intervene]}

    def answer(self, batch: Sequence[Item]) -> list[str | None]:
        """Each turn's reply as its MCQA answer; REJECTED where the processor refused the conversation."""
        prompts = [tool_conversation(episode, state, self.data_dir) for episode, state in batch]
        answers = []
        for ids, (_, state) in zip(self.generator.generate_ids(prompts), batch, strict=True):
            if ids is REJECTED:
                answers.append(REJECTED)
            else:
                reply = read_reply(parse_response(self.generator.tokenizer, ids, prefix=[]))
                answers.append(tools.mcqa_answer(reply, state))
        return answers
