"""The answer parser, on hand-worked examples of the official rules."""

from data.parsing import Outcome, Verdict, judge_answer, match_choices, normalize_letter, normalize_text

OPTIONS = ["Move the occluder to the left.", "Move the occluder to the right.", "I cannot tell."]
CATEGORIES = ["apple", "red car", "blue kite", "star"]


def judge(answer, accepted_options=OPTIONS[:2], accepted_categories=("red car",)):
    return judge_answer(answer, OPTIONS, accepted_options, CATEGORIES, list(accepted_categories))


def test_normalize_text_cuts_letter_prefix_case_and_spaces():
    assert normalize_text("B. Red Car") == "redcar"
    assert normalize_text("  red   car ") == "redcar"
    assert normalize_text("The answer is E. red car") == "redcar"  # everything up to the last "<capital>."
    assert normalize_text("red car.") == "redcar."


def test_normalize_letter():
    assert normalize_letter("E") == "e"
    assert normalize_letter(" e. red car") == "e"
    assert normalize_letter("(E)") == "#"
    assert normalize_letter("") == ""


def test_full_text_and_letters_select_the_same_choice():
    # lettering: A-C are the options, D-G the categories
    assert judge("red car") == judge("E") == judge("e.") == judge("E. red car")
    assert judge("red car").outcome is Outcome.CORRECT
    assert judge("Move the occluder to the left.").option == OPTIONS[0]
    assert judge("a").outcome is Outcome.INTERVENTION


def test_every_failure_reason():
    assert judge("D").outcome is Outcome.WRONG_CATEGORY  # apple
    assert judge("C").outcome is Outcome.ABSTAINED
    assert judge("I cannot tell.").outcome is Outcome.ABSTAINED
    assert judge("H").outcome is Outcome.UNPARSEABLE  # past the last letter
    assert judge("A or B").outcome is Outcome.UNPARSEABLE
    assert judge("").outcome is Outcome.UNPARSEABLE
    # an offered option that is not accepted now (e.g. on the last view)
    assert judge("A", accepted_options=()).outcome is Outcome.INVALID_OPTION
    # the correct category when categories are not accepted yet (ROD's first step)
    only_move = judge("red car", accepted_categories=())
    assert only_move.outcome is Outcome.INVALID_OPTION and only_move.category == "red car"


def test_match_choices_letter_offset_and_first_duplicate():
    assert match_choices("C", CATEGORIES, ["red car"], letter_offset=2) == match_choices(
        "apple", CATEGORIES, ["red car"], 2
    )
    assert match_choices("C", CATEGORIES, ["red car"], letter_offset=2).verdict is Verdict.WRONG
    dup = ["x", "x"]
    assert match_choices("x", dup, ["x"]).index == 0
    assert match_choices("B", dup, ["x"]).verdict is Verdict.WRONG  # the correct letter is the first "x"
