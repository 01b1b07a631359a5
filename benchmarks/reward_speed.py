"""Reward-model throughput: the paper's protocol against hfpc's path, side by side in one run.

The encoder is BLIP's ViT-B/16 at 384 px (``random-blip-base-384``: the real architecture with
random weights — the same compute as the released model). The manifest is shaped like HFPC-44k's
test split (8,372 generations of 321 originals, ~26 per original), scaled down to finish in
minutes on a CPU.

- paper protocol: fp32, batch 1, the original re-encoded for every generated image;
- hfpc: each original encoded once, generated images in batches, bf16 where the CPU has native
  bf16 (AVX512-BF16/AMX) or on a GPU.

Also printed: the largest score difference bf16 vs fp32 and the decisions it changes at the
checkpoint's threshold, and the largest difference between batch 1 and batch 32 (fp32).

    python benchmarks/reward_speed.py --originals 2 --per-original 26 --paper-samples 8
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from hfpc.checks.base import JudgeItem
from hfpc.checks.reward import RewardCheck, RewardSettings, cpu_has_bf16
from hfpc.data.images import load_image
from hfpc.data.manifests import read_manifest
from hfpc.data.synth import generate_demo_set
from hfpc.models.encoders import random_encoder
from hfpc.models.irrm import RewardModel


def _items(samples, cache: dict[str, dict]) -> list[JudgeItem]:
    out = []
    for s in samples:
        out.append(JudgeItem(s, load_image(s.original), load_image(s.generated), None,
                             cache.setdefault(s.original, {})))
    return out


def _rss() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--originals", type=int, default=2)
    ap.add_argument("--per-original", type=int, default=26)
    ap.add_argument("--paper-samples", type=int, default=8, help="samples timed with the paper's protocol")
    ap.add_argument("--batch", type=int, default=0, help="hfpc's batch size (0: the check's default)")
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    dev = args.device
    if dev == "auto":
        dev = "cuda" if torch.cuda.is_available() else "cpu"

    with tempfile.TemporaryDirectory() as root:
        n = args.originals * args.per_original
        samples = read_manifest(generate_demo_set(Path(root) / "data", n=n, seed=5, size=512,
                                                  per_original=args.per_original))
        ck = Path(root) / "ck"
        enc = random_encoder("random-blip-base-384", seed=0)
        RewardModel.for_encoder(enc).save_pretrained(ck, save_encoder=True)
        print(f"device: {dev}; torch threads: {torch.get_num_threads()}; CPU native bf16: {cpu_has_bf16()}")
        print(f"set: {n} generated images of {args.originals} originals ({args.per_original} per original)")

        # paper protocol: fp32, batch 1, original encoded again for every sample
        fp32 = RewardCheck(RewardSettings(checkpoint=str(ck), dtype="fp32", batch_size=1, device=dev))
        paper = samples[: args.paper_samples]
        fp32.run_batch(_items(paper[:1], {}))  # warm-up
        t0 = time.perf_counter()
        for s in paper:
            fp32.run_batch(_items([s], {}))  # a fresh cache: the original is encoded again
        t_paper = (time.perf_counter() - t0) / len(paper)
        rss_fp32 = _rss()

        # fp32 at batch size 32 with originals cached: reference scores for the comparisons
        fp32.batch_size = 32
        ref = np.array([r.value for r in fp32.run_batch(_items(samples, {}))])
        one = np.array([r.value for r in RewardCheck(RewardSettings(checkpoint=str(ck), dtype="fp32", batch_size=1,
                                                                    device=dev)).run_batch(_items(samples[:16], {}))])
        batch_diff = float(np.abs(one - ref[:16]).max())
        del fp32

        dtype = "bf16" if dev == "cuda" or cpu_has_bf16() else "fp32"
        fast = RewardCheck(RewardSettings(checkpoint=str(ck), dtype=dtype, batch_size=args.batch or None, device=dev))
        fast.run_batch(_items(samples[: min(4, n)], {}))  # warm-up
        items = _items(samples, {})
        t0 = time.perf_counter()
        res = fast.run_batch(items)
        t_fast = (time.perf_counter() - t0) / n
        got = np.array([r.value for r in res])
        thr = fast.threshold
        flips = int(((got >= thr) != (ref >= thr)).sum())
        print(f"\n{'path':40s} {'images/s':>9s} {'s/image':>8s}")
        print(f"{'paper: fp32, batch 1, re-encode original':40s} {1 / t_paper:9.2f} {t_paper:8.3f}")
        print(f"{f'hfpc: {dtype}, batch {fast.batch_size}, originals once':40s} {1 / t_fast:9.2f} {t_fast:8.3f}")
        print(f"speed-up: {t_paper / t_fast:.1f}x (target >= 5x on the 2-core CPU)")
        print(f"peak RSS: {rss_fp32:.0f} MiB after the fp32 runs, {_rss():.0f} MiB overall")
        print(f"largest |score difference| {dtype} vs fp32: {np.abs(got - ref).max():.4f}; "
              f"decisions changed at threshold {thr}: {flips} of {n}")
        print(f"largest |score difference| batch 1 vs batch 32 (fp32): {batch_diff:.2e}")
        print(f"score range (fp32): {ref.min():.3f} .. {ref.max():.3f}")


if __name__ == "__main__":
    main()
