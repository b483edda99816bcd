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
    assert {"nanogpt-cpu", "gpt2-book", "book"} <= recipes
    assert len([r for r in results["rows"] if r["recipe"] == "book"]) >= 2  # two seeds
    assert {"date", "cpus", "threads", "processor"} <= set(results["machine"])
    with pytest.raises(FileNotFoundError, match="no benchmark results named 'nothing'"):
        benchmark_results("nothing")
