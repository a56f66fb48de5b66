"""Hand-derived trajectories of every scenario, step by step, against the official rules."""

from __future__ import annotations

import random

import pytest

from data.environment import make_episode
from data.parsing import Outcome
from data.records import parse_record
from data.scenarios import Action

CATS = ["apple", "red car", "blue kite", "star"]
ABSTAIN = "I cannot tell."


def record(scenario, **fields):
    base = {
        "id": 1,
        "prompt": "What is it?",
        "categories": CATS,
        "answer": "red car",
        "first_image": 0,
        "reference_image": 0,
    }
    base.update(fields)
    return parse_record(scenario, base, "test")


def play(episode, answers):
    for answer in answers:
        episode.step(answer)
    return episode


ROD = dict(
    image_template="rod/obj-s{image}.png",
    first_image=7,
    num_images=14,
    reference_image=0,
    options=["Move the occluder to the left.", "Move the occluder to the right.", ABSTAIN],
)


def test_rod_first_step_accepts_only_moves_then_letters_shift():
    ep = make_episode(record("Realistic-Occlusion-Dataset", **ROD))
    s = ep.state()
    assert s.image == "rod/obj-s7.png" and s.accepted_categories == ()
    assert s.prompt.endswith(
        "A. Move the occluder to the left.\nB. Move the occluder to the right.\nC. I cannot tell.\n"
        "D. apple\nE. red car\nF. blue kite\nG. star\n"
        "Please only return one of the options without any other words."
    )
    turn = ep.step("A")  # left: 7 -> 6
    assert turn.judgement.outcome is Outcome.INTERVENTION and turn.action is Action.LEFT
    assert ep.state().image == "rod/obj-s6.png"
    ep.step("move the occluder to the right.")  # full text, any case: 6 -> 7
    assert ep.state().image == "rod/obj-s7.png"
    ep.step("E")  # the correct category after step 0
    assert ep.success and ep.num_turns == 3 and ep.interventions == 2 and ep.end_reason == "correct"


def test_rod_correct_category_at_step_zero_is_a_failure():
    ep = play(make_episode(record("Realistic-Occlusion-Dataset", **ROD)), ["red car"])
    assert ep.done and not ep.success and ep.end_reason == "invalid_option"


def test_rod_wraps_and_hits_the_step_limit():
    ep = make_episode(record("Realistic-Occlusion-Dataset", **ROD))
    images = []
    while not ep.done:
        images.append(ep.state().image)
        ep.step("B")
    assert images[:8] == [f"rod/obj-s{i}.png" for i in (7, 8, 9, 10, 11, 12, 13, 0)]
    assert ep.num_turns == 14 and ep.end_reason == "step_limit" and not ep.success


def test_rod_broken_banana_frame_is_replaced():
    rec = record(
        "Realistic-Occlusion-Dataset",
        **{**ROD, "image_template": "rod/natural_bluebl_greenr-banana-s{image}.jpg", "first_image": 7},
    )
    ep = play(make_episode(rec), ["A"])  # 7 -> 6 after moving left: the s6 frame is replaced by s5
    assert ep.state().image == "rod/natural_bluebl_greenr-banana-s5.jpg"


def test_vsod_wait_rewind_wrap_and_prepromt():
    rec = record(
        "OcclusionDataSet-MM20",
        image_template="v/{image}.png",
        first_image=0,
        num_images=3,
        strong_occlusions=True,
        options=["Wait for the occlusion to disappear.", "Rewind the video.", ABSTAIN],
    )
    ep = make_episode(rec, hint=True)
    s = ep.state()
    assert s.image == "v/0000.png"
    assert s.question.startswith(
        "This is a frame extracted from a video. Answer the following question. What is it?"
    )
    assert s.question.endswith(
        "Hint: If there is an occlusion, waiting for it to disappear or rewinding the video might reveal what's behind it."
    )
    ep.step("B")  # rewind: 0 -> 2 (mod 3)
    assert ep.state().image == "v/0002.png"
    ep.step("A")
    assert ep.state().image == "v/0000.png"
    ep.step("A")  # third turn = num_images: the step limit ends it
    assert ep.end_reason == "step_limit" and ep.interventions == 3 and ep.num_turns == 3


def test_mvpn_walks_valid_images_and_refuses_rotation_on_the_last_view():
    rec = record(
        "MVP-N",
        image_template="p/{image}_{informative}.png",
        first_image=4,
        num_images=3,
        reference_image=9,
        valid_images=[4, 8, 9, 12],
        options=["Rotate the object.", ABSTAIN],
    )
    ep = make_episode(rec)
    assert (ep.state().image, ep.state().informative) == ("p/0004_0.png", False)
    ep.step("A")
    assert ep.state().image == "p/0008_0.png"
    ep.step("Rotate the object.")
    last = ep.state()
    assert (last.image, last.informative, last.accepted_options) == ("p/0009_1.png", True, ())
    assert "Rotate the object." in last.options  # still offered, no longer accepted
    ep.step("A")
    assert ep.end_reason == "invalid_option" and ep.num_turns == 3
    ref = make_episode(rec, reference=True).state()
    assert ref.image == "p/0009_1.png" and ref.options == () and ref.choices == tuple(CATS)


def test_inc_only_the_matching_fix_is_accepted():
    fixes = ["Deblur the image.", "Denoise the image.", "Increase the brightness.", "Increase the contrast."]
    rec = record(
        "ImageNet-C",
        image_template="c/{level}/x.png",
        first_image=5,
        num_images=5,
        options=fixes + [ABSTAIN],
        quality_answer="Denoise the image.",
    )
    ep = make_episode(rec)
    assert ep.state().accepted_options == ("Denoise the image.",)
    ep.step("B")
    assert ep.state().image == "c/4/x.png"
    ep.step("A")  # deblur: offered but not the matching fix
    assert ep.done and ep.end_reason == "invalid_option" and ep.interventions == 1
    ep = play(make_episode(rec), ["B", "B", "B", "B"])
    assert ep.state().image == "c/1/x.png" and ep.state().accepted_options == ()
    ep.step("G")  # F..I are the categories: G = red car
    assert ep.success and ep.num_turns == 5


def test_quickdraw_adds_strokes_until_the_last_one():
    rec = record(
        "QuickDraw",
        image_template="s/{image}.png",
        num_images=3,
        reference_image=2,
        options=["Add more details.", ABSTAIN],
    )
    ep = play(make_episode(rec), ["A", "A"])
    assert ep.state().image == "s/0002.png" and ep.state().accepted_options == ()
    ep.step("apple")
    assert ep.end_reason == "wrong_category" and ep.num_turns == 3


def test_changeit_hides_rewind_at_start_and_wait_at_end():
    rec = record(
        "ChangeIt",
        image_template="v/{image}.png",
        first_image=0,
        num_images=5,
        reference_image=4,
        step_size=2,
        max_steps=5,
        options=["Wait for the object to appear.", "Rewind the video.", ABSTAIN],
    )
    ep = make_episode(rec)
    s = ep.state()
    assert s.options == ("Wait for the object to appear.", ABSTAIN) and s.image == "v/0.png"
    assert s.choices[2:] == tuple(CATS)  # categories lettered C-F now
    assert ep.step("Rewind the video.").judgement.outcome is Outcome.UNPARSEABLE  # hidden: not a choice now
    ep = play(make_episode(rec), ["A", "A"])  # 0 -> 2 -> 4
    s = ep.state()
    assert s.image == "v/4.png" and s.options == ("Rewind the video.", ABSTAIN)
    ep.step("A")  # rewind: 4 -> 2
    assert ep.state().options == tuple(rec.options)


def test_changeit_random_mode_stops_when_leaving_the_video():
    rec = record(
        "ChangeIt",
        image_template="v/{image}.png",
        first_image=0,
        num_images=3,
        reference_image=2,
        step_size=2,
        max_steps=5,
        options=["Wait for the object to appear.", "Rewind the video.", ABSTAIN],
    )
    outcomes = set()
    for seed in range(20):
        ep = play(make_episode(rec, rng=random.Random(seed)), ["A"])
        outcomes.add((ep.done, ep.end_reason))
    assert outcomes == {(True, "out_of_range"), (False, None)}


def coco(direction, options, granularity=3, h=10, v=5):
    return record(
        "coco2014",
        image_template="coco/x.jpg",
        num_images=1,
        options=options + [ABSTAIN],
        direction=direction,
        granularity=granularity,
        horizontal_step=h,
        vertical_step=v,
        crop={"top": 50, "left": 60, "height": 150, "width": 160},
    )


def test_coco_left_crop_grows_and_direction_is_used_up():
    ep = make_episode(coco("left", ["Move the camera to the left."]))
    assert ep.state().crop == (50, 50, 160, 150)  # left - h, top, width, height
    ep.step("A")
    assert ep.state().crop == (40, 50, 160, 150)
    ep.step("A")  # h = 30 = 10 * granularity: the option disappears
    s = ep.state()
    assert s.crop == (30, 50, 160, 150) and s.options == (ABSTAIN,)
    ep.step("C")  # letters: A = abstain, B-E categories -> C = red car
    assert ep.success and ep.num_turns == 3


def test_coco_diagonal_and_zoom():
    ep = make_episode(coco("up_right", ["Move the camera up.", "Move the camera to the right."]))
    assert ep.max_steps == 6
    assert ep.state().crop == (60, 45, 170, 150)
    play(ep, ["A", "A"])  # up twice: v = 15 = 5 * 3 -> up hidden
    assert ep.state().options == ("Move the camera to the right.", ABSTAIN)
    zoom = make_episode(coco("zoom", ["Move farther from the object."], granularity=3))
    assert zoom.max_steps == 4 and zoom.state().crop == (50, 45, 230, 205)
    hinted = make_episode(coco("zoom", ["Move farther from the object."]), hint=True).state()
    assert hinted.question.endswith("Hint: zooming out could help with classification.")
    play(zoom, ["A", "A", "A"])  # h = 40 = 10 * 4: zoom used up
    assert zoom.state().options == (ABSTAIN,) and zoom.state().crop == (20, 30, 260, 220)


def test_reference_mode_shows_reference_image_with_categories_only():
    ep = make_episode(record("Realistic-Occlusion-Dataset", **ROD), reference=True)
    s = ep.state()
    assert s.image == "rod/obj-s0.png" and s.question == "What type of object is in the image?"
    assert s.prompt.split("Options:\n")[1].startswith("A. apple\nB. red car")
    ep.step("B")
    assert ep.success and ep.num_turns == 1


def test_unknown_option_text_is_reported_with_its_source():
    bad = record("QuickDraw", image_template="s/{image}.png", num_images=3, options=["Do more.", ABSTAIN])
    with pytest.raises(ValueError, match="names no action"):
        make_episode(bad).step("A")
