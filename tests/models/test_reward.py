from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from hfpc import Judge, Profile, read_manifest, read_results, run_filter
from hfpc.errors import ProfileError
from hfpc.models.encoders import ImageEncoder
from hfpc.models.irrm import RewardConfig, RewardModel
from hfpc.training.balance import balance_groups
from hfpc.training.groups import build_groups, split_by_original
from hfpc.training.loop import TrainConfig, train_reward
from hfpc.training.losses import class_loss, hfpc_loss, rank_loss


def test_losses_match_hand_computed_values() -> None:
    rp, rf = torch.tensor([2.0, 0.0]), torch.tensor([0.0, 1.0])
    expected = np.mean([np.log1p(np.exp(-2.0)), np.log1p(np.exp(1.0))])
    assert rank_loss(rp, rf).item() == pytest.approx(expected, rel=1e-6)
    r, y = torch.tensor([0.0, 3.0]), torch.tensor([1, 0])
    assert class_loss(r, y).item() == pytest.approx(np.mean([np.log(2), np.log1p(np.exp(3.0))]), rel=1e-6)
    total, parts = hfpc_loss(r, y, torch.tensor([[0, 1]]), use_class=False)
    assert parts["class"] == 0 and total.item() == pytest.approx(np.log1p(np.exp(3.0)), rel=1e-6)


def test_groups_and_split(reward_set: tuple[Path, Path]) -> None:
    samples = read_manifest(reward_set[0])
    groups = build_groups(samples)
    assert len(groups) == 8 and all(len(g.samples) == 6 for g in groups)
    assert sum(len(g.pairs()) for g in groups) > 0
    tr, va = split_by_original(samples, 0.25, seed=0)
    assert {s.original for s in tr}.isdisjoint({s.original for s in va})
    assert len(tr) + len(va) == len(samples) and len(va) == 12


def test_balance_oversamples_small_clusters() -> None:
    emb = np.concatenate([np.zeros((10, 2)), np.ones((2, 2)) * 5, np.ones((3, 2)) * -5])
    b = balance_groups(emb, k=3, seed=0)
    assert sorted(b.before) == [2, 3, 10]
    assert sorted(b.after) == [3, 3, 10]  # median target
    assert len(b.indices) == 16 and set(b.indices) == set(range(15))


@pytest.mark.parametrize("fusion", ["attention", "concat", "none"])
def test_head_shapes_and_checkpoint_roundtrip(tmp_path: Path, tiny_blip: Path, fusion: str) -> None:
    enc = ImageEncoder.from_pretrained(str(tiny_blip))
    model = RewardModel.for_encoder(enc, fusion=fusion, num_heads=2, mlp_hidden=16).eval()
    imgs = [np.random.default_rng(i).integers(0, 255, (40, 40, 3), dtype=np.uint8) for i in range(3)]
    before = model.score_images(imgs, imgs[::-1])
    model.config.encoder = str(tiny_blip)
    model.save_pretrained(tmp_path / "ck")
    loaded = RewardModel.from_pretrained(tmp_path / "ck")
    assert torch.equal(before, loaded.score_images(imgs, imgs[::-1]))
    assert json.loads((tmp_path / "ck" / "config.json").read_text())["fusion"] == fusion


def test_strict_head_loading(tmp_path: Path, tiny_blip: Path) -> None:
    from safetensors.torch import load_file, save_file

    model = RewardModel(RewardConfig(encoder=str(tiny_blip), hidden_size=32, num_heads=2, mlp_hidden=16))
    model.save_pretrained(tmp_path / "ck")
    state = load_file(str(tmp_path / "ck" / "model.safetensors"))
    state.pop("pool.weight")
    save_file(state, str(tmp_path / "ck" / "model.safetensors"))
    with pytest.raises(RuntimeError, match="pool.weight"):
        RewardModel.from_pretrained(tmp_path / "ck", load_encoder=False)


@pytest.fixture(scope="module")
def trained(reward_set: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("ck") / "reward"
    cfg = TrainConfig(encoder="random-vit-tiny", epochs=20, lr=3e-3, batch_groups=2, patience=50, balance_k=3,
                      num_heads=4, mlp_hidden=64, dropout=0.0, finetune_blocks=0,
                      cache_dir=str(out.parent / "cache"))
    summary = train_reward(read_manifest(reward_set[0]), read_manifest(reward_set[1]), cfg, out)
    return out, summary


def test_training_loss_falls_and_logs(trained: tuple[Path, dict]) -> None:
    out, summary = trained
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 20
    assert rows[-1]["train_loss"] < 0.5 * rows[0]["train_loss"]
    assert (out / "metrics.csv").read_text().startswith("epoch,")
    assert summary["balance"]["enabled"] and sum(summary["balance"]["after"]) >= 8
    assert (out / "encoder" / "config.json").is_file()  # a random encoder travels with the checkpoint
    assert list((out.parent / "cache").rglob("*.safetensors"))


def test_training_overfits_a_handful_of_groups(trained: tuple[Path, dict]) -> None:
    out, summary = trained
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["train_rank"] < 0.15 and rows[-1]["train_class"] < 0.3
    assert summary["best_epoch"] == max(rows, key=lambda r: r["val_auc"])["epoch"]


def test_saved_checkpoint_reloads_to_identical_scores(trained: tuple[Path, dict], reward_set: tuple[Path, Path]
                                                      ) -> None:
    from hfpc import load_image

    out, _ = trained
    samples = read_manifest(reward_set[1])[:5]
    o = [load_image(s.original).rgb for s in samples]
    g = [load_image(s.generated).rgb for s in samples]
    assert torch.equal(RewardModel.from_pretrained(out).score_images(o, g),
                       RewardModel.from_pretrained(out).score_images(o, g))


def test_judge_with_reward_check(trained: tuple[Path, dict], reward_set: tuple[Path, Path], tmp_path: Path) -> None:
    out, _ = trained
    profile = Profile(name="with-reward", checks={"consistency": {}, "reward": {"checkpoint": str(out)}})
    samples = read_manifest(reward_set[1])[:6]
    res = tmp_path / "r.jsonl"
    run_filter(samples, res, profile, workers=1, artifacts_dir=tmp_path / "art")
    rows = read_results(res)
    assert len(rows) == 6
    for row in rows:
        c = row["checks"]["reward"]
        assert 0 <= c["value"] <= 1 and c["threshold"] == 0.5 and (tmp_path / c["artifacts"]["heatmap"]).is_file()
    # scores do not depend on how many samples share a batch
    single = Judge(profile).judge(samples[3]).checks["reward"].value
    assert single == pytest.approx(rows[[r["id"] for r in rows].index(samples[3].id)]["checks"]["reward"]["value"],
                                   abs=1e-5)


def test_reward_profile_needs_checkpoint() -> None:
    with pytest.raises(ProfileError, match="checkpoint"):
        Profile(checks={"reward": {}})


def test_finetuning_last_blocks_changes_and_saves_the_encoder(reward_set: tuple[Path, Path], tmp_path: Path) -> None:
    from hfpc.models.encoders import random_encoder

    cfg = TrainConfig(encoder="random-vit-tiny", epochs=1, batch_groups=4, balance_k=0, finetune_blocks=1,
                      encoder_lr=1e-2, num_heads=4, mlp_hidden=32)
    train_reward(read_manifest(reward_set[0]), read_manifest(reward_set[1]), cfg, tmp_path / "ft")
    saved = ImageEncoder.from_pretrained(str(tmp_path / "ft" / "encoder")).tower.state_dict()
    start = random_encoder("random-vit-tiny", seed=0).tower.state_dict()
    changed = {k for k in start if not torch.equal(start[k], saved[k])}
    assert any(k.startswith("encoder.layers.1.") for k in changed)
    assert not any(k.startswith(("encoder.layers.0.", "embeddings.")) for k in changed)


def test_default_embedding_cache_follows_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hfpc.training.cache import default_cache_dir

    monkeypatch.setenv("HFPC_CACHE_DIR", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c" / "embeddings"
    monkeypatch.delenv("HFPC_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert default_cache_dir() == tmp_path / "x" / "hfpc" / "embeddings"
