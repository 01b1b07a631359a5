from __future__ import annotations

from pathlib import Path

import pytest

from hfpc import Judge, Profile
from hfpc.errors import HfpcError, ProfileError
from hfpc.types import Sample


def test_default_profile_has_consistency() -> None:
    p = Profile()
    assert p.enabled()[0] == "consistency"  # later checks use where it found the products
    assert {"placement", "distinct"} <= set(p.enabled())
    assert p.settings("consistency").threshold == 0.95


def test_toml_roundtrip(tmp_path: Path) -> None:
    p = Profile(name="strict", checks={"consistency": {"threshold": 0.99, "delta_e": 8.0}})
    path = p.save(tmp_path / "strict.toml")
    q = Profile.from_toml(path)
    assert q.name == "strict"
    assert q.settings("consistency").threshold == 0.99
    assert q.resolved() == p.resolved()


@pytest.mark.parametrize(
    ("toml", "match"),
    [
        ("[checks.consistancy]\n", "Did you mean 'consistency'"),
        ("[checks.consistency]\nthreshhold = 0.9\n", "threshhold: Extra inputs are not permitted"),
        ("[checks.consistency]\nthreshold = 2\n", "threshold"),
        ("colour = 'red'\n", "colour"),
        ("this is not toml", "invalid TOML"),
    ],
)
def test_profile_errors_name_file_and_key(tmp_path: Path, toml: str, match: str) -> None:
    path = tmp_path / "p.toml"
    path.write_text(toml)
    with pytest.raises(ProfileError, match=match) as e:
        Profile.from_toml(path)
    assert str(path) in str(e.value)


def test_missing_profile_file(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="not found"):
        Profile.load(tmp_path / "none.toml")


def test_threshold_changes_decisions(demo_samples: list[Sample]) -> None:
    good = next(s for s in demo_samples if s.meta["kind"] == "good")
    assert Judge().judge(good).passed
    impossible = Profile(checks={"consistency": {"threshold": 1.0, "delta_e": 0.5}})
    v = Judge(impossible).judge(good)
    assert v.passed is False and v.checks["consistency"].threshold == 1.0


def test_disabled_check_does_not_run(demo_samples: list[Sample]) -> None:
    v = Judge(Profile(checks={"consistency": {"enabled": False}})).judge(demo_samples[0])
    assert v.checks == {} and v.passed is True


def test_env_pixel_limit_applies_unless_profile_sets_one(demo_samples: list[Sample], tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    s = demo_samples[0]
    monkeypatch.setenv("HFPC_MAX_IMAGE_PIXELS", "1000")
    v = Judge().judge(s)
    assert v.passed is None and "exceeds the limit of 1,000" in (v.error or "")
    # a profile file that does not name the limit leaves it to the environment, also after a save
    path = Profile(name="plain").save(tmp_path / "plain.toml")
    assert "max_image_pixels" not in path.read_text()
    v = Judge(path).judge(s)
    assert "exceeds the limit of 1,000" in (v.error or "")
    # an explicit profile value wins over the environment
    explicit = Profile(max_image_pixels=10**8)
    assert Judge(explicit).judge(s).error is None
    path = explicit.save(tmp_path / "explicit.toml")
    assert Profile.from_toml(path).max_image_pixels == 10**8
    assert Judge(path).judge(s).error is None
    monkeypatch.setenv("HFPC_MAX_IMAGE_PIXELS", "lots")
    with pytest.raises(HfpcError, match="HFPC_MAX_IMAGE_PIXELS.*'lots'"):
        Judge()


def test_non_utf8_profile_is_a_clear_error(tmp_path) -> None:
    import pytest as _pytest

    from hfpc.errors import ProfileError
    from hfpc.profile import Profile as _Profile

    p = tmp_path / "latin1.toml"
    p.write_bytes(b'[checks.consistency]\nthreshold = 0.9\nname_note = "caf\xe9"\n')
    with _pytest.raises(ProfileError, match=r"latin1.toml:3: not UTF-8 text \(byte 0xe9\)"):
        _Profile.load(p)
