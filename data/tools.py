"""The tools protocol: ProactiveBench episodes whose interventions are tool calls.

The model sees the view and the question with the abstain option and the categories lettered as in MCQA,
and the proactive options offered now listed as *requests* for one tool, ``intervene(request)``. A call
whose request names an offered option does what the MCQA answer naming that option does (accepted: the
tool returns the next view's image; offered but not accepted now, e.g. the wrong ImageNet-C fix: the
episode ends as a failure); anything else ends it as unparseable. The final answer is the reply's text,
judged against the lettered choices; text that names a request does not intervene. Each reply is thus
translated into the MCQA answer of the same meaning and played on the MCQA episode (data/environment.py),
so the step rules, acc and psr are the official ones. In evaluation a reply is one turn (its first call
counts); in training TRL's tool loop runs every call of a reply, each one turn.

One tool with the request as its argument, not one tool per action: the actions offered change with the
record and the step (COCO drops used-up directions, ChangeIt hides rewind on the first frame, ImageNet-C
shows 4 of its 8 fixes, MVP-N and QuickDraw phrase them differently per record), while a tool's schema is
fixed; one tool keeps one schema for all scenarios and the same choices, and chance level, as MCQA.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from data.environment import Episode, TurnState
from data.images import open_view
from data.parsing import match_choices, normalize_text
from data.prompts import assistant_message, mcqa_prompt, user_message
from data.scenarios import is_abstain

TOOL_NAME = "intervene"
ENDED = "The episode has ended."


def intervene(request: str) -> list:
    """Ask for an intervention on the scene, such as moving an occluder or rotating the object.

    Args:
        request: One of the requests listed as available, word for word.

    Returns:
        The new view and the requests available there.
    """
    raise RuntimeError("intervene() is the tool's signature; an episode's environment answers the calls")


@dataclass(frozen=True)
class ToolReply:
    """One model reply under the tools protocol: the requests of its tool calls, in order, and its text."""

    requests: tuple[str, ...] = ()
    text: str = ""


def requests(state: TurnState) -> tuple[str, ...]:
    """The requests offered now: the proactive options (every offered option but the abstain ones)."""
    return tuple(o for o in state.options if not is_abstain(o))


def answer_choices(state: TurnState) -> tuple[str, ...]:
    """The lettered choices of the tools prompt: the abstain options offered now, then the categories."""
    return tuple(o for o in state.options if is_abstain(o)) + state.categories


def requests_sentence(state: TurnState) -> str:
    """The sentence listing the requests offered now (empty when none is)."""
    offered = requests(state)
    if not offered:
        return ""
    listed = ", ".join(f'"{r}"' for r in offered)
    return f" If the image does not let you answer, call the tool {TOOL_NAME} with one of these requests: {listed}."


def tools_prompt(state: TurnState) -> str:
    """The first turn's text: question, the requests offered, then the lettered choices as in MCQA."""
    return mcqa_prompt(state.question + requests_sentence(state), answer_choices(state))


def view_text(state: TurnState) -> str:
    """The text of a tool response showing ``state``: what can be requested now."""
    sentence = requests_sentence(state)
    return (sentence or " No request is available now: answer with one of the options.").lstrip()


def first_message(state: TurnState) -> dict[str, Any]:
    """The user turn that opens an episode (one image placeholder, then :func:`tools_prompt`)."""
    return user_message(tools_prompt(state))


def tool_call_message(request: str, text: str = "") -> dict[str, Any]:
    """An assistant turn calling the tool with ``request``."""
    call = {"type": "function", "function": {"name": TOOL_NAME, "arguments": {"request": request}}}
    return {**assistant_message(text), "tool_calls": [call]}


def tool_response_message(state: TurnState | None) -> dict[str, Any]:
    """The tool's answer: an image placeholder and :func:`view_text`, or the end of the episode (``None``)."""
    if state is None:
        return {"role": "tool", "name": TOOL_NAME, "content": [{"type": "text", "text": ENDED}]}
    content = [{"type": "image"}, {"type": "text", "text": view_text(state)}]
    return {"role": "tool", "name": TOOL_NAME, "content": content}


def request_answer(request: Any, state: TurnState) -> str:
    """The MCQA answer of a tool call: the offered request it names (full text, case and spaces ignored),
    or "" (unparseable) when it names none."""
    wanted = normalize_text(str(request))
    return next((r for r in requests(state) if normalize_text(r) == wanted), "")


def text_answer(text: str, state: TurnState) -> str:
    """The MCQA answer of a final text: the lettered choice it names (full text or letter), or ""."""
    choices = answer_choices(state)
    match = match_choices(text, choices, (), 0)
    return choices[match.index] if match.index is not None else ""


def mcqa_answer(reply: ToolReply, state: TurnState) -> str:
    """The MCQA answer that means what ``reply`` does at ``state`` (its first request, else its text)."""
    if reply.requests:
        return request_answer(reply.requests[0], state)
    return text_answer(reply.text, state)


def mirror(answer: str, state: TurnState) -> ToolReply:
    """The tool reply that means what MCQA ``answer`` does: a proactive option becomes a tool call, any
    other choice its text, anything unparseable an empty text."""
    judgement = state.judge(answer)
    if judgement.option is not None and not is_abstain(judgement.option):
        return ToolReply(requests=(judgement.option,))
    return ToolReply(text=judgement.category or judgement.option or "")


@dataclass
class ToolEpisode:
    """An MCQA episode played through the tools protocol; tool responses carry the view's image."""

    episode: Episode
    data_dir: str | Path

    def intervene(self, request: Any) -> list[dict[str, Any]]:
        """Apply one tool call; the response is the next view (image, then text) or the end notice."""
        if not self.episode.done:
            self.episode.step(request_answer(request, self.episode.state()))
        if self.episode.done:
            return [{"type": "text", "text": ENDED}]
        state = self.episode.state()
        image = open_view(self.data_dir, state.image, state.crop, state.short_edge)
        return [{"type": "image", "image": image}, {"type": "text", "text": view_text(state)}]

    def answer(self, text: str) -> None:
        """Give the final text answer (ignored once the episode has ended)."""
        if not self.episode.done:
            self.episode.step(text_answer(text, self.episode.state()))
