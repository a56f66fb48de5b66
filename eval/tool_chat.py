"""Chat templates that render tool calls, and the parsers that read them back, for the tools protocol.

Which shipped templates render a tool conversation (TRL's ``supports_tool_calling``: the tool signatures,
the assistant's ``tool_calls`` and the tool turn all appear), per family of recipes/, checked on the twins
(tests/test_tool_templates.py):

| family (recipes/)                        | shipped template renders tools | used for tools                 |
|------------------------------------------|--------------------------------|--------------------------------|
| Qwen2.5-VL (qwen2.5-vl-3b, -7b)          | no (drops tools and calls)     | override ``qwen2_vl.jinja``    |
| Qwen3-VL (qwen3-vl-4b, -8b)              | yes                            | the shipped one                |
| InternVL3 (internvl3-2b)                 | no                             | override ``internvl.jinja``    |
| LLaVA-OneVision (llava-onevision-*)      | no                             | override ``llava_onevision.jinja`` |
| LLaVA-NeXT-Mistral (llava-next-mistral-7b) | no (rejects a tool turn)     | override ``llava_next.jinja``  |
| SmolVLM2 (smolvlm2-2.2b)                 | no                             | override ``smolvlm.jinja``     |

Every override (``tool_templates/``) renders exactly as the shipped template for a conversation without
tool calls (so MCQA prompts do not change), is prefix-preserving as TRL's tool loop needs, and writes
calls in the Hermes format Qwen uses, ``<tool_call>{"name": ..., "arguments": ...}</tool_call>``, with tool
results (their images included) in a user turn inside ``<tool_response>``. The tokenizer gets the matching
``response_template`` (TRL's ``add_response_schema`` recognizes shipped templates only).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from trl.chat_template_utils import add_response_schema, qwen3_template, supports_tool_calling

TEMPLATE_DIR = Path(__file__).parent / "tool_templates"


def hermes_template(start_anchor: str, end_of_turn: str) -> dict[str, Any]:
    """TRL's parser of Hermes-style tool calls (``<tool_call>{json}</tool_call>``, as Qwen writes them) for
    a template whose assistant turns start after ``start_anchor`` and end with ``end_of_turn``."""
    fields = {
        **qwen3_template["fields"],
        "content": {"close_pattern": re.escape(end_of_turn) + r"\s*", "content": "text"},
    }
    return {**qwen3_template, "start_anchor": start_anchor, "fields": fields}


# processor class -> (override template file stem, response template)
OVERRIDES: dict[str, tuple[str, dict[str, Any]]] = {
    "Qwen2VLProcessor": ("qwen2_vl", qwen3_template),
    "Qwen2_5_VLProcessor": ("qwen2_vl", qwen3_template),
    "InternVLProcessor": ("internvl", qwen3_template),
    "LlavaOnevisionProcessor": ("llava_onevision", qwen3_template),
    "SmolVLMProcessor": ("smolvlm", hermes_template("Assistant:", "<end_of_utterance>")),
    "LlavaNextProcessor": ("llava_next", hermes_template(" [/INST]", "</s>")),
}


def tool_template(name: str) -> str:
    """The text of the override template ``name`` (a file stem under ``tool_templates/``)."""
    return (TEMPLATE_DIR / f"{name}.jinja").read_text(encoding="utf-8")


def enable_tool_calling(processor: Any) -> Any:
    """Give ``processor`` a chat template that renders tool calls and a parser for them (in place).

    A template that already renders tools is kept; otherwise the family's override replaces it (on the
    processor and its tokenizer). Raises ValueError for a family without either.
    """
    tokenizer = getattr(processor, "tokenizer", processor)
    if supports_tool_calling(processor):
        if getattr(tokenizer, "response_template", None) is None:
            add_response_schema(processor)  # raises ValueError for a template TRL does not know
        return processor
    family = type(processor).__name__
    if family not in OVERRIDES:
        raise ValueError(
            f"{family}: its chat template does not render tool calls and no override is shipped for it "
            f"(overrides: {', '.join(sorted(OVERRIDES))})"
        )
    name, response_template = OVERRIDES[family]
    processor.chat_template = tokenizer.chat_template = tool_template(name)
    tokenizer.response_template = response_template
    return processor
