"""Speed and memory of the model backends at full architecture size, random weights, on this machine.

grounded-sam: grounding-dino-tiny's architecture (Swin-T + BERT-base, 900 queries, 800-px inputs)
and SAM ViT-B (1024-px inputs), built from their configs with random weights, saved, and loaded
back through hfpc's loader. Timed side by side in one process on one 512² demo set:

  (a) the detector alone on one image, and SAM alone on that image's boxes;
  (b) ``analyze_pair`` with the original's segmentation cached (the check's steady state: the
      generated image is segmented, then located and compared), per pair;
  (c) the whole command ``hfpc filter --profile grounded.toml`` as a subprocess (start-up, model
      loading, decoding, judging, heatmaps, writing).

Random weights give random scores, so the box and text thresholds are set to 0: every image sends
``max_products`` (8) boxes to SAM, the worst case, the same in fp32 and bf16.

depth: Depth Anything V2 Small's architecture (DINOv2 ViT-S/14, 518-px inputs) with random weights:
one image, a batch of four, and the whole ``hfpc filter`` run with the placement check's
``depth_model`` set (the default checks otherwise), s/pair.

taxonomy: the rfnet classifier on BLIP ViT-B/16 at 384 px (random weights): s/pair with the
original's tokens cached (encode the generated image, salience map, head), batch 1 and 4.

vlm: the prefill of one pair for a ~3 B LLaVA-shaped model (CLIP ViT-L/14 at 336 px, a Llama
decoder of Llama-3.2-3B's shape) with random weights in bf16, built in memory: the review
guide, both images and the question (the answer's decoding adds ~0.1–0.3 s per token on top).
Each row says fp32 or bf16 (bf16 is what ``dtype = "auto"`` picks on GPUs and CPUs with native
bf16; this CPU's answer is printed).

    python benchmarks/model_speed.py --n 6
    python benchmarks/model_speed.py --n 6 --parts depth,taxonomy,vlm
    python benchmarks/model_speed.py --n 60 --parts grounded,depth --device cuda   # on a GPU
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DEVICE = "cpu"
"""Where the grounded-sam and depth models run (``--device``)."""


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _pairs(manifest: Path) -> list[tuple[np.ndarray, np.ndarray | None, np.ndarray]]:
    from hfpc import read_manifest
    from hfpc.data.images import load_image

    out = []
    for s in read_manifest(manifest):
        o = load_image(s.original)
        out.append((o.rgb, None, load_image(s.generated).rgb))
    return out


def _in_process(det: Path, seg: Path, manifest: Path, dtype: str) -> dict[str, float]:
    import torch

    from hfpc.consistency.analyze import analyze_pair, prepare_original
    from hfpc.consistency.config import ConsistencySettings
    from hfpc.consistency.segment_grounded import load_grounded_sam

    s = ConsistencySettings(backend="grounded-sam", detector=str(det), segmenter=str(seg), device=DEVICE, dtype=dtype,
                            box_threshold=0.0, text_threshold=0.0)
    t0 = time.perf_counter()
    models = load_grounded_sam(str(det), str(seg), DEVICE, dtype)
    load = time.perf_counter() - t0
    pairs = _pairs(manifest)
    img = pairs[0][2]
    models.boxes([img], s.prompt, s.box_threshold, s.text_threshold)  # warm-up
    t0 = time.perf_counter()
    boxes = models.boxes([img], s.prompt, s.box_threshold, s.text_threshold)[0][:s.max_products]
    detect = time.perf_counter() - t0
    t0 = time.perf_counter()
    models.masks(img, [b for b, _ in boxes])
    sam = time.perf_counter() - t0
    prepared = [prepare_original(o, m, s) for o, m, _ in pairs]
    t0 = time.perf_counter()
    for (o, m, g), prep in zip(pairs, prepared):
        analyze_pair(o, m, g, s, prepared=prep, original_cache={})
    per_pair = (time.perf_counter() - t0) / len(pairs)
    return {"load_s": load, "detect_s": detect, "sam_s": sam, "boxes": len(boxes), "pair_s": per_pair,
            "threads": torch.get_num_threads()}


def _cli(det: Path, seg: Path, manifest: Path, root: Path, dtype: str) -> tuple[float, int]:
    profile = root / f"grounded-{dtype}.toml"
    profile.write_text(f'name = "grounded"\n[checks.consistency]\nbackend = "grounded-sam"\ndetector = "{det}"\n'
                       f'segmenter = "{seg}"\ndevice = "{DEVICE}"\ndtype = "{dtype}"\n'
                       'box_threshold = 0.0\ntext_threshold = 0.0\n',
                       encoding="utf-8")
    return _run_filter(manifest, root / f"r-{dtype}.jsonl", profile)


def _run_filter(manifest: Path, out: Path, profile: Path) -> tuple[float, int]:
    """Wall seconds of a whole ``hfpc filter`` run and its number of rows (none may be an error)."""
    out.unlink(missing_ok=True)
    t0 = time.perf_counter()
    hfpc = Path(sys.executable).parent / "hfpc"
    r = subprocess.run([str(hfpc) if hfpc.is_file() else "hfpc", "filter", str(manifest), "-o", str(out),
                        "--profile", str(profile)], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if r.returncode not in (0, 1):
        raise SystemExit(f"hfpc filter failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    if any(x.get("error") for x in rows):
        raise SystemExit(f"error rows: {[x['error'] for x in rows if x.get('error')][:3]}")
    return wall, len(rows)


def _depth_part(directory: Path, manifest: Path, root: Path) -> None:
    from hfpc.models.depth import load_depth

    pairs = _pairs(manifest)
    print(f"{'dtype':<6}{'load s':>8}{'1 image s':>11}{'4 images s':>12}{'CLI s/pair':>12}{'peak MiB':>10}")
    for dtype in ("fp32", "bf16"):
        t0 = time.perf_counter()
        model = load_depth(str(directory), DEVICE, dtype)
        load = time.perf_counter() - t0
        imgs = [g for _, _, g in pairs][:4]
        model.predict(imgs[:1])  # warm-up
        t0 = time.perf_counter()
        model.predict(imgs[:1])
        one = time.perf_counter() - t0
        t0 = time.perf_counter()
        model.predict(imgs)
        four = time.perf_counter() - t0
        profile = root / f"depth-{dtype}.toml"
        profile.write_text(f'[checks.consistency]\n[checks.placement]\ndepth_model = "{directory}"\n'
                           f'depth_device = "{DEVICE}"\ndepth_dtype = "{dtype}"\n', encoding="utf-8")
        wall, n = _run_filter(manifest, root / f"rd-{dtype}.jsonl", profile)
        print(f"{dtype:<6}{load:>8.1f}{one:>11.2f}{four:>12.2f}{wall / n:>12.2f}{_peak_mib():>10.0f}")
    print("CLI s/pair: the whole `hfpc filter` run with the default checks and depth in placement "
          "(start-up, model loading, the classic checks included).")


def _taxonomy_part(manifest: Path) -> None:
    import torch

    from hfpc.models.encoders import build_encoder
    from hfpc.models.taxonomy_model import TaxonomyModel, scene_maps

    pairs = _pairs(manifest)
    enc = build_encoder("random-blip-base-384")
    model = TaxonomyModel.for_encoder(enc, ["good", "floating", "size_mismatch", "indistinct",
                                            "shape_hallucination", "product_altered"]).eval()
    with torch.inference_mode():
        orig = enc.encode([pairs[0][0]]).tokens
        print(f"{'batch':<6}{'s/pair':>8}{'peak MiB':>10}")
        for b in (1, 4):
            gens = [g for _, _, g in pairs][:b]
            enc.encode(gens)  # warm-up
            t0 = time.perf_counter()
            tokens = enc.encode(gens).tokens
            maps = torch.from_numpy(np.stack([scene_maps(g, ["salience"], 8) for g in gens]))
            model.logits(tokens, orig.expand(len(gens), -1, -1), maps)
            print(f"{b:<6}{(time.perf_counter() - t0) / b:>8.2f}{_peak_mib():>10.0f}")


def _vlm_part(manifest: Path) -> None:
    import torch
    from transformers import LlavaForConditionalGeneration

    from hfpc.models.random_weights import char_tokenizer, llava_config, llava_processor
    from hfpc.models.vlm import local_image, messages

    tok = char_tokenizer()
    cfg = llava_config(32000, tok.convert_tokens_to_ids("<image>"), full=True)
    cfg.text_config.vocab_size = 32000
    t0 = time.perf_counter()
    torch.manual_seed(0)
    model = LlavaForConditionalGeneration._from_config(cfg, dtype=torch.bfloat16).eval()
    built = time.perf_counter() - t0
    params = sum(p.numel() for p in model.parameters()) / 1e9
    processor = llava_processor(tok, full=True)
    o, _, g = _pairs(manifest)[0]
    inputs = processor.apply_chat_template(messages(o, g, "a product", 768, local_image), add_generation_prompt=True,
                                           tokenize=True, return_dict=True, return_tensors="pt")
    inputs["pixel_values"] = inputs["pixel_values"].to(torch.bfloat16)
    n = inputs["input_ids"].shape[1]
    with torch.inference_mode():
        t0 = time.perf_counter()
        model(**inputs)
        prefill = time.perf_counter() - t0
    print(f"{params:.2f} B parameters (built in {built:.0f} s); prompt {n} tokens (a character-level tokenizer: "
          f"a real one needs ~4× fewer for the text); prefill {prefill:.1f} s; peak {_peak_mib():.0f} MiB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=6, help="pairs in the demo set (512², one generation per original)")
    ap.add_argument("--seed", type=int, default=21)
    ap.add_argument("--keep", type=Path, help="directory for the random checkpoints (reused when present)")
    ap.add_argument("--parts", default="grounded,depth,taxonomy,vlm",
                    help="comma-separated: grounded, depth, taxonomy, vlm")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                    help="where grounded-sam and depth run (cuda on a GPU machine)")
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    global DEVICE
    DEVICE = args.device

    from hfpc.checks.reward import cpu_has_bf16
    from hfpc.data.synth import generate_demo_set
    from hfpc.models.random_weights import save_random_depth_anything, save_random_grounding_dino, save_random_sam

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        models = args.keep or root / "models"
        manifest = generate_demo_set(root / "demo", n=args.n, seed=args.seed, size=512)
        print(f"{args.n} pairs at 512²; this CPU computes bf16 natively: {cpu_has_bf16()}")
        if "depth" in parts:
            depth_dir = models / "depth-anything-v2-small-random"
            if not (depth_dir / "config.json").exists():
                save_random_depth_anything(depth_dir, full=True)
            print("\ndepth: Depth Anything V2 Small architecture, random weights")
            _depth_part(depth_dir, manifest, root)
        if "taxonomy" in parts:
            print("\ntaxonomy (rfnet): BLIP ViT-B/16 at 384 px, random weights, original's tokens cached")
            _taxonomy_part(manifest)
        if "vlm" in parts:
            print("\nvlm: prefill of one pair, ~3 B LLaVA-shaped model, random weights, bf16")
            _vlm_part(manifest)
        if "grounded" not in parts:
            return
        det, seg = models / "grounding-dino-tiny-random", models / "sam-vit-base-random"
        if not (det / "config.json").exists():
            save_random_grounding_dino(det, full=True)
        if not (seg / "config.json").exists():
            save_random_sam(seg, full=True)
        print("\ngrounded-sam: grounding-dino-tiny and SAM ViT-B architectures, random weights")
        print(f"{'dtype':<6}{'load s':>8}{'detect s':>10}{'SAM s (boxes)':>15}{'pair s':>9}"
              f"{'CLI s/pair':>12}{'peak MiB':>10}")
        for dtype in ("fp32", "bf16"):
            r = _in_process(det, seg, manifest, dtype)
            wall, n = _cli(det, seg, manifest, root, dtype)
            print(f"{dtype:<6}{r['load_s']:>8.1f}{r['detect_s']:>10.2f}{r['sam_s']:>10.2f} ({r['boxes']})"
                  f"{r['pair_s']:>9.2f}{wall / n:>12.2f}{_peak_mib():>10.0f}")
        print(f"torch threads: {r['threads']}. Pair s: analyze_pair with the original cached (segment the generated "
              "image, locate, compare). CLI s/pair: the whole `hfpc filter` run (start-up and model loading "
              "included) over the pairs. Peak MiB: this process so far (both dtypes' models loaded).")
        print("Paper's Module 2: 1.68 s/pair on a P100. Target on a GPU: >= 20 pairs/s with the original cached.")


if __name__ == "__main__":
    main()
