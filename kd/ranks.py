"""What the processes of a multi-process (torchrun / accelerate launch) ``pretrain`` run did, for its record.

:class:`CorpusShares` keeps, per phase, which training sequences this process trained on; gathered at
the end it shows whether the processes split the packed corpus (no sequence on two processes within a
pass, together covering it) or repeated one another. :func:`replicas_identical` shows whether the
gradient all-reduce kept every process's copy of the weights the same.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


class CorpusShares:
    """Per phase: which rows of the phase's cut of the corpus this process trained on, and how many it drew."""

    def __init__(self) -> None:
        self.seen: dict[int, Any] = {}  # phase -> bool tensor, one entry per sequence of the phase's cut
        self.drawn: dict[int, int] = {}
        self.complete = True  # False once resumed from a checkpoint without this process's shares

    def mark(self, phase: int, n_sequences: int, rows: list[int]) -> None:
        """Note that this process trained on ``rows`` (of ``n_sequences``) in ``phase``."""
        import torch

        if phase not in self.seen:
            self.seen[phase] = torch.zeros(n_sequences, dtype=torch.bool)
        self.seen[phase][rows] = True
        self.drawn[phase] = self.drawn.get(phase, 0) + len(rows)

    def save(self, path: Path, num_processes: int) -> None:
        """Write this process's shares (one file a process, beside the checkpoint's random states)."""
        import torch

        torch.save({"seen": self.seen, "drawn": self.drawn, "num_processes": num_processes}, path)

    def load(self, path: Path, num_processes: int) -> None:
        """Take the shares this process saved at a checkpoint; without them (a checkpoint of older code, or of a
        run with another number of processes) the shares of the resumed run are unknown."""
        import torch

        saved = torch.load(path) if path.is_file() else {}
        self.complete = saved.get("num_processes") == num_processes
        if self.complete:
            self.seen, self.drawn = saved["seen"], saved["drawn"]

    def gathered(self, accelerator, sizes: dict[int, int]) -> list[dict[str, Any]] | None:
        """Every process's shares of the phases ``sizes`` (phase -> sequences in its cut), ``None`` where a process
        does not know its own; call on every process.

        Per phase: ``drawn_by_process`` (sequences each drew, repeats included), ``distinct`` (sequences
        any process trained on) and ``on_several_processes`` (sequences more than one process trained on:
        0 while the run has not gone past one pass over the phase's sequences).
        """
        import torch

        complete = accelerator.gather(torch.tensor([int(self.complete)], device=accelerator.device))
        out = []
        for phase, n in sorted(sizes.items()):
            seen = self.seen.get(phase, torch.zeros(n, dtype=torch.bool)).to(torch.uint8)
            every = accelerator.gather(seen.to(accelerator.device)).view(-1, n).cpu().long()
            drawn = accelerator.gather(torch.tensor([self.drawn.get(phase, 0)], device=accelerator.device)).cpu()
            on = every.sum(0)
            out.append({"phase": phase, "sequences": n, "drawn_by_process": drawn.tolist(),
                        "distinct": int((on > 0).sum()), "on_several_processes": int((on > 1).sum())})
        return out if bool(complete.all()) else None


def replicas_identical(accelerator, model) -> bool:
    """Whether every process holds the same weights (compared by per-parameter float64 sums); call on every process."""
    import torch

    sums = torch.stack([p.detach().double().sum() for p in model.parameters()]).to(accelerator.device)
    every = accelerator.gather(sums).view(accelerator.num_processes, -1)
    return bool((every == every[0]).all())
