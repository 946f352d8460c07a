"""Study titles compared for duplicates: the normalisation, the measure and an index.

Normalisation (:func:`normalise_title`): Unicode NFKD, accents (combining marks) dropped, case folded,
every punctuation character and ``_`` made a space, runs of white space made one space. Titles equal
after it are the *same title*.

Measure: ``difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()`` of the two normalised titles
(2·matches / total length, 0 to 1). Titles at or above :data:`SIMILAR_TITLE_RATIO` (0.93) are *very
close* (a typo, a word more or less in a long title).

Index (:class:`TitleIndex`): the normalised titles by their length. A ratio of at least ``r`` needs
``2·min(la, lb) / (la + lb) >= r``, so only titles whose length lies within that band are compared, and
difflib's cheap upper bounds (``real_quick_ratio``, ``quick_ratio``) are tried before ``ratio``.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from dataclasses import dataclass, field
from difflib import SequenceMatcher

SIMILAR_TITLE_RATIO = 0.93


def normalise_title(title: str) -> str:
    """Case, accents, punctuation and spacing folded away: titles equal up to typography compare equal."""
    text = unicodedata.normalize("NFKD", title)
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    text = re.sub(r"[^\w\s]|_", " ", text)
    return " ".join(text.split())


def title_ratio(a: str, b: str) -> float:
    """The similarity (difflib ratio, 0 to 1) of two titles after :func:`normalise_title`."""
    return SequenceMatcher(None, normalise_title(a), normalise_title(b), autojunk=False).ratio()


@dataclass(frozen=True)
class TitleMatch:
    """An earlier title a new one duplicates: its study, its title as given, and the ratio (1.0 when
    the normalised titles are equal)."""

    study_id: str
    title: str
    ratio: float

    @property
    def same(self) -> bool:
        """True when the normalised titles are equal."""
        return self.ratio == 1.0


@dataclass
class TitleIndex:
    """Titles of studies, to find the one a new title duplicates (the same or a very close title)."""

    threshold: float = SIMILAR_TITLE_RATIO
    _exact: dict[str, tuple[str, str]] = field(default_factory=dict)
    _lengths: list[int] = field(default_factory=list)  # sorted, parallel to _by_length
    _by_length: list[list[tuple[str, str, str]]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self._exact)

    def add(self, title: str, study_id: str) -> None:
        """Index ``title`` as the title of ``study_id`` (the first study keeps a title shared by two)."""
        norm = normalise_title(title)
        if not norm or norm in self._exact:
            return
        self._exact[norm] = (study_id, title)
        at = bisect.bisect_left(self._lengths, len(norm))
        if at == len(self._lengths) or self._lengths[at] != len(norm):
            self._lengths.insert(at, len(norm))
            self._by_length.insert(at, [])
        self._by_length[at].append((norm, study_id, title))

    def match(self, title: str) -> TitleMatch | None:
        """The indexed title ``title`` duplicates: an equal normalised title, else the closest one with a
        ratio at or above the threshold (the first indexed wins a tie); None when there is none."""
        norm = normalise_title(title)
        if not norm:
            return None
        if norm in self._exact:
            sid, given = self._exact[norm]
            return TitleMatch(sid, given, 1.0)
        size, r = len(norm), self.threshold
        low, high = size * r / (2 - r), size * (2 - r) / r
        best: TitleMatch | None = None
        matcher = SequenceMatcher(None, autojunk=False)
        matcher.set_seq2(norm)
        start = bisect.bisect_left(self._lengths, low)
        for at in range(start, len(self._lengths)):
            if self._lengths[at] > high:
                break
            for other, sid, given in self._by_length[at]:
                matcher.set_seq1(other)
                if matcher.real_quick_ratio() < r or matcher.quick_ratio() < r:
                    continue
                ratio = matcher.ratio()
                if ratio >= r and (best is None or ratio > best.ratio):
                    best = TitleMatch(sid, given, ratio)
        return best


def title_problem(match: TitleMatch, where: str) -> str:
    """The message for a title that duplicates ``match`` (``where``: "in the graph", "on row 3", …)."""
    if match.same:
        what = f"the same title (ignoring case, accents and punctuation) is already {where} for study " \
               f"{match.study_id}"
    else:
        what = f"a very close title ({int(match.ratio * 100)}% alike; {int(SIMILAR_TITLE_RATIO * 100)}% or more counts) is " \
               f"already {where} for study {match.study_id}: {match.title!r}"
    return f"possible duplicate study: {what}. If this is a different study, add it with --allow-similar-title."


__all__ = ["SIMILAR_TITLE_RATIO", "normalise_title", "title_ratio", "TitleMatch", "TitleIndex", "title_problem"]
