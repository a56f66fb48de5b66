"""The fixed text a tiny BPE is trained on: ProactiveBench and synthetic-benchmark words, generic English.

Any text still tokenizes (byte-level fallback); the corpus only decides which words get their own tokens.
"""

from __future__ import annotations

import hashlib

from data.prompts import MCQA_INTRO, MCQA_SHORT_ANSWER
from data.scenarios import ACTION_KEYWORDS, COCO_ZOOM_HINT, SCENARIOS, VIDEO_PRE_PROMPT

QUESTIONS = """\
What type of object is in the image? What is the object behind the occluder? Who is talking in the video?
How many people are in the video? What event is happening in the video? What product is shown in the image?
What is the class of the image? What is drawn in the sketch? Which object or action appears in the video?
What object is in the image? Which category does the object belong to?"""

OPTIONS = """\
Move the occluding object to the left. Move the occluding object to the right. I cannot tell.
I do not know. I cannot answer the question. Wait for the occlusion to disappear. Rewind the video.
Rotate the object. Change the viewpoint. Show me a different view of the object. Look at it from another angle.
Change the orientation of the object. Deblur the image. Denoise the image. Increase the brightness.
Increase the contrast. Increase the saturation. Reduce the compression artifacts. Increase the resolution.
Remove the artifacts. Add more details to the drawing. Add details to the sketch. Continue the quickdraw.
Move the camera to the left. Move the camera to the right. Move the camera up. Move the camera down.
Move the camera farther away. Zoom out. Wait for the object to appear."""

CATEGORIES = """\
airplane apple backpack banana bear bed bench bicycle bird boat book bottle bowl broccoli bus cake camera car
carrot cat chair clock cow cup dog donut elephant fork giraffe guitar hair drier handbag horse hot dog keyboard
kite knife laptop microwave motorcycle mouse orange oven person pizza potted plant refrigerator remote sandwich
scissors sheep sink skateboard skis snowboard spoon sports ball stop sign suitcase surfboard teddy bear tennis
racket tie toaster toilet toothbrush traffic light train truck umbrella vase wine glass zebra flower tree house
fish goldfish shark hen ostrich robin jay owl frog turtle lizard snake spider crab dolphin whale penguin tiger
lion fox wolf rabbit squirrel mug hammer wrench screwdriver shoe sock hat glasses lamp phone television mug
candle window door fence ladder bridge castle tent mountain river ocean cloud sun moon star rain snow fire"""

SYNTHETIC = """\
Which object appears in the video? What object is put on the table? Which object shows up in this clip?
What object is in the picture? Which object can be found in this scene? What is the main object in this photo?
What object is shown in the image? Which object does this picture show? What is depicted in the image?
What product is this? Which item is on display? What is being drawn in this sketch? Which object does this
drawing show? What does this quick sketch represent? What object is hidden behind the block? What kind of
object is standing behind the obstacle? Who is talking in this scene? Which person is speaking? How many people
can be seen in the video? What is the person doing? Which activity is shown in the video?
red green blue yellow orange purple circle square triangle star diamond cross hexagon shape colour
a person in a red shirt kicking a ball, holding a cup, carrying a box; juice, soda, cereal, balloon, wheel"""

ENGLISH = """\
The quick brown fox jumps over the lazy dog. A picture is worth a thousand words, but only when it shows
enough. When the image does not allow an answer, ask for an intervention instead of guessing. The model
should be proactive: it can ask the user to move something, to wait, to rewind, or to enhance the picture.
Please answer with one letter only. The answer is correct. The answer is wrong. This is a frame from a video.
Yes, no, maybe. There is a man and a woman with a child near the table. It is red, green, blue, yellow,
black, white, brown, gray, pink or purple. One two three four five six seven eight nine ten. Small, large,
left, right, top, bottom, front, back, inside, outside, above, below, near, far, before, after, first, last.
I think the object is hidden. I can see it now. The user moved it, and now the view is clear.
Describe the image. Explain your answer step by step. Thank you for your help.
system user assistant System User Assistant USER ASSISTANT You are a helpful assistant."""


def corpus_text() -> str:
    """The whole training text, protocol strings first (taken from the data package)."""
    protocol = [VIDEO_PRE_PROMPT, MCQA_INTRO, MCQA_SHORT_ANSWER, COCO_ZOOM_HINT]
    for scenario in SCENARIOS.values():
        protocol += [scenario.hint, scenario.pre_prompt, scenario.reference_prompt or ""]
    protocol += [keyword for keyword, _ in ACTION_KEYWORDS]
    letters = " ".join(f"{chr(65 + i)}." for i in range(12))
    parts = [*protocol, letters, QUESTIONS, OPTIONS, CATEGORIES, SYNTHETIC, ENGLISH]
    return "\n".join(part for part in parts if part)


def corpus_digest() -> str:
    """A short hash of the corpus, recorded with each built model so a corpus change forces a rebuild."""
    return hashlib.sha256(corpus_text().encode()).hexdigest()[:16]
