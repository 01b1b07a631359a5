"""Does the reward-model training loop learn? Train on one synthetic demo set, validate on another.

A small BLIP-style encoder (``random-vit-small``) keeps its random initialisation (no downloads);
the reward head learns on its tokens (``--finetune-blocks -1`` trains the encoder too — from a
random start on this little data that did not help). Prints validation ROC-AUC for pass/fail
with the attention fusion, the concatenation fusion and no original (the paper's Table 2
ablations). Synthetic labels, tiny
model: this shows the loop learns, it is not a claim about real data.

    python benchmarks/reward_learning.py --train-n 2400 --val-n 480 --epochs 15
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from hfpc.data.manifests import read_manifest
from hfpc.data.synth import generate_demo_set
from hfpc.training.loop import TrainConfig, train_reward


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train-n", type=int, default=2400)
    ap.add_argument("--val-n", type=int, default=480)
    ap.add_argument("--size", type=int, default=160, help="side of the rendered images")
    ap.add_argument("--encoder", default="random-vit-small")
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--finetune-blocks", type=int, default=0,
                    help="0: frozen random encoder, features cached (default); -1: train it all")
    ap.add_argument("--encoder-lr", type=float, default=3e-4)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as root:
        t0 = time.perf_counter()
        kw = {"size": args.size, "per_original": 6}
        tr = read_manifest(generate_demo_set(Path(root) / "tr", n=args.train_n, seed=101, **kw))
        va = read_manifest(generate_demo_set(Path(root) / "va", n=args.val_n, seed=202, **kw))
        print(f"data: {len(tr)} train / {len(va)} validation samples (6 per original), "
              f"rendered in {time.perf_counter() - t0:.0f} s; encoder {args.encoder} from random init")
        print(f"encoder blocks trained: {args.finetune_blocks} (0: frozen)")
        print(f"{'fusion':10s} {'val ROC-AUC':>11s} {'val acc':>8s} {'best epoch':>10s} {'seconds':>8s}")
        for fusion in ("attention", "concat", "none"):
            t0 = time.perf_counter()
            cfg = TrainConfig(encoder=args.encoder, fusion=fusion, epochs=args.epochs, lr=1e-3,
                              finetune_blocks=args.finetune_blocks, encoder_lr=args.encoder_lr,
                              batch_groups=8, patience=4, num_heads=4, mlp_hidden=256, seed=0)
            s = train_reward(tr, va, cfg, Path(root) / f"ck_{fusion}")
            b = s["best"]
            print(f"{fusion:10s} {b['val_auc']:11.3f} {b['val_acc']:8.3f} {s['best_epoch']:10d} "
                  f"{time.perf_counter() - t0:8.0f}")


if __name__ == "__main__":
    main()
