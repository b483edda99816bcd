"""benchmarks/gpt_gpu.py in smoke mode: the GPU benchmark's code path, on the CPU, in seconds."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from llmbook.scaling import gpu_benchmark

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpt_gpu.py"


def load_script():
    spec = importlib.util.spec_from_file_location("gpt_gpu", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_smoke_run_writes_the_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = load_script()
    text = "First Citizen:\nBefore we proceed any further, hear me speak.\n" * 40
    monkeypatch.setattr(script, "load_corpus", lambda name: text)
    out = tmp_path / "results" / "smoke.json"
    script.main([str(out), "--smoke", "--device", "cpu"])
    results = json.loads(out.read_text())
    assert results["smoke"] is True and results["device_type"] == "cpu"
    assert [r["recipe"] for r in results["runs"]] == ["nanoGPT GPU", "book", "gpt2-book"]
    for run in results["runs"]:
        assert run["iters"] == [0, 3, 6]
        assert len(run["train_loss"]) == len(run["val_loss"]) == 3
        assert run["best_val_loss"] == min(run["val_loss"])
        assert run["val_loss"][run["iters"].index(run["best_iter"])] == run["best_val_loss"]
        assert run["final_val_loss"] > 0 and run["seconds"] > 0
    assert results["runs"][0]["model"]["dropout"] == 0.2  # nanoGPT's GPU recipe, shrunk
    assert results["runs"][0]["model"]["bias"] is False
    assert gpu_benchmark(out) == results


def test_only_one_recipe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = load_script()
    monkeypatch.setattr(script, "load_corpus", lambda name: "to be or not to be, that is the question\n" * 30)
    results = script.main([str(tmp_path / "x.json"), "--smoke", "--device", "cpu", "--only", "book"])
    assert [r["recipe"] for r in results["runs"]] == ["book"]


def test_unknown_device_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown device"):
        load_script().main([str(tmp_path / "x.json"), "--smoke", "--device", "tpu"])


def test_missing_results_file_is_none(tmp_path: Path) -> None:
    assert gpu_benchmark(tmp_path / "absent.json") is None
