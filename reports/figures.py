"""Figures (PNG + PDF): accuracy against the noise rate, curves against the epoch, and both
codes' curves of one cell. matplotlib is imported when a figure is drawn, not before."""

from __future__ import annotations

import math

import numpy as np

from .output import OutputFolder

# one code's seeds share its colour; the line style tells them apart (the same seed, and so the
# same noisy labels, has the same style in both codes)
SEED_LINESTYLES = ("-", "--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)))


def new_axes(size):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=size)


def save_figure(fig, out: OutputFolder, stem: str, xlabel: str, ylabel: str, title: str) -> list:
    import matplotlib.pyplot as plt

    ax = fig.axes[0]
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    paths = [out.claim(f"{stem}.png"), out.claim(f"{stem}.pdf")]  # stems contain dots (rates)
    fig.savefig(paths[0], dpi=110)
    fig.savefig(paths[1])
    plt.close(fig)
    return paths


def figure_vs_rate(out: OutputFolder, stem: str, title: str, rates, rows) -> list:
    """Mean ± std of each row against the noise rate (rows with two rates or more)."""
    drawable = [
        (row, [r for r in rates if cells[r]["n"] and not isinstance(r, str)], cells)
        for row, cells in rows
    ]
    drawable = [d for d in drawable if len(d[1]) >= 2]
    if not drawable:
        return []
    fig, ax = new_axes((5.5, 4))
    for row, xs, cells in drawable:
        ax.errorbar(
            xs,
            [cells[r]["mean"] for r in xs],
            yerr=[0 if math.isnan(cells[r]["std"]) else cells[r]["std"] for r in xs],
            marker="o",
            capsize=2,
            label=row.upper(),
        )
    return save_figure(
        fig, out, f"{stem}_vs_rate", "noise rate", "last-epoch test top-1 (%)", title
    )


def figure_curves(out: OutputFolder, stem: str, title: str, curves: dict, metric: str) -> list:
    """`curves`: {row: [per-epoch values of one run, per seed]}, drawn as the mean over seeds;
    a figure needs two rows with a curve (a row whose runs lack the metric is left out)."""
    fig = ax = None
    drawn = []
    for row, runs in curves.items():
        length = min(map(len, runs), default=0)
        if not length or any(v is None for c in runs for v in c[:length]):
            continue  # e.g. memorisation on a noise-free run
        if fig is None:
            fig, ax = new_axes((5, 3.6))
        mean = np.mean([c[:length] for c in runs], axis=0)
        # a line needs two epochs: shorter curves (1-epoch runs) would be invisible unmarked
        ax.plot(
            range(1, length + 1),
            mean,
            marker="o" if length < 10 else None,
            label=f"{row.upper()} (n={len(runs)})",
        )
        drawn.append(row)
    if len(drawn) < 2:
        if fig is not None:
            import matplotlib.pyplot as plt

            plt.close(fig)
        return []
    # named after the rows drawn, not the whole group (some may have no runs)
    return save_figure(fig, out, f"{stem}_{'_'.join(drawn)}_{metric}", "epoch", metric, title)


def figure_codes(out: OutputFolder, stem: str, title: str, sides: list, published) -> list:
    """Test top-1 per epoch, one line per run of each code, the published value as a band.
    `sides`: [(label, colour, [(seed, curve)])]."""
    fig, ax = new_axes((5.2, 3.6))
    seeds = sorted({int(seed) for _, _, runs in sides for seed, _ in runs})
    for label, colour, runs in sides:
        for seed, curve in runs:
            style = SEED_LINESTYLES[min(seeds.index(int(seed)), len(SEED_LINESTYLES) - 1)]
            ax.plot(
                range(1, len(curve) + 1),
                curve,
                color=colour,
                ls=style,
                marker="." if len(curve) < 3 else None,
                label=f"{label}, seed {seed}",
                alpha=0.9,
            )
    if published is not None:
        m, s = published
        ax.axhspan(m - (s or 0), m + (s or 0), color="grey", alpha=0.25)
        ax.axhline(
            m,
            color="grey",
            ls="--",
            lw=1,
            label=f"published {m:.2f}" + ("" if s is None else f"±{s:.2f}"),
        )
    return save_figure(fig, out, stem, "epoch", "test top-1 (%)", title)
