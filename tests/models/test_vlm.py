"""The VLM judge: answer parsing, and the endpoint backend against a fake OpenAI-compatible server
on loopback (valid, fenced, invalid-then-valid, invalid twice, HTTP 500, too slow) through
``hfpc label`` and ``hfpc filter``."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hfpc.cli import app
from hfpc.data.manifests import read_manifest
from hfpc.models.vlm import parse_answer

runner = CliRunner()

PASS = ('{"passed": true, "reason": "good", "rationale": "the bottle is unchanged and stands on the table", '
        '"confidence": 0.9}')
FLOAT = ('```json\n{"passed": false, "reason": "floating", "rationale": "the bottle hovers above the table", '
         '"confidence": 0.8}\n```')
ALTERED = '{"passed": false, "reason": "product_altered", "rationale": "the label changed", "confidence": 0.7}'
CONTRADICTION = '{"passed": true, "reason": "floating", "rationale": "x", "confidence": 0.5}'


def test_answers_are_validated_not_guessed() -> None:
    assert parse_answer(PASS).passed and parse_answer(PASS).reason == "good"
    a = parse_answer(FLOAT)
    assert not a.passed and a.reason == "floating" and a.confidence == 0.8
    assert parse_answer(FLOAT.replace('"floating"', '"space mismatch"')).reason == "floating"  # RF1M's words
    for bad, why in [("it looks fine", "no JSON object"), ('{"passed": true,', "no JSON object"),
                     ('{"passed": tru}', "not valid JSON"), (CONTRADICTION, "contradicts"),
                     (PASS.replace('"good"', '"ugly"'), "unknown reason"),
                     (PASS.replace("0.9", "1.5"), "confidence"),
                     (PASS.replace(', "confidence": 0.9', ""), "confidence")]:
        with pytest.raises(ValueError, match=why):
            parse_answer(bad)


class _Fake(BaseHTTPRequestHandler):
    """Answers by the product caption in the request: the scenario to play."""

    requests: list[dict] = []

    def log_message(self, *a: object) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Fake.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        first = body["messages"][1]["content"][0]["text"]
        retried = len(body["messages"]) > 2
        scenario = first.split("Product caption: ")[1].split("\n")[0]
        if scenario == "server-error":
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b"model crashed")
            return
        if scenario == "slow":
            time.sleep(2.5)
        content = {"pass": PASS, "float": FLOAT, "invalid-then-valid": ALTERED if retried else "it is fine",
                   "invalid": CONTRADICTION, "slow": PASS}[scenario]
        data = json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def server() -> Iterator[str]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Fake)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    _Fake.requests = []
    yield f"http://127.0.0.1:{srv.server_address[1]}/v1"
    srv.shutdown()
    srv.server_close()


SCENARIOS = ["pass", "float", "invalid-then-valid", "invalid", "server-error", "slow"]


@pytest.fixture
def manifest(demo_set: Path) -> Path:
    rows = [json.loads(x) for x in demo_set.read_text().splitlines()][:len(SCENARIOS)]
    for row, scenario in zip(rows, SCENARIOS):
        row["caption"] = scenario
    m = demo_set.parent / "vlm.jsonl"
    m.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return m


def test_label_writes_pseudo_labels_and_records_every_failure(server: str, manifest: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HFPC_TEST_KEY", "sk-test")
    out = tmp_path / "labelled.jsonl"
    r = runner.invoke(app, ["label", str(manifest), "-o", str(out), "--vlm", "served-vlm", "--endpoint", server,
                            "--api-key-env", "HFPC_TEST_KEY", "--timeout", "1", "--concurrency", "3"])
    assert r.exit_code == 2, r.output  # some pairs could not be labelled
    assert "3 pairs could not be labelled" in r.output
    labelled = {s.caption: s for s in read_manifest(out)}
    assert set(labelled) == {"pass", "float", "invalid-then-valid"}
    assert labelled["pass"].label == 1 and labelled["pass"].failure is None
    assert labelled["float"].label == 0 and labelled["float"].failure == "floating"
    assert labelled["invalid-then-valid"].failure == "product_altered"
    assert labelled["float"].meta["rationale"] == "the bottle hovers above the table"
    assert labelled["float"].meta["label_source"] == "vlm:served-vlm"
    errors = {row["id"]: row["error"] for row in map(json.loads, out.with_name(out.name + ".answers.jsonl")
                                                    .read_text().splitlines()) if row.get("error")}
    assert len(errors) == 3
    text = " | ".join(errors.values())
    assert "HTTP 500" in text and "no answer within 1 s" in text and "invalid answer twice" in text
    req = _Fake.requests[0]
    assert req["path"] == "/v1/chat/completions" and req["auth"] == "Bearer sk-test"
    assert req["body"]["model"] == "served-vlm" and req["body"]["response_format"]["type"] == "json_schema"
    images = [c for c in req["body"]["messages"][1]["content"] if c["type"] == "image_url"]
    assert len(images) == 2 and all(c["image_url"]["url"].startswith("data:image/jpeg;base64,") for c in images)


def test_filter_with_the_vlm_backend_names_the_reason_and_keeps_the_rationale(server: str, manifest: Path,
                                                                               tmp_path: Path) -> None:
    profile = tmp_path / "vlm.toml"
    profile.write_text(f'[checks.taxonomy]\nbackend = "vlm"\nendpoint = "{server}"\nmodel = "served-vlm"\n'
                       'timeout = 1\n')
    res = tmp_path / "r.jsonl"
    r = runner.invoke(app, ["filter", str(manifest), "-o", str(res), "-p", str(profile)])
    assert r.exit_code == 2, r.output
    rows = {row["id"]: row for row in map(json.loads, res.read_text().splitlines())}
    by = {s.caption: rows[s.id] for s in read_manifest(manifest)}
    assert by["pass"]["passed"]
    assert "unchanged and stands on the table" in by["pass"]["checks"]["taxonomy"]["explanation"]
    assert by["float"]["failure"] == "floating" and by["float"]["reasons"][0]["check"] == "taxonomy"
    assert by["server-error"]["error"] and by["server-error"]["passed"] is None
    n_asked = len(_Fake.requests)
    assert n_asked <= 8  # one each, one retry for the two invalid answers: never asked twice per batch


def test_vlm_profile_needs_a_model(tmp_path: Path) -> None:
    profile = tmp_path / "vlm.toml"
    profile.write_text('[checks.taxonomy]\nbackend = "vlm"\nendpoint = "http://127.0.0.1:9/v1"\n')
    r = runner.invoke(app, ["profile", "show", str(profile)])
    assert r.exit_code == 2 and "needs model" in r.output


# ---- a tiny random LLaVA in this process, saved and loaded back like a downloaded checkpoint ----


@pytest.fixture(scope="module")
def tiny_vlm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from hfpc.models.random_weights import save_random_llava

    return save_random_llava(tmp_path_factory.mktemp("vlm") / "llava")


def test_a_local_model_that_answers_noise_gives_error_rows_not_guesses(tiny_vlm: Path, manifest: Path,
                                                                      tmp_path: Path) -> None:
    profile = tmp_path / "local.toml"
    profile.write_text(f'[checks.taxonomy]\nbackend = "vlm"\nmodel = "{tiny_vlm}"\ndevice = "cpu"\n'
                       'max_new_tokens = 24\nmax_side = 64\n')
    res = tmp_path / "r.jsonl"
    r = runner.invoke(app, ["filter", str(manifest), "-o", str(res), "-p", str(profile)])
    assert r.exit_code == 2, r.output
    rows = [json.loads(x) for x in res.read_text().splitlines()]
    assert rows and all(row["passed"] is None and "invalid answer twice" in row["error"] for row in rows)


def test_a_local_model_answer_becomes_a_pseudo_label(tiny_vlm: Path, manifest: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    torch = pytest.importorskip("torch")
    from hfpc.models import vlm

    net, processor, _, _ = vlm.load_local_vlm(str(tiny_vlm), "auto", "auto")  # what `hfpc label` loads
    answer = processor.tokenizer(FLOAT, add_special_tokens=False, return_tensors="pt")["input_ids"]
    seen: list[int] = []

    def generate(**inputs: object) -> object:
        ids = inputs["input_ids"]
        seen.append(int(inputs["pixel_values"].shape[0]))  # both images reach the model
        return torch.cat([ids, answer], dim=1)

    monkeypatch.setattr(net, "generate", generate)
    out = tmp_path / "labelled.jsonl"
    one = tmp_path / "one.jsonl"
    one.write_text(manifest.read_text().splitlines()[0] + "\n")
    (tmp_path / "originals").symlink_to(manifest.parent / "originals")
    (tmp_path / "generated").symlink_to(manifest.parent / "generated")
    r = runner.invoke(app, ["label", str(one), "-o", str(out), "--vlm", str(tiny_vlm)])
    assert r.exit_code == 0, r.output
    (s,) = read_manifest(out)
    assert s.label == 0 and s.failure == "floating" and s.meta["confidence"] == 0.8
    assert s.meta["label_source"] == f"vlm:{tiny_vlm}" and seen == [2]
