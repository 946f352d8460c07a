"""The one check of a value that is to become an IRI (RFC 3987), made where the value enters.

Every value a sheet or an entry turns into an IRI (``source_url``, the DOI resolver address of a DOI,
any IRI written in a Turtle or JSON-LD entry) passes :func:`iri_error` before it is accepted, so that
nothing accepted can break a later build. An IRI here:

- holds no space, none of ``< > " { } | \\ ^ ` `` and no control character (U+0000–U+001F,
  U+007F–U+009F), no surrogate code point;
- writes ``%`` only as the start of a percent-encoded byte (``%`` and two hex digits);
- starts with a scheme (a letter, then letters, digits, ``+ - .``, then ``:``);
- for ``http`` and ``https``: has ``//`` and a non-empty host (the sheets only warn about an empty
  host, ``https:///…``: one real address of the shipped sheet is written so);
- is accepted by the store's own IRI parser (pyoxigraph, which follows RFC 3987), the last word.

:func:`iri_suggestion` percent-encodes what can be encoded (spaces, the forbidden characters and
control characters), for the "did you mean" of a message.
"""

from __future__ import annotations

import re

__all__ = ["FORBIDDEN", "iri_error", "iri_suggestion"]

FORBIDDEN = frozenset(' <>"{}|\\^`')  # beyond control characters: what RFC 3987 leaves out of every IRI
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_BAD_CHAR = re.compile('[\\x00-\\x20<>"{}|\\\\^`\\x7f-\\x9f\\ud800-\\udfff]')
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_HTTP = ("http", "https")


def _control(ch: str) -> bool:
    code = ord(ch)
    return code < 0x20 or 0x7F <= code <= 0x9F or 0xD800 <= code <= 0xDFFF


def _describe(ch: str) -> str:
    if ch == " ":
        return "a space"
    if 0xD800 <= ord(ch) <= 0xDFFF:
        return f"the surrogate code point U+{ord(ch):04X} (not a character)"
    if _control(ch):
        return f"the control character U+{ord(ch):04X}"
    return f"the character {ch!r}"


def iri_error(text: str, *, http_only: bool = False, host_required: bool = True) -> str | None:
    """Why ``text`` is not an IRI the graph can hold (a clause such as ``"it holds a space"``), or
    None when it is one. ``http_only``: also refuse every scheme but http and https.
    ``host_required=False`` lets ``http:///path`` (an empty host, valid RFC 3987) through: the shipped
    sheet holds one such real address, which the sheets warn about instead."""
    if not text:
        return "it is empty"
    bad_char = _BAD_CHAR.search(text)
    if bad_char:
        ch = bad_char.group()
        hint = "" if 0xD800 <= ord(ch) <= 0xDFFF else " (percent-encode it)"
        return f"it holds {_describe(ch)}, which no IRI may hold{hint}"
    bad = _BAD_PERCENT.search(text)
    if bad:
        return f"it holds a '%' at character {bad.start() + 1} that is not followed by two hex digits (write %25)"
    scheme = _SCHEME.match(text)
    if not scheme:
        return "it has no scheme (an IRI starts with one, such as https:)"
    name = scheme.group()[:-1].lower()
    if http_only and name not in _HTTP:
        return "it must be an http(s) address"
    if name in _HTTP:
        rest = text[scheme.end():]
        if not rest.startswith("//"):
            return f"an {name} address needs '//' and a host after '{name}:'"
        authority = re.split(r"[/?#]", rest[2:], maxsplit=1)[0]
        host = authority.rpartition("@")[2]
        host = host if host.startswith("[") else re.sub(r":[0-9]*$", "", host)
        if not host and host_required:
            return f"an {name} address needs a host ({name}://host/…)"
    import pyoxigraph as ox

    try:
        ox.NamedNode(text)
    except ValueError as exc:
        return f"it is not an IRI ({exc})"
    return None


def iri_suggestion(text: str) -> str | None:
    """``text`` with spaces, forbidden and control characters percent-encoded, when that makes it an
    IRI; else None."""
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in text):
        return None
    fixed = "".join("".join(f"%{b:02X}" for b in ch.encode("utf-8"))
                    if ch in FORBIDDEN or _control(ch) else ch for ch in text)
    if fixed == text or iri_error(fixed) is not None:
        return None
    return fixed
