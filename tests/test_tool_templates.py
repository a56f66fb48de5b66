"""Tool calling on the twins of every family in recipes/ (eval/tool_chat.py): which shipped templates render
tools, and that each override renders MCQA conversations unchanged, passes TRL's checks, renders a tool
conversation with its images, and parses generated calls and answers back."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from transformers import AutoProcessor
from transformers.utils import get_json_schema
from trl.chat_template_utils import is_chat_template_prefix_preserving, parse_response, supports_tool_calling

from data import tools
from data.prompts import assistant_message, user_message
from eval.tool_chat import enable_tool_calling
from proactive.episode_envs import ToolEnvironment

SHIPPED_RENDERS_TOOLS = {
    "qwen2_vl": False,
    "qwen2_5_vl": False,
    "qwen3_vl": True,
    "internvl": False,
    "llava_onevision": False,
    "llava_next": False,
    "smolvlm": False,
}
CALL = '<tool_call>\n{"name": "intervene", "arguments": {"request": "Move the occluder to the left."}}\n</tool_call>'


@pytest.fixture(scope="module")
def processors(tiny_models):
    return lambda arch: AutoProcessor.from_pretrained(tiny_models(arch))


def mcqa_conversations(arch: str) -> list[list[dict]]:
    first = user_message("What is it? A. cat B. dog")
    conversations = [
        [first],
        [first, assistant_message("A"), user_message("And now?")],
        [first, assistant_message("B. dog")],
    ]
    if arch not in ("llava_onevision", "llava_next", "smolvlm"):  # their shipped templates index list content
        conversations.append(
            [{"role": "system", "content": "Be brief."}, user_message("Hi", with_image=False)]
        )
    return conversations


def tool_conversation() -> list[dict]:
    return [
        user_message("What is it?"),
        tools.tool_call_message("Move the occluder to the left."),
        {
            "role": "tool",
            "name": tools.TOOL_NAME,
            "content": [{"type": "image"}, {"type": "text", "text": "x"}],
        },
    ]


@pytest.mark.parametrize("arch", SHIPPED_RENDERS_TOOLS)
def test_tool_calling_on_the_twin(arch: str, processors):
    processor = processors(arch)
    shipped = processor.chat_template
    assert supports_tool_calling(processor) is SHIPPED_RENDERS_TOOLS[arch]
    enable_tool_calling(processor)
    assert (processor.chat_template == shipped) is SHIPPED_RENDERS_TOOLS[arch]
    assert processor.tokenizer.chat_template == processor.chat_template
    assert supports_tool_calling(processor) and is_chat_template_prefix_preserving(processor)
    for conversation in mcqa_conversations(arch):  # MCQA prompts are unchanged
        for generation_prompt in (True, False):
            kwargs = {"add_generation_prompt": generation_prompt, "tokenize": False}
            assert processor.apply_chat_template(conversation, **kwargs) == processor.apply_chat_template(
                conversation, chat_template=shipped, **kwargs
            )
    text = processor.apply_chat_template(
        tool_conversation(), tools=[tools.intervene], add_generation_prompt=True, tokenize=False
    )
    assert '"name": "intervene"' in text and "<tool_response>" in text and CALL in text
    image = Image.new("RGB", (56, 56), (200, 10, 10))
    processor(images=[image, image], text=[text], return_tensors="pt")  # both images have their tokens
    prompt = processor.apply_chat_template(
        tool_conversation()[:1], tools=[tools.intervene], add_generation_prompt=True, tokenize=False
    )
    tokenizer = processor.tokenizer
    prefix = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    for generated, request, content in (
        (CALL, "Move the occluder to the left.", ""),
        ("B. dog", None, "B. dog"),
    ):
        ids = tokenizer(generated + tokenizer.eos_token, add_special_tokens=False)["input_ids"]
        parsed = parse_response(tokenizer, ids, prefix=prefix)
        calls = parsed.get("tool_calls") or []
        assert [c["function"]["arguments"]["request"] for c in calls] == ([request] if request else [])
        assert parsed["content"].strip() == content


def test_a_family_without_an_override_is_refused(processors):
    processor = processors("llava")  # llava-1.5: not a recipes/ family
    with pytest.raises(ValueError, match="LlavaProcessor"):
        enable_tool_calling(processor)


def test_the_training_tool_and_the_eval_tool_have_one_schema(tmp_path: Path):
    environment = ToolEnvironment(source=None)
    assert get_json_schema(environment.intervene) == get_json_schema(tools.intervene)
    assert get_json_schema(tools.intervene)["function"]["parameters"]["required"] == ["request"]
