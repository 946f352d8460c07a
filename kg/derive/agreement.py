"""Inter-coder agreement, computed by SPARQL over the graph's own codings.

Every use of ``data/codings.csv`` was coded twice, blind, before adjudication; the graph holds each
coding as a ``smqi:Coding`` node (named graph ``…/graph/codings``) linked to the consensus use it was
adjudicated into, and the typology's rules give each coding a model of use too (derived graph). The
named queries of ``queries/agreement/`` compute the figures; this module runs them, names the
dimensions as the codebook does and shapes the result for ``smqi agreement``, ``summary.json``, the
report and ``smqi diff``:

- single-valued dimensions (communication model, host, model of use, with ``unclassified`` as a
  category): observed agreement and Cohen's kappa (undefined, not a number, when chance agreement is 1);
- multi-valued dimensions (platforms, user populations, QI activities, QI stages): exact agreement (the
  same set of keys) and the mean Jaccard index;
- the disagreements behind the figures: per use and dimension, both coders' keys and the consensus.

A subset (a list of study ids, say one round of data/METHODS.md) restricts every figure to the uses of
those studies; it reaches the queries as a parameter, never as query text.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import pyoxigraph as ox

from kg.model.errors import UsageError
from kg.model.namespaces import SMQI

__all__ = ["DIMENSIONS", "Figure", "Disagreement", "Agreement", "agreement", "has_codings", "rounded",
           "parse_subset"]

# ontology property -> (codebook dimension, kind), in the order figures are shown
DIMENSIONS: dict[str, tuple[str, str]] = {
    str(SMQI.communicationModel): ("communication_model", "single"),
    str(SMQI.host): ("host", "single"),
    str(SMQI.modelOfUse): ("model_of_use", "single"),
    str(SMQI.platform): ("platform", "multi"),
    str(SMQI.userPopulation): ("user_population", "multi"),
    str(SMQI.qiActivity): ("qi_activity", "multi"),
    str(SMQI.qiStage): ("qi_stage", "multi"),
}
_ORDER = {name: i for i, (name, _kind) in enumerate(DIMENSIONS.values())}
_CODER = "https://w3id.org/smqi/kg/coder/"


def rounded(value: Decimal | None, places: int = 3) -> float | None:
    """``value`` rounded half up to ``places`` decimals (Oxigraph's decimals are exact to 18 places, so
    a mean such as 0.875 may come back as 0.874999…: it is first rounded to 12 places)."""
    if value is None:
        return None
    steady = value.quantize(Decimal("1e-12"), rounding=ROUND_HALF_UP)
    return float(steady.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class Figure:
    """One dimension's agreement between two coders. ``agreements`` counts uses where both gave the same
    key (single-valued) or the same set of keys (multi-valued); ``observed`` is its share of ``uses``.
    ``chance`` and ``kappa`` are for single-valued dimensions (``kappa`` None: undefined), ``mean_jaccard``
    for multi-valued ones. Values are exact decimals as SPARQL computed them."""

    dimension: str
    kind: str
    coder1: str
    coder2: str
    uses: int
    agreements: int
    observed: Decimal | None
    chance: Decimal | None = None
    kappa: Decimal | None = None
    mean_jaccard: Decimal | None = None

    def as_json(self) -> dict:
        """Plain JSON values, rounded to 4 decimals (None stays None: undefined)."""
        return {"dimension": self.dimension, "kind": self.kind, "coders": [self.coder1, self.coder2],
                "uses": self.uses, "agreements": self.agreements, "observed": rounded(self.observed, 4),
                "chance": rounded(self.chance, 4), "kappa": rounded(self.kappa, 4),
                "mean_jaccard": rounded(self.mean_jaccard, 4)}


@dataclass(frozen=True)
class Disagreement:
    """A use and dimension on which the two coders differ: their keys and the consensus (sorted)."""

    study_id: str
    use_no: int
    dimension: str
    coder1: tuple[str, ...]
    coder2: tuple[str, ...]
    consensus: tuple[str, ...]

    @property
    def use(self) -> str:
        return f"{self.study_id}-{self.use_no}"


@dataclass
class Agreement:
    """Every figure and disagreement, over all coded uses or over the uses of ``subset``'s studies."""

    figures: list[Figure] = field(default_factory=list)
    disagreements: list[Disagreement] = field(default_factory=list)
    subset: list[str] | None = None

    @property
    def coded_uses(self) -> int:
        return max((f.uses for f in self.figures), default=0)

    def figure(self, dimension: str) -> Figure | None:
        return next((f for f in self.figures if f.dimension == dimension), None)

    def as_json(self) -> dict:
        """The figures and disagreements as plain JSON (for ``--format json`` and ``summary.json``)."""
        return {"subset": self.subset, "coded_uses": self.coded_uses,
                "figures": [f.as_json() for f in self.figures],
                "disagreements": [
                    {**asdict(d), "use": d.use, "coder1": list(d.coder1), "coder2": list(d.coder2),
                     "consensus": list(d.consensus)} for d in self.disagreements]}

    def to_json(self) -> str:
        return json.dumps(self.as_json(), indent=2, ensure_ascii=False) + "\n"

    def to_csv(self) -> str:
        """One row per figure (W3C-style plain CSV: empty where a figure does not apply or is undefined)."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["dimension", "kind", "coder1", "coder2", "uses", "agreements", "observed", "chance",
                         "kappa", "mean_jaccard"])
        for f in self.figures:
            j = f.as_json()
            writer.writerow([f.dimension, f.kind, f.coder1, f.coder2, f.uses, f.agreements,
                             *("" if j[k] is None else j[k] for k in ("observed", "chance", "kappa", "mean_jaccard"))])
        return out.getvalue()

    def to_text(self, show_disagreements: bool = False) -> str:
        """An aligned table of the figures (and, with ``show_disagreements``, every disagreement)."""
        if not self.figures:
            scope = "the listed studies" if self.subset else "this graph"
            return (f"No use of {scope} was coded twice: agreement needs two independent codings of a use "
                    "(codings.csv in the data folder).\n")
        coders = sorted({(f.coder1, f.coder2) for f in self.figures})
        scope = f"the {len(self.subset)} listed studies" if self.subset else "all coded uses"
        lines = [f"Agreement of the independent codings before adjudication ({', '.join(f'{a} vs {b}' for a, b in coders)}), "
                 f"over {scope}: {self.coded_uses} uses.",
                 "(The evidence is an independent extraction, not the review's own list of 40 studies.)", ""]
        header = ["dimension", "kind", "uses", "agreement", "kappa", "mean Jaccard"]
        rows = []
        for f in self.figures:
            share = rounded(f.observed, 3)
            agreement_text = f"{f.agreements}/{f.uses} ({share:.1%})" if share is not None else "-"
            if f.kind == "multi":
                agreement_text = f"{agreement_text} exact"
            kappa = ("undefined" if f.kappa is None else f"{rounded(f.kappa, 3):.3f}") if f.kind == "single" else ""
            jaccard = f"{rounded(f.mean_jaccard, 3):.3f}" if f.mean_jaccard is not None else ""
            rows.append([f.dimension, "single-valued" if f.kind == "single" else "multi-valued", str(f.uses),
                         agreement_text, kappa, jaccard])
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        right = {2}
        for r in [header, ["-" * w for w in widths], *rows]:
            lines.append("  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths)))
                         .rstrip())
        lines += ["", "kappa: Cohen's kappa (undefined when chance agreement is 1); model_of_use: the model the "
                  "typology's rules give each coder's codes, 'unclassified' counting as a category.",
                  f"{len(self.disagreements)} disagreements (use × dimension)"
                  + (":" if show_disagreements and self.disagreements else
                     "; list them with --disagreements." if self.disagreements else ".")]
        if show_disagreements:
            for d in self.disagreements:
                lines.append(f"  {d.use} {d.dimension}: {coders[0][0]} {';'.join(d.coder1) or 'unclassified'} | "
                             f"{coders[0][1]} {';'.join(d.coder2) or 'unclassified'} | "
                             f"consensus {';'.join(d.consensus) or 'unclassified'}")
        return "\n".join(lines) + "\n"


def parse_subset(text: str, known: Sequence[str]) -> list[str]:
    """Study ids from ``text`` (separated by commas, semicolons, spaces or new lines), each one a study of
    the graph (``known``); UsageError names any other, with a suggestion."""
    import difflib
    import re

    ids = [part for part in re.split(r"[\s,;]+", text) if part]
    if not ids:
        raise UsageError("--studies: give at least one study id (e.g. --studies ahne2020,baines2018)")
    known_set = set(known)
    unknown = [i for i in ids if i not in known_set]
    if unknown:
        hints = []
        for i in unknown[:5]:
            close = difflib.get_close_matches(i, sorted(known_set), n=1, cutoff=0.7)
            hints.append(f"{i!r}" + (f" (did you mean {close[0]}?)" if close else ""))
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        raise UsageError(f"--studies: not a study of this graph: {', '.join(hints)}{more}. "
                         "Study ids are the study_id column of studies.csv.")
    return sorted(set(ids))


def _decimal(term) -> Decimal | None:
    if term is None:
        return None
    try:
        return Decimal(term.value)
    except InvalidOperation:
        return None


def _coder(iri: str) -> str:
    return iri[len(_CODER):] if iri.startswith(_CODER) else iri


def has_codings(store: ox.Store) -> bool:
    """Whether ``store`` holds any coding (one ASK): without one there is no agreement to compute."""
    return bool(store.query(f"ASK {{ ?c <{SMQI.adjudicatedInto}> ?u }}", use_default_graph_as_union=True))


def agreement(store: ox.Store, studies: Sequence[str] | None = None) -> Agreement:
    """The agreement figures and disagreements of the codings in ``store`` (a built store: the typology
    has given the codings their models), over all coded uses or the uses of ``studies``."""
    from kg.io.queries import load_query
    from kg.io.store import select_store

    bindings = {"subset": ox.Literal(" ".join(studies))} if studies else {}
    result = Agreement(subset=list(studies) if studies else None)
    for name in ("agreement-single", "agreement-multi"):
        for row in select_store(store, load_query(name), bindings):
            dimension, kind = DIMENSIONS[row["dimension"].value]
            uses = int(row["uses"].value)
            if uses == 0:
                continue
            common = dict(dimension=dimension, kind=kind, coder1=_coder(row["coder1"].value),
                          coder2=_coder(row["coder2"].value), uses=uses)
            if kind == "single":
                result.figures.append(Figure(**common, agreements=int(row["agreements"].value),
                                             observed=_decimal(row["observed"]), chance=_decimal(row["chance"]),
                                             kappa=_decimal(row["kappa"])))
            else:
                result.figures.append(Figure(**common, agreements=int(row["exactAgreements"].value),
                                             observed=_decimal(row["exact"]),
                                             mean_jaccard=_decimal(row["meanJaccard"])))
    result.figures.sort(key=lambda f: (_ORDER[f.dimension], f.coder1, f.coder2))
    keys: dict[tuple[str, int, str], dict[str, list[str]]] = {}
    for row in select_store(store, load_query("agreement-disagreements"), bindings):
        dimension = DIMENSIONS[row["dimension"].value][0]
        at = (row["studyId"].value, int(row["useNo"].value), dimension)
        keys.setdefault(at, {"coder1": [], "coder2": [], "consensus": []})[row["source"].value].append(
            row["key"].value)
    result.disagreements = [
        Disagreement(study, number, dimension, *(tuple(sorted(found[s])) for s in ("coder1", "coder2", "consensus")))
        for (study, number, dimension), found in sorted(keys.items(), key=lambda kv: (kv[0][0], kv[0][1],
                                                                                       _ORDER[kv[0][2]]))]
    return result
