"""The HFPC loss: L = L_rank + L_class.

L_rank is the cross-entropy over [r_pass, r_fail] for pairs of generations of the same original
(target: the passed one), i.e. softplus(r_fail − r_pass). L_class is the BCE of σ(r) against the
reviewer's label for every image.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def rank_loss(r_pass: torch.Tensor, r_fail: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of choosing the passed image in each (pass, fail) pair."""
    if r_pass.numel() == 0:
        return r_pass.new_zeros(())
    logits = torch.stack([r_pass, r_fail], dim=1)
    target = torch.zeros(len(r_pass), dtype=torch.long, device=r_pass.device)
    return F.cross_entropy(logits, target)


def class_loss(r: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean BCE of σ(r) against 0/1 labels."""
    return F.binary_cross_entropy_with_logits(r, labels.float())


def hfpc_loss(r: torch.Tensor, labels: torch.Tensor, pairs: torch.Tensor, use_class: bool = True
              ) -> tuple[torch.Tensor, dict[str, float]]:
    """Total loss and its parts; ``pairs`` is K×2 indices into ``r`` of (passed, failed)."""
    lr = rank_loss(r[pairs[:, 0]], r[pairs[:, 1]]) if len(pairs) else r.new_zeros(())
    lc = class_loss(r, labels) if use_class else r.new_zeros(())
    total = lr + lc
    return total, {"loss": float(total.detach()), "rank": float(lr.detach()), "class": float(lc.detach())}
