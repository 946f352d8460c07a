"""The one IRI check made at the door (kg/model/iri.py, issue 16): what it refuses, why, its
suggestion, and the property that matters: whatever it accepts the store and the serialisers hold.
"""

from __future__ import annotations

import pyoxigraph as ox
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kg.model.iri import FORBIDDEN, iri_error, iri_suggestion


@pytest.mark.parametrize("text", [
    "https://example.org/a", "http://example.org:8080/a?b=c#d", "https://user@example.org/", "https://[::1]/x",
    "https://example.org/%C3%A9", "https://example.org/é", "mailto:someone@example.org", "urn:isbn:0451450523",
    "https://w3id.org/smqi/kg/study/smitha2020", "x:",
])
def test_accepted(text: str) -> None:
    assert iri_error(text) is None


@pytest.mark.parametrize("text, why", [
    ("", "it is empty"),
    ("https://example.org/a b", "it holds a space, which no IRI may hold (percent-encode it)"),
    *[(f"https://example.org/a{c}b", f"it holds the character {c!r}, which no IRI may hold (percent-encode it)")
      for c in sorted(FORBIDDEN - {" "})],
    ("https://example.org/\x00", "it holds the control character U+0000, which no IRI may hold (percent-encode it)"),
    ("https://example.org/\x1f", "it holds the control character U+001F, which no IRI may hold (percent-encode it)"),
    ("https://example.org/\x7f", "it holds the control character U+007F, which no IRI may hold (percent-encode it)"),
    ("https://example.org/\x9f", "it holds the control character U+009F, which no IRI may hold (percent-encode it)"),
    ("https://example.org/\ud800", "it holds the surrogate code point U+D800 (not a character), which no IRI may hold"),
    ("https://example.org/100%", "it holds a '%' at character 24 that is not followed by two hex digits (write %25)"),
    ("https://example.org/%zz", "it holds a '%' at character 21 that is not followed by two hex digits (write %25)"),
    ("example.org/a", "it has no scheme (an IRI starts with one, such as https:)"),
    ("1http://example.org/", "it has no scheme (an IRI starts with one, such as https:)"),
    ("https:example.org", "an https address needs '//' and a host after 'https:'"),
    ("http:///a", "an http address needs a host (http://host/…)"),
    ("https://", "an https address needs a host (https://host/…)"),
    ("https://user@:443/", "an https address needs a host (https://host/…)"),
    ("https://exa[mple.org/", "it is not an IRI (Invalid IRI code point '[')"),
])
def test_refused_with_the_reason(text: str, why: str) -> None:
    assert iri_error(text) == why


def test_http_only_and_an_empty_host_allowed() -> None:
    assert iri_error("mailto:a@example.org", http_only=True) == "it must be an http(s) address"
    assert iri_error("http:///a", host_required=False) is None  # valid RFC 3987; the sheets warn about it


@pytest.mark.parametrize("text, suggestion", [
    ("https://example.org/a b|c", "https://example.org/a%20b%7Cc"),
    ("https://example.org/\x01\x85", "https://example.org/%01%C2%85"),
    ("https://example.org/ok", None),  # nothing to encode
    ("https://example.org/%zz", None),  # encoding the forbidden characters does not help
    ("https://example.org/\ud800", None),
])
def test_suggestion(text: str, suggestion) -> None:
    assert iri_suggestion(text) == suggestion


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=40), st.text(max_size=40).map(lambda t: "https://example.org/" + t)))
def test_whatever_is_accepted_the_store_and_serialisers_hold(text: str) -> None:
    """Nothing accepted can break a later build: an accepted IRI is a store term, and survives
    N-Quads out and back in."""
    if iri_error(text) is not None:
        return
    node = ox.NamedNode(text)
    quad = ox.Quad(node, node, node, ox.DefaultGraph())
    data = ox.serialize([quad], format=ox.RdfFormat.N_QUADS)
    assert list(ox.parse(data, format=ox.RdfFormat.N_QUADS)) == [quad]
