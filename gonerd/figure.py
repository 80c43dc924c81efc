"""Figure 1: kernel density of sequence lengths (seaborn ``kdeplot``), the dataset vs CoNLL-2003.

Colours follow the paper (first corpus blue, second orange). Unlike the paper, no bandwidth change
or upsampling is applied to CoNLL-2003: both curves are plain KDEs on a log-scaled token axis,
which keeps CoNLL's short sentences and long documents legible in one plot without distortion.
"""

from __future__ import annotations

from pathlib import Path

COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red")
# What length_kde draws, for the figure's caption in the card.
CAPTION = "Kernel density of sequence lengths (seaborn `kdeplot`, log-scaled token axis, no resampling)."


def length_kde(series: dict[str, list[int]], path: str | Path, *, log_x: bool = True) -> Path:
    """Plot one KDE curve per named length list to a PNG at ``path`` and return the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
    for (name, lengths), color in zip(series.items(), COLORS):
        positive = [n for n in lengths if n > 0]
        if len(set(positive)) < 2:
            continue  # a KDE needs at least two distinct values
        sns.kdeplot(x=positive, ax=ax, color=color, fill=True, alpha=0.25, linewidth=1.5, log_scale=log_x,
                    label=f"{name} (n={len(positive):,})")
    ax.set_xlabel("tokens per sequence" + (" (log scale)" if log_x else ""))
    ax.set_ylabel("density (per log10 token)" if log_x else "density")
    ax.set_title("Sequence length distribution (Gaussian KDE)")
    if ax.get_legend_handles_labels()[0]:
        ax.legend()
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
