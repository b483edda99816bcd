"""Train the book's small GPT and nanoGPT's CPU baseline on Tiny Shakespeare, side by side.

Both runs use the same code (``llmbook.models.gpt`` and ``train_gpt``), the
same data split (the first 90 % of the characters for training, the last
10 % for validation) and the same evaluation; only the recipe differs:

* ``nanoGPT CPU``: nanoGPT's documented CPU configuration (4 layers, 4 heads,
  width 128, block 64, batch 12, 2000 iterations, lr 1e-3, float32);
* ``book``: the recipe of the chapter "Training a small GPT" (block 128,
  batch 32, lr 2e-3, bfloat16 autocast where the CPU supports it).

Each model's validation loss is measured twice on the same 200 random
windows of the validation text: with windows of its own block size (the
usual number, what the chapter reports) and with 64-character windows for
both (the same amount of context for both models). Wall times cover training
only (periodic evaluations included, final evaluation excluded).

Usage (offline: set LLMBOOK_DATA_DIR to the folder with the corpora)::

    python benchmarks/gpt_shakespeare.py            # both recipes, about 7 minutes on 2 cores
    python benchmarks/gpt_shakespeare.py --only book
    python benchmarks/gpt_shakespeare.py --iters-scale 0.05   # a quick smoke run
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import time

import torch

from llmbook.batches import split_ids
from llmbook.data import load_corpus
from llmbook.devices import bf16_supported
from llmbook.gpt_train import (
    BOOK_MODEL,
    BOOK_TRAIN,
    NANOGPT_CPU_MODEL,
    NANOGPT_CPU_TRAIN,
    estimate_loss,
    train_gpt,
)
from llmbook.models.gpt import GPT, GPTConfig
from llmbook.nn_basics import count_parameters
from llmbook.text import CharVocabulary

RECIPES = {"nanoGPT CPU": (NANOGPT_CPU_MODEL, NANOGPT_CPU_TRAIN), "book": (BOOK_MODEL, BOOK_TRAIN)}


def run(name: str, model_cfg: dict, train_cfg, train, val, vocab_size: int, scale: float) -> dict:
    iters = max(1, round(train_cfg.max_iters * scale))
    train_cfg = dataclasses.replace(train_cfg, max_iters=iters,
                                    eval_interval=min(train_cfg.eval_interval, iters))
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=vocab_size, **model_cfg))
    result = train_gpt(model, train, val, train_cfg, progress=False)
    own = estimate_loss(model, val, 10, 20, seed=1234)  # 200 windows of the model's block size
    short = own
    if model.config.block_size != 64:
        # the same 200 positions, 64-character windows: crop a block-64 view of the model
        gen = torch.Generator().manual_seed(1234)
        starts = torch.randint(len(val) - 65, (200,), generator=gen)
        x = torch.stack([val[s : s + 64] for s in starts])
        y = torch.stack([val[s + 1 : s + 65] for s in starts])
        with torch.no_grad():
            model.eval()
            short = sum(model(x[i : i + 20], y[i : i + 20])[1].item() for i in range(0, 200, 20)) / 10
    return {"recipe": name, "params": count_parameters(model), "iters": iters,
            "block": model.config.block_size, "batch": train_cfg.batch_size,
            "bf16": train_cfg.bf16 and bf16_supported(), "seconds": result.seconds,
            "val_own": own, "val_64": short}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=list(RECIPES), help="run one recipe only")
    parser.add_argument("--iters-scale", type=float, default=1.0,
                        help="multiply every run's iterations (e.g. 0.05 for a smoke test)")
    args = parser.parse_args()

    text = load_corpus("tinyshakespeare")
    vocab = CharVocabulary.from_text(text)
    train, val = split_ids(vocab.encode(text), 0.9)
    print(f"Tiny Shakespeare: {len(text):,} characters, {len(vocab)} distinct; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), "
          f"bf16 autocast {'available' if bf16_supported() else 'not available'}; "
          f"load average {os.getloadavg()[0]:.1f}")
    rows = []
    for name, (model_cfg, train_cfg) in RECIPES.items():
        if args.only and name != args.only:
            continue
        start = time.perf_counter()
        rows.append(run(name, model_cfg, train_cfg, train, val, len(vocab), args.iters_scale))
        print(f"  finished {name} in {time.perf_counter() - start:.0f} s", flush=True)
    header = (f"{'recipe':<12} {'params':>9} {'iters':>6} {'block':>5} {'batch':>5} {'bf16':>5} "
              f"{'train s':>8} {'val loss':>9} {'val@64':>7}")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['recipe']:<12} {r['params']:>9,} {r['iters']:>6} {r['block']:>5} {r['batch']:>5} "
              f"{str(r['bf16']):>5} {r['seconds']:>8.1f} {r['val_own']:>9.3f} {r['val_64']:>7.3f}")
    print(f"load average after the runs: {os.getloadavg()[0]:.1f} (2 cores: above 2 means contention)")


if __name__ == "__main__":
    main()
