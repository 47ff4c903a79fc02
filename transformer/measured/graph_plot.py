"""A picture of a profiled graph (matplotlib only, no graphviz): nodes in layers from the inputs down,
each box coloured by its share of the time and labelled with its operator, output shape and time; an
edge for every tensor that flows between drawn nodes. Views (which move nothing) and Python values are
not drawn: edges pass through them."""

from __future__ import annotations

__all__ = ["layout", "plot_graph"]


def _shown(n) -> bool:
    """Inputs, output and every node that runs something; views and Python values are passed through."""
    return n.op in ("placeholder", "output") or (n.timed and n.kind != "view")


def layout(nodes) -> dict[str, tuple[int, int]]:
    """name -> (layer, position in the layer) for the drawn nodes: a node sits one layer below the
    lowest of its drawn inputs (hidden nodes pass their inputs' layer through)."""
    shown = {n.name for n in nodes if _shown(n)}
    level: dict[str, int] = {}
    for n in nodes:  # fx nodes come in topological order
        level[n.name] = max((level[i] + (i in shown) for i in n.inputs if i in level), default=0)
    out, filled = {}, {}
    for n in nodes:
        if _shown(n):
            lv = level[n.name]
            out[n.name] = (lv, filled.get(lv, 0))
            filled[lv] = filled.get(lv, 0) + 1
    return out


def _label(n) -> str:
    from gpubench.fmt import fmt_time

    shape = "x".join(map(str, n.shape)) if n.shape else ""
    head = n.target if n.op not in ("placeholder", "output") else n.op
    time = fmt_time(n.time_s) if n.timed else ""
    return "\n".join(x for x in (f"{n.name}: {head}"[:34], shape, time) if x)


def plot_graph(profile, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    nodes = profile.nodes
    pos = layout(nodes)
    by_name = {n.name: n for n in nodes}
    layers = max((lv for lv, _ in pos.values()), default=0) + 1
    width = max(sum(1 for lv, _ in pos.values() if lv == k) for k in range(layers))
    fig, ax = plt.subplots(figsize=(max(6.0, 2.6 * width), max(3.0, 0.75 * layers)))
    total = profile.nodes_time_s or 1.0
    cmap = plt.get_cmap("YlOrRd")
    xy = {
        name: (col - (sum(1 for lv, _ in pos.values() if lv == row) - 1) / 2, -row)
        for name, (row, col) in pos.items()
    }
    nearest = {}
    for n in nodes:  # an edge from each drawn input, or through hidden nodes to their drawn inputs
        pending, found = list(n.inputs), set()
        while pending:
            s = pending.pop()
            if s in xy:
                found.add(s)
            elif s in by_name and by_name[s].shape is not None:  # not through sizes and other Python values
                pending += by_name[s].inputs
        nearest[n.name] = sorted(found)
    for name, (x, y) in xy.items():
        for s in nearest[name]:
            sx, sy = xy[s]
            ax.annotate(
                "", (x, y + 0.22), (sx, sy - 0.22), arrowprops=dict(arrowstyle="->", lw=0.6, color="0.5")
            )
    for name, (x, y) in xy.items():
        n = by_name[name]
        small = n.op in ("placeholder", "output")
        share = (n.time_s or 0.0) / total
        colour = "0.92" if small else cmap(0.1 + 0.6 * min(1.0, share * 4))  # dark ends hide the text
        edge = {"memory": "tab:blue", "compute": "tab:red"}.get(n.bound, "0.4")
        ax.text(
            x,
            y,
            _label(n),
            ha="center",
            va="center",
            fontsize=6 if small else 7,
            bbox=dict(boxstyle="round,pad=0.3", fc=colour, ec=edge, lw=1.2),
        )
    ax.set_xlim(-width / 2 - 0.5, width / 2 + 0.5)
    ax.set_ylim(-layers + 0.4, 0.6)
    ax.axis("off")
    where = f"; border: bound on {profile.gpu} (blue memory, red compute)" if profile.gpu else ""
    ax.set_title(
        f"{profile.module} ({profile.tracer}): colour = share of the time{where}\n{profile.timer}", fontsize=8
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
