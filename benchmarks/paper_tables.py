"""The HFPC paper's Table 1 and Table 2, end to end, on synthetic data with tiny random models.

1. Renders a training and a test demo set (6 generations per original).
2. Trains reward models on the training set with a frozen random BLIP-style encoder: the full
   model (attention fusion, L_rank + L_class) and the ablations (concatenation fusion; no
   classification loss; no original + ranking loss only = ImageReward-style).
3. Judges the test set with consistency, the full reward model and the CLIP baselines (a small
   random CLIP) and prints Table 1 (PLCC, SRCC, Pb, Rb, Rg per scorer); judges it with each
   ablation and prints Table 2.

SYNTHETIC FIGURES: random encoders and rendered products — they show the pipeline runs end to
end and how to read it, not how hfpc does on real data. With the HFPC-44k images downloaded
(``hfpc data download``), the same commands on real data are in docs/evaluation.md.

    python benchmarks/paper_tables.py --train-n 1200 --test-n 360
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from hfpc import Profile, read_manifest, run_filter
from hfpc.data.synth import generate_demo_set
from hfpc.evaluation.calibrate import calibrate
from hfpc.evaluation.report import compare
from hfpc.models.encoders import save_random_clip
from hfpc.training.loop import TrainConfig, train_reward

ABLATIONS = {
    "ImageReward (no original, rank loss)": {"fusion": "none", "class_loss": False},
    "Fused through features concatenation": {"fusion": "concat"},
    "Without classification loss": {"class_loss": False},
    "Single reward model": {},
}


def _row(name: str, m: dict[str, float], cols: tuple[str, ...]) -> str:
    return f"{name:40s} " + " ".join(f"{m[c]:6.3f}" if m[c] == m[c] else "   n/a" for c in cols)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train-n", type=int, default=1200)
    ap.add_argument("--test-n", type=int, default=360)
    ap.add_argument("--size", type=int, default=160)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--keep", type=Path, default=None)
    args = ap.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="hfpc-tables-"))
    t0 = time.perf_counter()
    kw = {"size": args.size, "per_original": 6}
    train = read_manifest(generate_demo_set(root / "train", n=args.train_n, seed=301, **kw))
    test_manifest = generate_demo_set(root / "test", n=args.test_n, seed=302, **kw)
    test = read_manifest(test_manifest)
    clip = save_random_clip(root / "clip", seed=0)
    print(f"data: {len(train)} train / {len(test)} test samples, rendered in {time.perf_counter() - t0:.0f} s")
    cks = {}
    for name, over in ABLATIONS.items():
        cfg = TrainConfig(encoder="random-vit-small", epochs=args.epochs, lr=1e-3, batch_groups=8, patience=4,
                          num_heads=4, mlp_hidden=256, cache_dir=str(root / "cache"), **over)
        t0 = time.perf_counter()
        train_reward(train, None, cfg, root / "ck" / name.split(" ")[0].lower())
        cks[name] = root / "ck" / name.split(" ")[0].lower()
        print(f"trained {name!r} in {time.perf_counter() - t0:.0f} s")
    full = cks["Single reward model"]
    profile = Profile(name="tables", checks={"consistency": {}, "reward": {"checkpoint": str(full)},
                                             "clip_score": {"model": str(clip)}, "clip_iqa": {"model": str(clip)}})
    res = root / "results_full.jsonl"
    run_filter(test, res, profile, overwrite=True)
    table1 = compare(res, test_manifest, root / "table1", n_boot=50)["scorers"]
    cols = ("PLCC", "SRCC", "Pb", "Rb", "Rg")
    ir = root / "results_imagereward.jsonl"
    run_filter(test, ir, Profile(checks={"reward": {"checkpoint": str(cks["ImageReward (no original, rank loss)"])}}),
               overwrite=True)
    ir_m = compare(ir, test_manifest, root / "table1_ir", n_boot=20)["scorers"]
    print("\nTable 1 (synthetic): agreement with the demo labels")
    print(f"{'method':40s} " + " ".join(f"{c:>6s}" for c in cols))
    order = ["clip_score", "clip_iqa", "consistency alone", "reward alone", "hfpc judge"]
    for name in order:
        print(_row(name, table1[name]["metrics"], cols))
    print(_row("ImageReward-style (reward, no original)", next(iter(ir_m.values()))["metrics"], cols))
    cal = calibrate(res, test_manifest, target_rg=0.8, n_boot=50)
    print("\nthresholds calibrated for Rg >= 0.8 on half the test originals: "
          + ", ".join(f"{k} {cal.previous[k]:.3f} -> {v:.3f}" for k, v in cal.thresholds.items()))
    print(f"held-out half: Pb {cal.held_out['Pb']:.3f}, Rb {cal.held_out['Rb']:.3f}, Rg {cal.held_out['Rg']:.3f} "
          f"(before: Pb {cal.held_out_before['Pb']:.3f}, Rb {cal.held_out_before['Rb']:.3f}, "
          f"Rg {cal.held_out_before['Rg']:.3f})")
    print("\nTable 2 (synthetic): reward-model ablations, reward check alone")
    print(f"{'method':40s} " + " ".join(f"{c:>6s}" for c in ("Pb", "Rb", "ROC-AUC pass")))
    for name, ck in cks.items():
        out = root / f"results_{ck.name}.jsonl"
        run_filter(test, out, Profile(checks={"reward": {"checkpoint": str(ck)}}), overwrite=True)
        m = next(iter(compare(out, test_manifest, root / f"table2_{ck.name}", n_boot=20)["scorers"].values()))
        print(_row(name, m["metrics"], ("Pb", "Rb", "ROC-AUC pass")))
    print(f"\nfigures and JSON: {root}/table1 (one ROC/PR figure per class with every scorer)")


if __name__ == "__main__":
    main()
