"""benchmarks/model_ladder.py: its window models, its arguments, a short run of every kind of
model, and the results shipped for chapter 11 (the full runs are a timed benchmark, not a test)."""

from __future__ import annotations

import importlib.util
import math
import re
from pathlib import Path

import pytest
import torch

from llmbook.gpt_train import benchmark_results

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "model_ladder.py"


@pytest.fixture(scope="module")
def ladder():
    spec = importlib.util.spec_from_file_location("model_ladder", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_window_mlp_reads_the_previous_characters(ladder) -> None:
    torch.manual_seed(0)
    model = ladder.WindowMLP(vocab_size=11, context=3)
    idx = torch.randint(1, 11, (2, 6))
    logits = model(idx)
    assert logits.shape == (2, 6, 11)
    # position t sees ids t-2..t, with id 0 before the window's start
    padded = torch.cat([torch.zeros(2, 2, dtype=torch.long), idx], dim=1)
    for t in range(6):
        torch.testing.assert_close(logits[:, t], model.mlp(padded[:, t:t + 3]))


def test_bigram_window_loss_is_the_counted_cross_entropy(ladder) -> None:
    ids = torch.tensor([0, 1, 2, 1, 2, 0, 1] * 40)
    model = ladder.BigramWindows(ids, vocab_size=3)
    x, y = ids[:-1][None], ids[1:][None]
    counts = torch.ones(3, 3)  # add-one smoothing
    for a, b in zip(ids[:-1].tolist(), ids[1:].tolist()):
        counts[a, b] += 1
    expected = -(counts / counts.sum(1, keepdim=True)).log()[x, y].mean()
    got = torch.nn.functional.cross_entropy(model(x).reshape(-1, 3), y.reshape(-1))
    torch.testing.assert_close(got, expected)


@pytest.mark.parametrize(("argv", "message"), [
    (["--seconds", "0"], "--seconds must be positive"),
    (["--threads", "0"], "--threads must be at least 1"),
    (["--models", "gpt,transformer-xl"], r"unknown models \['transformer-xl'\]"),
])
def test_bad_arguments(ladder, argv: list[str], message: str, capsys) -> None:
    with pytest.raises(SystemExit):
        ladder.main(argv)
    assert re.search(message, capsys.readouterr().err)


@pytest.mark.parametrize("name", ["bigram", "context-mlp", "lstm", "gpt-no-residual"])
def test_a_short_run_of_each_kind(ladder, name: str) -> None:
    torch.manual_seed(0)
    ids = torch.randint(0, 7, (3000,))
    row = ladder.run(name, 0.2, ids[:2500], ids[2500:], vocab_size=7)
    assert math.isfinite(row["val_loss"]) and row["model"] == name
    if name == "bigram":  # counted, not trained; its size is its table of counts
        assert row["steps"] == 0 and row["seconds"] == 0.0 and row["parameters"] == 49
    else:
        assert row["steps"] > 0 and row["tokens"] == row["steps"] * ladder.BATCH * ladder.BLOCK


def test_shipped_results_have_every_model() -> None:
    results = benchmark_results("model_ladder")
    rows = {r["model"]: r for r in results["rows"]}
    assert list(rows) == ["bigram", "context-mlp", "lstm", "gpt", "gpt-no-position", "gpt-one-head",
                          "gpt-no-residual"]
    assert {"date", "cpus", "threads", "processor"} <= set(results["machine"])
    # the ablations change the model, not its size (one head of 128 has the same matrices as four of 32)
    assert rows["gpt"]["parameters"] == rows["gpt-one-head"]["parameters"] == rows["gpt-no-residual"]["parameters"]
