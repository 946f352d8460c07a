"""The codebook's typology rules (CODEBOOK.md, "Typology") written out by hand on purpose: the
independent oracle for the rules held as data in ontology/vocab/typology.ttl, used by the typology
and agreement tests."""

from __future__ import annotations

CODEBOOK_RULES = [
    ("listening", lambda cm, host, acts: cm == "one-way-inbound"),
    ("broadcasting", lambda cm, host, acts: cm == "one-way-outbound"),
    ("consumer-advocacy", lambda cm, host, acts: host == "consumers-community" and "advocacy" in acts),
    ("professional-movement", lambda cm, host, acts: host == "professionals" and "advocacy" in acts),
    ("co-design-space", lambda cm, host, acts: bool(acts & {"co-design", "collaborative-work"})),
    ("crowdsourcing", lambda cm, host, acts: "idea-generation" in acts),
    ("improvement-network", lambda cm, host, acts: "networking" in acts),
    ("consultation", lambda cm, host, acts: bool(acts & {"consultation", "priority-setting"})),
    ("feedback-seeking", lambda cm, host, acts: "feedback-collection" in acts),
]


def model_of(communication_model: str, host: str, activities: str) -> str:
    """The model of use the first matching rule gives a coding (``activities``: keys separated by ';')."""
    acts = {a.strip() for a in activities.split(";") if a.strip()}
    return next((k for k, rule in CODEBOOK_RULES if rule(communication_model, host, acts)), "unclassified")
