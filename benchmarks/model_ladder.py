"""The book's language models on one text, at equal wall time, and three GPT ablations.

Every model reads windows of 128 characters of Tiny Shakespeare (the first
90 % of the characters to train on, as in chapter 11) and predicts every
position from what the window shows it. Each trained model gets the same
number of seconds of training steps (``--seconds``), one after another in one
process with the same number of threads; all are then measured on the same
200 random windows of the held-out text (the last 10 %), the windows of
chapter 11's benchmark, in nats per character. Models:

* ``bigram``: chapter 4's counting model (the previous character only; counted
  on the training text, add-one smoothing, no training time);
* ``context-mlp``: chapter 4's Bengio-style MLP (the previous 8 characters,
  embeddings of 16, 256 tanh units); before the window's first character it
  sees line breaks;
* ``lstm``: chapter 7's character LSTM (embeddings of 64, 256 units), reading
  the window from its first character;
* ``gpt``: chapter 11's GPT and recipe (``BOOK_MODEL``, ``BOOK_TRAIN``);
* ``gpt-no-position``, ``gpt-one-head``, ``gpt-no-residual``: that GPT with no
  position information at all, with one head of 128 dimensions instead of
  four of 32, and without its residual connections.

The MLP and the LSTM train with AdamW (batches of 32 windows, gradients
clipped to norm 1) at a learning rate that decays linearly to a tenth of its
peak over the time budget; the GPTs with ``train_gpt`` and chapter 11's recipe.

Usage (offline: set LLMBOOK_DATA_DIR to the folder with the corpora)::

    python benchmarks/model_ladder.py --seconds 60 --out src/llmbook/results/model_ladder.json
    python benchmarks/model_ladder.py --smoke            # a few seconds, to check it runs
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from llmbook.batches import random_windows
from llmbook.gpt_train import BOOK_MODEL, BOOK_TRAIN, train_gpt
from llmbook.models.gpt import GPT, GPTConfig
from llmbook.models.mlp_lm import BigramModel, ContextMLP
from llmbook.models.rnn import CharLSTM
from llmbook.nn_basics import count_parameters
from llmbook.train import evaluate, train_step

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpt_shakespeare import machine, shakespeare_split  # noqa: E402  (the same data and record)

BLOCK, BATCH = BOOK_MODEL["block_size"], BOOK_TRAIN.batch_size


class WindowMLP(nn.Module):
    """Chapter 4's context MLP applied at every position of a window ``(B, T) -> (B, T, V)``."""

    def __init__(self, vocab_size: int, context: int = 8) -> None:
        super().__init__()
        self.context = context
        self.mlp = ContextMLP(vocab_size, context=context, embed_dim=16, hidden=256)

    def forward(self, idx: Tensor) -> Tensor:
        padded = F.pad(idx, (self.context - 1, 0))  # id 0, a line break, before the window
        return self.mlp(padded.unfold(1, self.context, 1))  # (B, T, context) -> (B, T, V)


class BigramWindows(nn.Module):
    """The counted bigram as a window model: log-probabilities of the next character."""

    def __init__(self, train: Tensor, vocab_size: int) -> None:
        super().__init__()
        self.bigram = BigramModel.from_ids(train, vocab_size, smoothing=1.0)

    def forward(self, idx: Tensor) -> Tensor:
        return self.bigram(idx)


#: The GPT ablations: changes to chapter 11's model options.
ABLATIONS = {"gpt": {}, "gpt-no-position": {"position": "none"},
             "gpt-one-head": {"n_head": 1}, "gpt-no-residual": {"residual": False}}
DESCRIPTIONS = {
    "bigram": "bigram counts (chapter 4): the previous character",
    "context-mlp": "context MLP (chapter 4): the previous 8 characters",
    "lstm": "LSTM (chapter 7): the window so far, in its memory",
    "gpt": "GPT (chapter 11): attention over the window so far",
    "gpt-no-position": "the GPT without any position information",
    "gpt-one-head": "the GPT with one head of 128 dimensions per block, not four of 32",
    "gpt-no-residual": "the GPT without residual connections",
}
MODELS = ["bigram", "context-mlp", "lstm", *ABLATIONS]


def train_for(model: nn.Module, train: Tensor, seconds: float, lr: float, seed: int) -> int:
    """AdamW on random windows for ``seconds`` of training steps; returns the number of steps."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    steps, spent = 0, 0.0
    model.train()
    while spent < seconds:
        start = time.perf_counter()
        batch = random_windows(train, BATCH, BLOCK, generator=generator)
        train_step(model, batch, optimizer, lr=lr * (1 - 0.9 * spent / seconds), clip_grad_norm=1.0)
        spent += time.perf_counter() - start
        steps += 1
    return steps


def run(name: str, seconds: float, train: Tensor, val: Tensor, vocab_size: int, seed: int = 0) -> dict:
    """Build and train model ``name``; return its row of the table."""
    torch.manual_seed(seed)
    if name == "bigram":
        model, steps = BigramWindows(train, vocab_size), 0
    elif name in ("context-mlp", "lstm"):
        model = WindowMLP(vocab_size) if name == "context-mlp" else CharLSTM(vocab_size, 64, 256)
        steps = train_for(model, train, seconds, lr=3e-3 if name == "context-mlp" else 1e-2, seed=seed)
    else:
        cfg = dataclasses.replace(BOOK_TRAIN, time_budget=seconds, max_iters=10**9, seed=seed,
                                  eval_interval=10**9, eval_iters=1)  # the real evaluation follows
        model = GPT(GPTConfig(vocab_size=vocab_size, **{**BOOK_MODEL, **ABLATIONS[name]}))
        steps = train_gpt(model, train, val, cfg, progress=False).iterations
    val_loss = window_loss(model, val)
    # the bigram's numbers are its V x V table of counts, not trained parameters
    size = vocab_size**2 if name == "bigram" else count_parameters(model)
    return {"model": name, "what": DESCRIPTIONS[name], "seed": seed,
            "parameters": size, "steps": steps,
            "tokens": steps * BATCH * BLOCK, "val_loss": val_loss,
            "seconds": seconds if steps else 0.0}


def window_loss(model: nn.Module, val: Tensor) -> float:
    """Nats per character on the 200 held-out windows of chapter 11's benchmark
    (``estimate_loss(model, val, 10, 20, seed=1234)`` for a GPT)."""
    generator = torch.Generator().manual_seed(1234)
    return evaluate(model, lambda: random_windows(val, 10, BLOCK, generator=generator), steps=20)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="training seconds per model (default 60)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--models", default=",".join(MODELS), help=f"comma-separated, from: {', '.join(MODELS)}")
    parser.add_argument("--out", help="write the results to this JSON file "
                        "(chapter 11 reads src/llmbook/results/model_ladder.json)")
    parser.add_argument("--smoke", action="store_true", help="every model for 1 second: check that it runs")
    args = parser.parse_args(argv)
    if not args.seconds > 0:
        parser.error(f"--seconds must be positive, got {args.seconds}")
    if args.threads < 1:
        parser.error(f"--threads must be at least 1, got {args.threads}")
    names = [m for m in args.models.split(",") if m]
    unknown = [m for m in names if m not in MODELS]
    if unknown:
        parser.error(f"unknown models {unknown}; choose from {', '.join(MODELS)}")
    seconds = 1.0 if args.smoke else args.seconds
    torch.set_num_threads(args.threads)

    vocab_size, train, val = shakespeare_split()
    info = machine(args.threads)
    print(f"{seconds:g} s of training per model; {info}", flush=True)
    rows = []
    for name in names:
        rows.append(run(name, seconds, train, val, vocab_size))
        print(f"  {name}: val loss {rows[-1]['val_loss']:.3f} after {rows[-1]['steps']:,} steps", flush=True)
    info["load_average_after"] = round(os.getloadavg()[0], 1)
    result = {"seconds": seconds, "machine": info, "rows": rows}
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    sys.exit(main() and 0)
