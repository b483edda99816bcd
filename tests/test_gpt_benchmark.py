"""benchmarks/gpt_shakespeare.py: its recipes, its arguments and the merging of result files
(the runs themselves are timed benchmarks, not tests; `--smoke` runs them for 2 seconds)."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
from pathlib import Path

import pytest

from llmbook.gpt_train import BOOK_MODEL, BOOK_TRAIN, GPT2_BOOK_MODEL, benchmark_results

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpt_shakespeare.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("gpt_shakespeare", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_changes_added_one_at_a_time_end_at_the_book_recipe(bench) -> None:
    model, train = bench.RECIPES["+wsd"]
    assert model == BOOK_MODEL
    # the benchmark sets the length of every run and evaluates it itself
    ignore = {"eval_interval": 1, "eval_iters": 1, "max_iters": 1, "time_budget": None}
    assert dataclasses.replace(train, **ignore) == dataclasses.replace(BOOK_TRAIN, **ignore)
    assert bench.RECIPES["gpt2-book"][0] == GPT2_BOOK_MODEL
    # each "+change" row differs from the row before it
    names = ["gpt2-book", *(f"+{c}" for c in bench.CHANGES)]
    for before, after in zip(names, names[1:]):
        assert bench.RECIPES[before] != bench.RECIPES[after]


def test_removing_one_change_from_the_book_recipe(bench) -> None:
    assert bench.RECIPES["book-no-rotary"][0]["position"] == "learned"
    assert bench.RECIPES["book-no-muon"][1].optimizer == "adamw"
    assert all(name in bench.DESCRIPTIONS for name in bench.DEFAULT)


@pytest.mark.parametrize(("argv", "message"), [
    (["--seconds", "0"], "--seconds must be positive"),
    (["--threads", "0"], "--threads must be at least 1"),
    (["--recipes", "book,gpt5"], r"unknown recipes \['gpt5'\]"),
    (["--merge", "a.json"], "--merge needs --out"),
    (["--recipes", ","], "--recipes names no recipe"),
])
def test_bad_arguments(bench, argv: list[str], message: str, capsys) -> None:
    with pytest.raises(SystemExit):
        bench.main(argv)
    assert __import__("re").search(message, capsys.readouterr().err)


def test_merge(bench, tmp_path: Path) -> None:
    row = {"recipe": "book", "what": "x", "seed": 0, "parameters": 1, "iterations": 2, "tokens": 3,
           "val_loss": 1.5, "seconds": 10.0}
    for i, name in enumerate(["nanogpt-cpu", "book"]):
        (tmp_path / f"{i}.json").write_text(json.dumps(
            {"seconds": 10.0, "machine": {"cpus": 16}, "note": "idle", "rows": [{**row, "recipe": name}]}))
    out = tmp_path / "all.json"
    result = bench.main(["--merge", str(tmp_path / "0.json"), str(tmp_path / "1.json"), "--out", str(out)])
    assert [r["recipe"] for r in result["rows"]] == ["nanogpt-cpu", "book"]
    assert json.loads(out.read_text()) == result and result["note"] == "idle"
    (tmp_path / "2.json").write_text(json.dumps({"seconds": 20.0, "machine": {}, "rows": []}))
    with pytest.raises(SystemExit, match="different lengths"):
        bench.merge([str(tmp_path / "0.json"), str(tmp_path / "2.json")])


def test_shipped_results_have_the_chapters_rows() -> None:
    results = benchmark_results("gpt_shakespeare")
    recipes = {r["recipe"] for r in results["rows"]}
    assert {"nanogpt-cpu", "gpt2-book", "book", "nanogpt-cpu-published", "book-same-time"} <= recipes
    assert len([r for r in results["rows"] if r["recipe"] == "book"]) >= 2  # two seeds
    assert {"date", "cpus", "threads", "processor"} <= set(results["machine"])
    with pytest.raises(FileNotFoundError, match="no benchmark results named 'nothing'"):
        benchmark_results("nothing")


def test_nanogpts_published_run_and_the_book_for_the_same_seconds(bench, monkeypatch) -> None:
    """nanoGPT's published run trains for its own iterations; the book's recipe then gets its seconds."""
    assert bench.RECIPES[bench.PUBLISHED][1].max_iters == 2000 and bench.DEFAULT[-2:] == [
        bench.PUBLISHED, bench.SAME_TIME]
    calls = []

    def fake_run(name, seed, seconds, *args):
        calls.append((name, seed, seconds))
        return {"recipe": name, "what": name, "seed": seed, "parameters": 1, "iterations": 1,
                "tokens": 1, "val_loss": 2.0, "seconds": 60.0 + seed if seconds is None else seconds}

    monkeypatch.setattr(bench, "run", fake_run)
    monkeypatch.setattr(bench, "shakespeare_split", lambda: (3, None, None))
    bench.main(["--recipes", f"{bench.PUBLISHED},{bench.SAME_TIME}", "--final-seeds", "0,1"])
    assert calls == [(bench.PUBLISHED, 0, None), (bench.PUBLISHED, 1, None),
                     (bench.SAME_TIME, 0, 60.0), (bench.SAME_TIME, 1, 61.0)]


def test_same_time_needs_the_published_run_first(bench, capsys) -> None:
    with pytest.raises(SystemExit):
        bench.main(["--recipes", f"{bench.SAME_TIME},{bench.PUBLISHED}"])
    assert "book-same-time needs nanogpt-cpu-published before it" in capsys.readouterr().err


def test_a_run_without_seconds_trains_for_its_own_iterations(bench, monkeypatch) -> None:
    import torch

    tiny = bench.TrainConfig(max_iters=3, batch_size=2, warmup_iters=1, bf16=False)
    monkeypatch.setitem(bench.RECIPES, "tiny", (dict(block_size=8, n_layer=1, n_head=1, n_embd=8), tiny))
    data = torch.randint(0, 5, (200,))
    row = bench.run("tiny", 0, None, data, data, 5)
    assert row["iterations"] == 3 and row["tokens"] == 3 * 2 * 8
    assert bench.run("tiny", 0, 0.5, data, data, 5)["iterations"] > 3  # a time budget overrides max_iters
