"""kg.model.titles: the title normalisation, the measure and the index (made-up titles)."""

from __future__ import annotations

from difflib import SequenceMatcher

from kg.model.titles import SIMILAR_TITLE_RATIO, TitleIndex, TitleMatch, normalise_title, title_problem, title_ratio

TITLE = "Patient feedback on a made-up rating site: a qualitative study"


def test_normalise_title_folds_case_accents_punctuation_and_spaces() -> None:
    assert normalise_title("  Café, “Quoted”_Words —  ÉTUDE!  ") == "cafe quoted words etude"
    assert normalise_title("...") == ""


def test_ratio_is_difflib_on_the_normalised_titles() -> None:
    other = "Patient feedback on a made-up rating site: a qualitative survey"
    expected = SequenceMatcher(None, normalise_title(TITLE), normalise_title(other), autojunk=False).ratio()
    assert title_ratio(TITLE, other) == expected == 118 / 123
    assert title_ratio(TITLE, TITLE.upper() + ".") == 1.0
    assert SIMILAR_TITLE_RATIO == 0.93


def test_index_finds_the_same_then_the_closest_title_at_or_above_the_threshold() -> None:
    index = TitleIndex()
    index.add(TITLE, "madeupa2020")
    index.add("Patient feedback on a made-up rating site: a qualitative survey", "madeupb2020")
    index.add("Something else entirely", "madeupc2020")
    index.add(TITLE.upper(), "madeupd2020")  # the same title again: the first study keeps it
    assert len(index) == 3
    assert index.match("PATIENT FEEDBACK ON A MADE UP RATING-SITE: A QUALITATIVE STUDY!") == \
        TitleMatch("madeupa2020", TITLE, 1.0)
    typo = index.match("Patient feedback on a made up rating-site: a qualitative stuyd")
    assert typo == TitleMatch("madeupa2020", TITLE, 120 / 122) and not typo.same
    assert index.match("Patients feedback on the made-up rating sites: qualitative studies") is None  # 0.905
    assert index.match("Patient feedback on a made-up rating site") is None  # 0.80, and outside the length band
    assert index.match("") is None and index.match("?!") is None


def test_threshold_is_inclusive() -> None:
    index = TitleIndex(threshold=118 / 123)
    index.add(TITLE, "madeupa2020")
    assert index.match("Patient feedback on a made-up rating site: a qualitative survey").ratio == 118 / 123
    assert TitleIndex(threshold=119 / 123).match(TITLE) is None  # empty index


def test_problem_messages_name_the_study() -> None:
    assert title_problem(TitleMatch("madeupa2020", TITLE, 1.0), "in the graph") == (
        "possible duplicate study: the same title (ignoring case, accents and punctuation) is already in the "
        "graph for study madeupa2020. If this is a different study, add it with --allow-similar-title.")
    assert title_problem(TitleMatch("madeupa2020", TITLE, 0.9593), "on row 2") == (
        "possible duplicate study: a very close title (95% alike; 93% or more counts) is already on row 2 for "
        f"study madeupa2020: {TITLE!r}. If this is a different study, add it with --allow-similar-title.")
