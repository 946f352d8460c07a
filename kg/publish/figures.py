"""SVG figures for the evidence report, drawn with matplotlib (Agg, object API, no pyplot state).

Every figure has a title and axis labels and is reproducible byte for byte: the SVG ids come from a
fixed ``svg.hashsalt``, the date is left out of the metadata, and the network layout uses a fixed
seed. Text is kept as SVG text (``svg.fonttype: none``) so labels stay sharp and searchable.
An empty input still gives a figure (with its title and a "no studies" note), never an error.
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")  # before any backend is touched: no display here, and none needed

from matplotlib.backends.backend_svg import FigureCanvasSVG  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

SEED = 42
RC = {
    "svg.hashsalt": "smqi-kg",
    "svg.fonttype": "none",
    "font.family": "DejaVu Sans",
    "font.size": 10,
    "axes.titlesize": 12,
    "axes.titleweight": "bold",
}
COLOURS = ("#2b6cb0", "#dd6b20", "#2f855a", "#9b2c2c", "#6b46c1", "#b7791f", "#2c7a7b")
CMAP = "Blues"
EMPTY = "No studies in this build"

__all__ = ["bar_chart", "column_chart", "heat_map", "network_figure", "EMPTY"]


def _svg(fig: Figure) -> str:
    buffer = io.StringIO()
    with matplotlib.rc_context(RC):
        FigureCanvasSVG(fig).print_svg(buffer, metadata={"Date": None})
    return buffer.getvalue()


def _figure(width: float, height: float) -> Figure:
    with matplotlib.rc_context(RC):
        return Figure(figsize=(width, height), layout="constrained")


def _empty(ax, title: str, xlabel: str, ylabel: str) -> None:
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.text(0.5, 0.5, EMPTY, ha="center", va="center", transform=ax.transAxes, color="#555555")


def bar_chart(labels: Sequence[str], series: Mapping[str, Sequence[int]], *, title: str,
              xlabel: str, ylabel: str) -> str:
    """Horizontal grouped bars (long category labels stay readable), first label at the top."""
    with matplotlib.rc_context(RC):
        fig = _figure(8, max(2.8, 0.36 * len(labels) * max(1, len(series)) ** 0.5 + 1.4))
        ax = fig.add_subplot()
        if not labels or not any(any(v) for v in series.values()):
            _empty(ax, title, xlabel, ylabel)
            return _svg(fig)
        height = 0.8 / max(1, len(series))
        for i, (name, values) in enumerate(series.items()):
            ys = [len(labels) - 1 - j + (len(series) - 1) / 2 * height - i * height
                  for j in range(len(labels))]
            bars = ax.barh(ys, values, height=height, label=name, color=COLOURS[i % len(COLOURS)])
            ax.bar_label(bars, padding=2, fontsize=8)
        ax.set_yticks(range(len(labels) - 1, -1, -1), labels)
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.margins(x=0.12)
        if len(series) > 1:
            ax.legend(loc="lower right", frameon=False)
        return _svg(fig)


def column_chart(labels: Sequence[str], values: Sequence[int], *, title: str, xlabel: str,
                 ylabel: str) -> str:
    """Vertical bars in the given order (years, income groups)."""
    with matplotlib.rc_context(RC):
        fig = _figure(8, 3.4)
        ax = fig.add_subplot()
        if not labels or not any(values):
            _empty(ax, title, xlabel, ylabel)
            return _svg(fig)
        bars = ax.bar(range(len(labels)), values, color=COLOURS[0])
        ax.bar_label(bars, padding=2, fontsize=8)
        ax.set_xticks(range(len(labels)), labels, rotation=45 if len(labels) > 8 else 0,
                      ha="right" if len(labels) > 8 else "center")
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.margins(y=0.15)
        return _svg(fig)


def heat_map(rows: Sequence[str], columns: Sequence[str], matrix: Sequence[Sequence[int]], *,
             title: str, xlabel: str, ylabel: str) -> str:
    """A count matrix as shaded cells with the count written in each non-empty cell."""
    with matplotlib.rc_context(RC):
        fig = _figure(max(6.0, 1.0 * len(columns) + 3.5), max(3.0, 0.42 * len(rows) + 2.8))
        ax = fig.add_subplot()
        peak = max((v for r in matrix for v in r), default=0)
        if not rows or not columns or peak == 0:
            _empty(ax, title, xlabel, ylabel)
            return _svg(fig)
        image = ax.imshow(matrix, cmap=CMAP, vmin=0, vmax=peak, aspect="auto")
        for i, row in enumerate(matrix):
            for j, value in enumerate(row):
                if value:
                    ax.text(j, i, str(value), ha="center", va="center", fontsize=8,
                            color="white" if value > peak / 2 else "black")
        ax.set_xticks(range(len(columns)), [textwrap.fill(c, 14) for c in columns], fontsize=8)
        ax.set_yticks(range(len(rows)), rows)
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        fig.colorbar(image, ax=ax, label="uses", shrink=0.8)
        return _svg(fig)


def network_figure(graph, *, title: str, label_top: int = 26, dimension_names: Mapping[str, str]
                   | None = None) -> str:
    """The feature co-occurrence graph: spring layout (seed 42), node size by uses, colour by
    dimension, edge width by co-occurring uses; only the ``label_top`` strongest nodes are labelled,
    so labels do not pile up."""
    import networkx as nx

    names = dict(dimension_names or {})
    with matplotlib.rc_context(RC):
        fig = _figure(9, 7.5)
        ax = fig.add_subplot()
        if graph.number_of_nodes() == 0:
            _empty(ax, title, "", "")
            return _svg(fig)
        # Nodes and edges are in sorted order already (kg.derive.network), so the layout is reproducible.
        # The layout pulls by log(1 + weight): raw counts drag every hub into one unreadable knot.
        layout = nx.Graph()
        layout.add_nodes_from(graph)
        layout.add_edges_from((u, v, {"pull": math.log1p(w)}) for u, v, w in graph.edges(data="weight"))
        pos = nx.spring_layout(layout, weight="pull", seed=SEED, iterations=300,
                               k=3.0 / math.sqrt(graph.number_of_nodes()))
        kinds = sorted({kind for _, kind in graph.nodes(data="kind")})
        colour = {kind: COLOURS[i % len(COLOURS)] for i, kind in enumerate(kinds)}
        peak_w = max((w for _, _, w in graph.edges(data="weight")), default=1)
        for u, v, w in graph.edges(data="weight"):
            (x1, y1), (x2, y2) = pos[u], pos[v]
            ax.plot([x1, x2], [y1, y2], color="#999999", alpha=0.15 + 0.5 * w / peak_w,
                    linewidth=0.4 + 3 * w / peak_w, zorder=1)
        for kind in kinds:
            nodes = [n for n, k in graph.nodes(data="kind") if k == kind]
            ax.scatter([pos[n][0] for n in nodes], [pos[n][1] for n in nodes],
                       s=[30 + 14 * graph.nodes[n].get("uses", 1) for n in nodes], color=colour[kind],
                       edgecolors="white", linewidths=0.8, label=names.get(kind, kind), zorder=2)
        strength = dict(graph.degree(weight="weight"))
        for node in sorted(graph, key=lambda n: (-strength[n], n))[:label_top]:
            x, y = pos[node]
            ax.annotate(graph.nodes[node].get("label", node), (x, y), xytext=(4, 4),
                        textcoords="offset points", fontsize=8, zorder=3,
                        bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.75})
        ax.set_title(title)
        ax.set_xlabel("spring layout (seed 42): position has no scale; nearby features co-occur often")
        ax.set_ylabel("")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.legend(loc="lower left", fontsize=8, frameon=True, title="dimension", title_fontsize=8)
        return _svg(fig)
