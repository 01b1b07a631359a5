"""Does ``hfpc train taxonomy`` learn? Per-class F1 on held-out synthetic originals against chance.

Two fresh demo sets (training and validation, different seeds, several generations per original,
every defect kind: the kinds' reasons are the classes) are rendered; the classifier is trained on
the first with the given encoder and judged on the second. Printed: per class precision, recall,
F1 and support, macro-F1, and two chance levels on the same validation set: always naming the
most frequent class, and naming classes at random in the training frequencies (the mean over 200
draws). The default encoder is a random ViT (no download), so the figures show that the
pipeline learns from the labels, not the quality real weights and real reviewers' reasons give.

    python benchmarks/taxonomy_learning.py
    python benchmarks/taxonomy_learning.py --encoder blip --n-train 1200   # where weights exist
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--encoder", default="random-vit-small")
    ap.add_argument("--n-train", type=int, default=600)
    ap.add_argument("--n-val", type=int, default=300)
    ap.add_argument("--size", type=int, default=160)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--seed", type=int, default=31)
    args = ap.parse_args()

    from hfpc import read_manifest
    from hfpc.data.synth import generate_demo_set
    from hfpc.evaluation.reasons import macro_f1, per_class
    from hfpc.training.taxonomy import TaxonomyTrainConfig, sample_class, train_taxonomy

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        train = read_manifest(generate_demo_set(root / "train", n=args.n_train, seed=args.seed, size=args.size,
                                                per_original=6))
        val = read_manifest(generate_demo_set(root / "val", n=args.n_val, seed=args.seed + 1, size=args.size,
                                              per_original=6))
        rendered = time.perf_counter() - t0
        cfg = TaxonomyTrainConfig(encoder=args.encoder, epochs=args.epochs, seed=args.seed, cache=False)
        t0 = time.perf_counter()
        summary = train_taxonomy(train, val, cfg, root / "run")
        trained = time.perf_counter() - t0

    classes = summary["classes"]
    table = summary["val_per_class"]
    truth = [c for s in val if (c := sample_class(s)) in classes]
    counts = Counter(summary["train_class_counts"])
    majority = max(counts, key=counts.get)
    chance_major = macro_f1(per_class(truth, [majority] * len(truth), classes))
    rng = np.random.default_rng(0)
    prior = np.array([counts[c] for c in classes], float) / sum(counts.values())
    chance_prior = float(np.mean([macro_f1(per_class(truth, list(rng.choice(classes, len(truth), p=prior)), classes))
                                  for _ in range(200)]))
    print(f"taxonomy classifier, encoder {args.encoder}: {summary['train_samples']} training and "
          f"{summary['val_samples']} validation samples at {args.size}², {len(classes)} classes; "
          f"rendered in {rendered:.0f} s, trained in {trained:.0f} s (best epoch {summary['best_epoch']} of "
          f"{summary['epochs_run']}; pass threshold on p(good) {summary['threshold']:.2f})")
    print(f"{'class':<22}{'precision':>10}{'recall':>8}{'F1':>7}{'support':>9}")
    for c in classes:
        m = table[c]
        print(f"{c:<22}{m['precision']:>10.2f}{m['recall']:>8.2f}{m['f1']:>7.2f}{m['support']:>9}")
    above = sum(1 for c in classes if table[c]["support"] and (table[c]["f1"] == table[c]["f1"])
                and table[c]["f1"] > prior[classes.index(c)])
    print(f"macro-F1 {summary['val_macro_f1_calibrated']:.3f}; chance: always '{majority}' {chance_major:.3f}, "
          f"random in the training frequencies {chance_prior:.3f}; classes whose F1 beats their own "
          f"frequency: {above} of {len(classes)}")
    print("Real quality needs real encoder weights and reviewers' reasons: this measures that the "
          "pipeline learns, on synthetic defects.")


if __name__ == "__main__":
    main()
