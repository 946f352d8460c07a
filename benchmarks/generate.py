"""Seeded generator of SYNTHETIC evidence sheets for the scale benchmark. Not data: never copy into data/.

Every value is drawn from the real sheets' frequencies (data/studies.csv, data/uses.csv): year,
countries, design, the number of codes per list field and each code, 1-3 uses per study (the real
distribution, clipped). Keys are checked against the vocabularies (ontology/vocab/*.ttl), so the
output validates. Synthetic records say so everywhere: study ids ``synth<letters><year>`` (the
study_id pattern needs letters then a year), titles and summaries "SYNTHETIC", DOIs under the
10.5555 test prefix, source URLs on example.org. The same seed gives the same bytes.

    python benchmarks/generate.py --studies 10000 --out benchmarks/out/10k [--seed 6]
"""

from __future__ import annotations

import argparse
import csv
import random
import string
import sys
from collections import Counter
from pathlib import Path

from kg.model import resources
from kg.io.sheets import STUDY_COLUMNS, USE_CODED, USE_COLUMNS
from kg.model.vocabularies import default_vocabulary

MULTI = {col for col, (_s, _p, multi) in USE_CODED.items() if multi}


def _rows(name: str) -> list[dict[str, str]]:
    with (resources.data_dir() / name).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


class Distribution:
    """Values and weights in a fixed (sorted) order, so draws depend only on the seed."""

    def __init__(self, values):
        counts = Counter(values)
        self.values = sorted(counts)
        self.weights = [counts[v] for v in self.values]

    def draw(self, rng: random.Random):
        return rng.choices(self.values, self.weights)[0]


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(";") if v.strip()]


def model() -> dict:
    """Distributions read from the real sheets, restricted to keys the vocabularies know."""
    vocab = default_vocabulary()
    studies, uses = _rows("studies.csv"), _rows("uses.csv")
    per_study = Counter(u["study_id"] for u in uses)
    dist: dict = {
        "year": Distribution(s["year"] for s in studies),
        "design": Distribution(s["design"] for s in studies),
        "n_countries": Distribution(len(_split(s["countries"])) for s in studies),
        "country": Distribution(c for s in studies for c in _split(s["countries"])
                                if c == "XX" or vocab.concept("country", c)),
        "n_uses": Distribution(min(3, max(1, per_study[s["study_id"]])) for s in studies),
        "confidence": Distribution(u["confidence"] for u in uses if u["confidence"]),
    }
    for col, (slug, _p, _m) in USE_CODED.items():
        dist[col] = Distribution(k for u in uses for k in _split(u[col]) if vocab.concept(slug, k))
        dist[f"n_{col}"] = Distribution(len(_split(u[col])) for u in uses)
    return dist


def _letters(index: int, width: int = 5) -> str:
    out = []
    for _ in range(width):
        index, r = divmod(index, 26)
        out.append(string.ascii_lowercase[r])
    return "".join(reversed(out))


def _draw_set(rng: random.Random, dist: Distribution, n: int) -> list[str]:
    chosen: list[str] = []
    for _ in range(50):
        if len(chosen) >= min(n, len(dist.values)):
            break
        value = dist.draw(rng)
        if value not in chosen:
            chosen.append(value)
    return chosen


def generate(n_studies: int, out: Path, seed: int = 6) -> tuple[int, int]:
    """Write studies.csv and uses.csv for ``n_studies`` synthetic studies; returns (studies, uses)."""
    rng = random.Random(seed)
    dist = model()
    out.mkdir(parents=True, exist_ok=True)
    n_uses = 0
    with (out / "studies.csv").open("w", newline="", encoding="utf-8") as sf, \
            (out / "uses.csv").open("w", newline="", encoding="utf-8") as uf:
        studies = csv.writer(sf, lineterminator="\n")
        uses = csv.writer(uf, lineterminator="\n")
        studies.writerow(STUDY_COLUMNS)
        uses.writerow(USE_COLUMNS)
        for i in range(1, n_studies + 1):
            year = dist["year"].draw(rng)
            sid = f"synth{_letters(i)}{year}"
            countries = _draw_set(rng, dist["country"], dist["n_countries"].draw(rng))
            if "XX" in countries:
                countries = ["XX"]
            studies.writerow([
                sid, "Synthetic", "Synthetic A; Synthetic B", year, f"SYNTHETIC study {i:06d} (benchmark only)",
                "Synthetic Journal", f"10.5555/synth.{i:06d}", "", ";".join(countries),
                dist["design"].draw(rng), f"https://example.org/synthetic/{i:06d}",
                "SYNTHETIC record generated for the scale benchmark; not a real study.",
            ])
            for no in range(1, dist["n_uses"].draw(rng) + 1):
                n_uses += 1
                row = {"study_id": sid, "use_no": str(no), "note": "SYNTHETIC",
                       "confidence": dist["confidence"].draw(rng)}
                for col in USE_CODED:
                    n = dist[f"n_{col}"].draw(rng) if col in MULTI else 1
                    row[col] = ";".join(_draw_set(rng, dist[col], n))
                uses.writerow([row[c] for c in USE_COLUMNS])
    return n_studies, n_uses


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=6)
    args = parser.parse_args(argv)
    if (Path(args.out).resolve() / "x").is_relative_to(resources.data_dir().resolve()):
        parser.error("refusing to write synthetic sheets into data/")
    studies, uses = generate(args.studies, args.out, args.seed)
    print(f"wrote {studies} SYNTHETIC studies and {uses} uses to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
