"""SVG figures for the evidence report, written as SVG text (no plotting library).

Bar charts, column charts, heat maps and the feature network are simple shapes; writing them
directly keeps a build fast (no plotting library to import or lay out) and the files small,
readable and reproducible byte for byte (no ids, no dates; the network layout uses a fixed seed).
Every figure has a ``<title>`` and a ``<desc>`` (a text alternative naming each value), axis labels,
and text as SVG text. An empty input still gives a figure (its title and a "no studies" note).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape

__all__ = ["bar_chart", "column_chart", "heat_map", "network_figure", "network_order", "description", "EMPTY",
           "SEED", "COLOURS"]

SEED = 42
COLOURS = ("#2b6cb0", "#dd6b20", "#2f855a", "#9b2c2c", "#6b46c1", "#b7791f", "#2c7a7b")
EMPTY = "No studies in this build"
FONT = "DejaVu Sans, Verdana, sans-serif"
CHAR = 6.2  # average width of a 10 px character, for laying out labels


def _text(x: float, y: float, text: str, *, size: int = 10, anchor: str = "start", weight: str = "normal",
          fill: str = "#222222", rotate: float | None = None) -> str:
    turn = f' transform="rotate({rotate:g} {x:.1f} {y:.1f})"' if rotate is not None else ""
    bold = ' font-weight="bold"' if weight != "normal" else ""
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{fill}"{bold}{turn}>'
            f"{escape(text)}</text>")


def _svg(width: float, height: float, title: str, desc: str, body: list[str]) -> str:
    head = (f'<?xml version="1.0" encoding="utf-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" '
            f'width="{width:.0f}" height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" role="img" '
            f'font-family="{FONT}">\n<title>{escape(title)}</title>\n<desc>{escape(desc)}</desc>\n'
            f'<rect width="100%" height="100%" fill="white"/>\n')
    return head + "\n".join(body) + "\n</svg>\n"


def _empty(width: float, height: float, title: str) -> str:
    return _svg(width, height, title, EMPTY, [_text(width / 2, 24, title, size=13, anchor="middle", weight="bold"),
                                             _text(width / 2, height / 2, EMPTY, anchor="middle", fill="#555555")])


def _ticks(peak: int) -> list[int]:
    """Whole-number axis ticks from 0 to at least ``peak``, a step of 1, 2 or 5 × 10^k (at most six)."""
    if not peak:
        return [0, 1]
    step = 1
    while math.ceil(peak / step) > 5:
        for factor in (2, 2.5, 2):  # 1 → 2 → 5 → 10 → 20 …
            step = int(step * factor)
            if math.ceil(peak / step) <= 5:
                break
    return list(range(0, math.ceil(peak / step) * step + step, step))


def bar_chart(labels: Sequence[str], series: Mapping[str, Sequence[int]], *, title: str,
              xlabel: str, ylabel: str) -> str:
    """Horizontal grouped bars (long category labels stay readable), first label at the top."""
    names = list(series)
    width, row = 760.0, 14.0 * max(1, len(names)) + 10
    left = min(340.0, 16 + CHAR * max((len(label) for label in labels), default=4))
    height = 70 + row * len(labels) + 50 + (18 if len(names) > 1 else 0)
    if not labels or not any(any(v) for v in series.values()):
        return _empty(width, 200, title)
    peak = max(max(v) for v in series.values())
    ticks = _ticks(peak)
    plot_w = width - left - 50
    scale = plot_w / ticks[-1]
    top = 44.0
    body = [_text(width / 2, 24, title, size=13, anchor="middle", weight="bold")]
    for t in ticks:
        x = left + t * scale
        body.append(f'<line x1="{x:.1f}" y1="{top:.1f}" x2="{x:.1f}" y2="{top + row * len(labels):.1f}" '
                    'stroke="#e2e2e2"/>')
        body.append(_text(x, top + row * len(labels) + 14, str(t), size=9, anchor="middle", fill="#555555"))
    bar_h = (row - 10) / max(1, len(names))
    desc = []
    for j, label in enumerate(labels):
        y0 = top + j * row + 5
        body.append(_text(left - 6, y0 + (row - 10) / 2 + 4, label, anchor="end"))
        parts = []
        for i, name in enumerate(names):
            value = series[name][j]
            y = y0 + i * bar_h
            body.append(f'<rect x="{left:.1f}" y="{y:.1f}" width="{value * scale:.1f}" height="{bar_h - 1:.1f}" '
                        f'fill="{COLOURS[i % len(COLOURS)]}"><title>{escape(label)}: {value} {escape(name)}</title></rect>')
            body.append(_text(left + value * scale + 3, y + bar_h - 2, str(value), size=8))
            parts.append(f"{value} {name}")
        desc.append(f"{label}: {', '.join(parts)}")
    axis_y = top + row * len(labels) + 32
    body.append(_text(left + plot_w / 2, axis_y, xlabel, anchor="middle"))
    body.append(_text(14, top + row * len(labels) / 2, ylabel, anchor="middle", rotate=-90))
    if len(names) > 1:
        x = left
        for i, name in enumerate(names):
            body.append(f'<rect x="{x:.1f}" y="{axis_y + 10:.1f}" width="10" height="10" fill="{COLOURS[i % len(COLOURS)]}"/>')
            body.append(_text(x + 14, axis_y + 19, name, size=9))
            x += 24 + CHAR * len(name)
    return _svg(width, height, title, "; ".join(desc), body)


def column_chart(labels: Sequence[str], values: Sequence[int], *, title: str, xlabel: str,
                 ylabel: str) -> str:
    """Vertical bars in the given order (years, income groups)."""
    if not labels or not any(values):
        return _empty(760, 200, title)
    slanted = len(labels) > 8
    label_room = (CHAR * max(len(label) for label in labels) * 0.75 if slanted else 16) + 10
    width = max(760.0, 70 + 26.0 * len(labels))
    plot_h, top, left = 220.0, 44.0, 56.0
    height = top + plot_h + label_room + 36
    ticks = _ticks(max(values))
    scale = plot_h / ticks[-1]
    col = (width - left - 20) / len(labels)
    body = [_text(width / 2, 24, title, size=13, anchor="middle", weight="bold")]
    for t in ticks:
        y = top + plot_h - t * scale
        body.append(f'<line x1="{left:.1f}" y1="{y:.1f}" x2="{width - 20:.1f}" y2="{y:.1f}" stroke="#e2e2e2"/>')
        body.append(_text(left - 6, y + 3, str(t), size=9, anchor="end", fill="#555555"))
    for j, (label, value) in enumerate(zip(labels, values)):
        x = left + j * col + col * 0.15
        y = top + plot_h - value * scale
        body.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{col * 0.7:.1f}" height="{value * scale:.1f}" '
                    f'fill="{COLOURS[0]}"><title>{escape(label)}: {value}</title></rect>')
        if value:
            body.append(_text(x + col * 0.35, y - 3, str(value), size=8, anchor="middle"))
        lx, ly = x + col * 0.35, top + plot_h + 14
        body.append(_text(lx, ly, label, size=9, anchor="end" if slanted else "middle",
                          rotate=-45 if slanted else None))
    body.append(_text(left + (width - left - 20) / 2, height - 10, xlabel, anchor="middle"))
    body.append(_text(14, top + plot_h / 2, ylabel, anchor="middle", rotate=-90))
    desc = "; ".join(f"{label}: {value}" for label, value in zip(labels, values))
    return _svg(width, height, title, desc, body)


def _shade(value: int, peak: int) -> str:
    """White to dark blue by value / peak."""
    share = value / peak if peak else 0
    low, high = (247, 251, 255), (8, 48, 107)
    r, g, b = (round(lo + (hi - lo) * share) for lo, hi in zip(low, high))
    return f"#{r:02x}{g:02x}{b:02x}"


def heat_map(rows: Sequence[str], columns: Sequence[str], matrix: Sequence[Sequence[int]], *,
             title: str, xlabel: str, ylabel: str) -> str:
    """A count matrix as shaded cells with the count written in each non-empty cell."""
    peak = max((v for r in matrix for v in r), default=0)
    if not rows or not columns or peak == 0:
        return _empty(760, 200, title)
    left = min(300.0, 20 + CHAR * max(len(r) for r in rows))
    cell_w, cell_h, top = 64.0, 24.0, 44.0
    head_room = min(150.0, 10 + CHAR * 0.75 * max(len(c) for c in columns))
    width = left + cell_w * len(columns) + 30
    height = top + head_room + cell_h * len(rows) + 40
    body = [_text(width / 2, 24, title, size=13, anchor="middle", weight="bold")]
    grid_top = top + head_room
    for j, column in enumerate(columns):
        x = left + j * cell_w + cell_w / 2
        body.append(_text(x, grid_top - 6, column, size=9, rotate=-40))
    desc = []
    for i, (row, values) in enumerate(zip(rows, matrix)):
        y = grid_top + i * cell_h
        body.append(_text(left - 6, y + cell_h / 2 + 4, row, anchor="end"))
        for j, value in enumerate(values):
            x = left + j * cell_w
            body.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{cell_w - 1:.1f}" height="{cell_h - 1:.1f}" '
                        f'fill="{_shade(value, peak)}"><title>{escape(row)} × {escape(columns[j])}: {value}</title></rect>')
            if value:
                body.append(_text(x + cell_w / 2, y + cell_h / 2 + 4, str(value), size=9, anchor="middle",
                                  fill="white" if value > peak / 2 else "#111111"))
                desc.append(f"{row} × {columns[j]}: {value}")
    body.append(_text(left + cell_w * len(columns) / 2, height - 10, xlabel, anchor="middle"))
    body.append(_text(14, grid_top + cell_h * len(rows) / 2, ylabel, anchor="middle", rotate=-90))
    return _svg(width, height, title, "; ".join(desc) or EMPTY, body)


def network_order(graph) -> list:
    """The nodes of the co-occurrence graph, strongest first (weighted degree, then id): node ``i`` of
    this list is numbered ``i + 1`` in the network figure and in the report's table of nodes."""
    strength = dict(graph.degree(weight="weight"))
    return sorted(graph, key=lambda n: (-strength[n], str(n)))


def _spread(values: Sequence[float]) -> list[float]:
    """0..1 positions, half the spring layout's own scale and half its rank order: the dense core of a
    spring layout is pulled apart while the order of the nodes along the axis stays the same."""
    lo, hi = min(values), max(values)
    ranks = {i: r for r, i in enumerate(sorted(range(len(values)), key=lambda i: (values[i], i)))}
    last = max(1, len(values) - 1)
    return [0.5 * ((v - lo) / (hi - lo) if hi > lo else 0.5) + 0.5 * ranks[i] / last for i, v in enumerate(values)]


def _overlaps(box: tuple[float, float, float, float], boxes: Sequence[tuple[float, float, float, float]]) -> bool:
    return any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in boxes)


def network_figure(graph, *, title: str, dimension_names: Mapping[str, str] | None = None) -> str:
    """The feature co-occurrence graph: spring layout (seed 42, its dense core spread by rank), node
    size by uses, colour by dimension, edge width by co-occurring uses. Every node is labelled: with its
    name where that fits beside it without touching another label or node, otherwise with its number
    in :func:`network_order` (the report's table of nodes gives every number's name)."""
    import networkx as nx

    names = dict(dimension_names or {})
    width, height, margin, top, bottom = 960.0, 760.0, 16.0, 40.0, 40.0
    if graph.number_of_nodes() == 0:
        return _empty(width, 200, title)
    # Nodes and edges are in sorted order already (kg.derive.network), so the layout is reproducible.
    # The layout pulls by log(1 + weight): raw counts drag every hub into one unreadable knot.
    layout = nx.Graph()
    layout.add_nodes_from(graph)
    layout.add_edges_from((u, v, {"pull": math.log1p(w)}) for u, v, w in graph.edges(data="weight"))
    pos = nx.spring_layout(layout, weight="pull", seed=SEED, iterations=300,
                           k=3.0 / math.sqrt(graph.number_of_nodes()))
    nodes = list(pos)
    fx, fy = _spread([pos[n][0] for n in nodes]), _spread([pos[n][1] for n in nodes])
    inner_w, inner_h = width - 2 * margin - 160, height - top - bottom - 30
    at = {n: (margin + 80 + fx[i] * inner_w, top + 15 + fy[i] * inner_h) for i, n in enumerate(nodes)}

    kinds = sorted({kind for _, kind in graph.nodes(data="kind")})
    colour = {kind: COLOURS[i % len(COLOURS)] for i, kind in enumerate(kinds)}
    peak_w = max((w for _, _, w in graph.edges(data="weight")), default=1)
    body = [_text(width / 2, 24, title, size=13, anchor="middle", weight="bold")]
    for u, v, w in graph.edges(data="weight"):
        (ax, ay), (bx, by) = at[u], at[v]
        body.append(f'<line x1="{ax:.1f}" y1="{ay:.1f}" x2="{bx:.1f}" y2="{by:.1f}" stroke="#999999" '
                    f'stroke-opacity="{0.12 + 0.45 * w / peak_w:.2f}" stroke-width="{0.4 + 3 * w / peak_w:.2f}"/>')
    radius = {n: 3 + 1.6 * math.sqrt(graph.nodes[n].get("uses", 1)) for n in graph}
    for node in graph:
        x, y = at[node]
        data = graph.nodes[node]
        body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{radius[node]:.1f}" fill="{colour[data.get("kind")]}" '
                    f'stroke="white" stroke-width="0.8"><title>{escape(str(data.get("label", node)))} '
                    f'({escape(names.get(data.get("kind"), str(data.get("kind"))))}): {data.get("uses", 1)} uses'
                    '</title></circle>')
    circles = {n: (at[n][0] - radius[n], at[n][1] - radius[n], at[n][0] + radius[n], at[n][1] + radius[n])
               for n in graph}
    labels: list[tuple[float, float, float, float]] = []
    size, per_char, line = 9, 0.62 * 9, 11.0

    def place(node, text: str) -> tuple[float, float, float, float] | None:
        x, y = at[node]
        w, r = per_char * len(text) + 2, radius[node] + 2
        others = [b for n, b in circles.items() if n != node] + labels
        for dx, dy in ((r, -line / 2), (-r - w, -line / 2), (-w / 2, -r - line), (-w / 2, r),
                       (r * 0.7, -r * 0.7 - line), (-r * 0.7 - w, -r * 0.7 - line), (r * 0.7, r * 0.7),
                       (-r * 0.7 - w, r * 0.7)):
            box = (x + dx, y + dy, x + dx + w, y + dy + line)
            inside = box[0] >= 2 and box[2] <= width - 2 and box[1] >= top and box[3] <= height - bottom
            if inside and not _overlaps(box, others):
                return box
        return None

    order = network_order(graph)
    shown: list[str] = []
    numbered: list[str] = []
    for number, node in enumerate(order, start=1):
        label = str(graph.nodes[node].get("label", node))
        box = place(node, label)
        text = label
        if box is None:
            text = str(number)
            box = place(node, text)
        if box is None:  # not even the number fits: it stays in the table only
            continue
        labels.append(box)
        (shown if text == label else numbered).append(f"{number} {label}" if text != label else label)
        body.append(f'<rect x="{box[0]:.1f}" y="{box[1]:.1f}" width="{box[2] - box[0]:.1f}" height="{line:.1f}" '
                    'fill="white" fill-opacity="0.8"/>')
        body.append(f'<text x="{box[0] + 1:.1f}" y="{box[3] - 2.5:.1f}" font-size="{size}" text-anchor="start" '
                    f'fill="{"#222222" if text == label else "#553c9a"}" data-node="{number}">{escape(text)}</text>')
    legend_y = height - 22
    x = margin
    for kind in kinds:
        name = names.get(kind, kind)
        body.append(f'<circle cx="{x + 5:.1f}" cy="{legend_y - 3:.1f}" r="5" fill="{colour[kind]}"/>')
        body.append(_text(x + 14, legend_y + 1, name, size=9))
        x += 30 + CHAR * 0.9 * len(name)
    body.append(_text(width / 2, height - 6, "spring layout (seed 42): position has no scale; nearby features "
                      "co-occur often; a number is a feature of the table of nodes", size=9, anchor="middle",
                      fill="#555555"))
    desc = (f"{graph.number_of_nodes()} features, {graph.number_of_edges()} co-occurrence links; named: "
            + ", ".join(shown) + ("; numbered: " + ", ".join(numbered) if numbered else ""))
    return _svg(width, height, title, desc, body)


def description(svg: str) -> str:
    """The text alternative (``<desc>``) of a figure made here, as plain text."""
    from html import unescape

    start = svg.find("<desc>")
    return unescape(svg[start + 6:svg.index("</desc>", start)]) if start >= 0 else ""
