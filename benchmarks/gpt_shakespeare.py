"""Compare GPT recipes on Tiny Shakespeare at equal wall time, and write the table as JSON.

Every run trains a :class:`~llmbook.models.gpt.GPT` with
:func:`~llmbook.gpt_train.train_gpt` for the same number of seconds of
training (``--seconds``; periodic evaluations are not counted), one run after
another in one process with the same number of threads, and then measures
the validation loss on the same 200 random windows of the held-out text
(the last 10 % of the characters). The learning-rate schedule of each recipe
is stretched over the time budget. (The two rows of nanoGPT's published run,
at the end of the list, are the exception: see below.) Recipes:

* ``nanogpt-cpu``: nanoGPT's documented CPU configuration (block 64, batch 12,
  AdamW, float32);
* ``gpt2-book``: the book's first recipe, GPT-2's architecture (block 128,
  batch 32, bfloat16 autocast, AdamW, cosine schedule);
* ``+rmsnorm``, ``+rotary``, ``+relu2``, ``+qk-norm``, ``+untied``, ``+muon``, ``+wsd``:
  the modern changes added one at a time, in that order, to ``gpt2-book``
  (each row has all the changes above it);
* ``book``: the chapter's recipe (``llmbook.gpt_train.BOOK_MODEL`` and
  ``BOOK_TRAIN``), everything together: the same runs as ``+wsd``, which the
  default list leaves out; it runs with the ``--final-seeds`` (two by default);
* ``+swiglu``: the final recipe with SwiGLU instead of ReLU²;
* ``book-no-X``: the final recipe with one change removed (``X`` one of
  ``rmsnorm``, ``rotary``, ``relu2``, ``qk-norm``, ``untied``, ``muon``, ``wsd``);
* ``nanogpt-cpu-published``: nanoGPT's CPU configuration exactly as its README
  runs it, for its own 2,000 iterations and schedule (not for ``--seconds``);
* ``book-same-time``: the book's recipe trained for as many seconds as the
  ``nanogpt-cpu-published`` run of the same seed took (that run must come
  before it in ``--recipes``). The two rows run with the ``--final-seeds``.

Usage (offline: set LLMBOOK_DATA_DIR to the folder with the corpora)::

    python benchmarks/gpt_shakespeare.py --seconds 240 --threads 2 --out results.json
    python benchmarks/gpt_shakespeare.py --recipes nanogpt-cpu,book --seeds 0,1
    python benchmarks/gpt_shakespeare.py --smoke            # a few seconds, to check it runs
    python benchmarks/gpt_shakespeare.py --merge a.json b.json --out all.json

To run recipes in parallel, start one process per recipe pinned to its own
cores (``taskset -c 0,1 python ... --recipes book --out book.json``) on an
otherwise idle machine, then ``--merge`` the files.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import sys
from pathlib import Path

import torch

from llmbook.batches import split_ids
from llmbook.data import load_corpus
from llmbook.devices import bf16_supported
from llmbook.gpt_train import (
    BOOK_MODEL,
    BOOK_TRAIN,
    GPT2_BOOK_MODEL,
    GPT2_BOOK_TRAIN,
    NANOGPT_CPU_MODEL,
    NANOGPT_CPU_TRAIN,
    TrainConfig,
    estimate_loss,
    train_gpt,
)
from llmbook.models.gpt import GPT, GPTConfig
from llmbook.nn_basics import count_parameters
from llmbook.text import CharVocabulary

#: Each modern change as (model options, training options) applied on top of a recipe,
#: in the order of the "added one at a time" rows.
CHANGES: dict[str, tuple[dict, dict]] = {
    "rmsnorm": ({"norm": "rms", "bias": False}, {}),
    "rotary": ({"position": "rotary"}, {}),
    "relu2": ({"mlp": "relu2"}, {}),
    "qk-norm": ({"qk_norm": True}, {}),
    "untied": ({"tie_weights": False}, {}),
    "muon": ({}, {"optimizer": "muon", "muon_lr": BOOK_TRAIN.muon_lr}),
    "wsd": ({}, {"schedule": "wsd", "cooldown": BOOK_TRAIN.cooldown, "min_lr": BOOK_TRAIN.min_lr}),
}
#: What removing a change from the final recipe restores (GPT-2's choice).
UNDO: dict[str, tuple[dict, dict]] = {
    "rmsnorm": ({"norm": "layer"}, {}),
    "rotary": ({"position": "learned"}, {}),
    "relu2": ({"mlp": "gelu"}, {}),
    "qk-norm": ({"qk_norm": False}, {}),
    "untied": ({"tie_weights": True}, {}),
    "muon": ({}, {"optimizer": "adamw"}),
    "wsd": ({}, {"schedule": "cosine", "min_lr": GPT2_BOOK_TRAIN.min_lr}),
}


def _recipes() -> dict[str, tuple[dict, TrainConfig]]:
    """Every recipe by name: (GPTConfig options without the vocabulary, TrainConfig)."""
    recipes = {"nanogpt-cpu": (NANOGPT_CPU_MODEL, NANOGPT_CPU_TRAIN),
               "gpt2-book": (GPT2_BOOK_MODEL, GPT2_BOOK_TRAIN)}
    model, train = dict(GPT2_BOOK_MODEL), GPT2_BOOK_TRAIN
    for name, (m, t) in CHANGES.items():
        model, train = {**model, **m}, dataclasses.replace(train, **t)
        recipes[f"+{name}"] = (model, train)
    recipes["book"] = (BOOK_MODEL, BOOK_TRAIN)
    recipes["+swiglu"] = ({**BOOK_MODEL, "mlp": "swiglu"}, BOOK_TRAIN)
    for name, (m, t) in UNDO.items():
        recipes[f"book-no-{name}"] = ({**BOOK_MODEL, **m}, dataclasses.replace(BOOK_TRAIN, **t))
    return recipes


#: nanoGPT's configuration as published (a fixed number of iterations), and the
#: book's recipe given the same number of seconds.
PUBLISHED, SAME_TIME = "nanogpt-cpu-published", "book-same-time"
RECIPES = {**_recipes(), PUBLISHED: (NANOGPT_CPU_MODEL, NANOGPT_CPU_TRAIN), SAME_TIME: (BOOK_MODEL, BOOK_TRAIN)}
#: What each recipe is, for the table of the chapter.
DESCRIPTIONS = {
    "nanogpt-cpu": "nanoGPT's CPU configuration (block 64, batch 12, float32)",
    "gpt2-book": "the book's GPT-2 recipe (block 128, batch 32, bfloat16)",
    "+rmsnorm": "+ RMSNorm instead of layer norm, no biases",
    "+rotary": "+ rotary position embeddings instead of learned ones",
    "+relu2": "+ ReLU² instead of GELU in the MLP",
    "+qk-norm": "+ QK-norm",
    "+untied": "+ an output head of its own (untied)",
    "+muon": "+ Muon for the block matrices",
    "+wsd": "+ warm-up, stable, linear decay schedule",
    "book": "+ warm-up, stable, linear decay schedule: the book's recipe",
    "+swiglu": "the book's recipe with SwiGLU instead of ReLU²",
    **{f"book-no-{c}": f"the book's recipe without {c}" for c in CHANGES},
    PUBLISHED: f"nanoGPT's CPU configuration as published ({NANOGPT_CPU_TRAIN.max_iters:,} iterations)",
    SAME_TIME: "the book's recipe for the seconds nanoGPT's published run took",
}
#: The rows of the default benchmark: baselines, changes added one at a time, the final recipe.
#: ("+wsd", the last change added, is the book's recipe: it appears as "book", with two seeds.)
DEFAULT = ["nanogpt-cpu", "gpt2-book", *(f"+{c}" for c in list(CHANGES)[:-1]), "book", "+swiglu",
           PUBLISHED, SAME_TIME]
#: The recipes that run with the ``--final-seeds``.
FINAL = ("book", PUBLISHED, SAME_TIME)


def run(name: str, seed: int, seconds: float | None, train, val, vocab_size: int) -> dict:
    """Train recipe ``name`` for ``seconds`` seconds with ``seed`` (``None``: for the
    recipe's own ``max_iters``); return its row of the table."""
    model_opts, cfg = RECIPES[name]
    length = {"time_budget": None} if seconds is None else {"time_budget": seconds, "max_iters": 10**9}
    cfg = dataclasses.replace(cfg, **length, seed=seed,
                              eval_interval=10**9, eval_iters=1)  # the real evaluation follows
    torch.manual_seed(seed)
    model = GPT(GPTConfig(vocab_size=vocab_size, **model_opts))
    result = train_gpt(model, train, val, cfg, progress=False)
    val_loss = estimate_loss(model, val, 10, 20, seed=1234)  # the same 200 windows for every run
    return {"recipe": name, "what": DESCRIPTIONS.get(name, name), "seed": seed,
            "parameters": count_parameters(model),
            "iterations": result.iterations,
            "tokens": result.iterations * cfg.batch_size * model.config.block_size,
            "val_loss": val_loss, "seconds": result.train_seconds,
            "model": model_opts, "train": {k: v for k, v in dataclasses.asdict(cfg).items()
                                           if k not in ("max_iters", "eval_interval", "eval_iters", "time_budget")}}


def shakespeare_split() -> tuple[int, torch.Tensor, torch.Tensor]:
    """Tiny Shakespeare as character ids: the vocabulary size, the first 90 % (training)
    and the last 10 % (validation), as in chapter 11."""
    text = load_corpus("tinyshakespeare")
    vocab = CharVocabulary.from_text(text)
    train, val = split_ids(torch.tensor(vocab.encode(text)), 0.9)
    return len(vocab), train, val


def machine(threads: int) -> dict:
    """Where and when the benchmark ran."""
    return {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "processor": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
            "threads": threads, "torch": torch.__version__, "bf16": bf16_supported(),
            "load_average": round(os.getloadavg()[0], 1)}


def print_table(rows: list[dict]) -> None:
    header = f"{'recipe':<22} {'seed':>4} {'params':>9} {'iters':>7} {'tokens':>11} {'val loss':>9} {'seconds':>8}"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['recipe']:<22} {r['seed']:>4} {r['parameters']:>9,} {r['iterations']:>7,} "
              f"{r['tokens']:>11,} {r['val_loss']:>9.3f} {r['seconds']:>8.1f}")


def merge(paths: list[str]) -> dict:
    """One result from several JSON files: their rows, and the machine of each file."""
    files = [json.loads(Path(p).read_text()) for p in paths]
    if len({f["seconds"] for f in files}) != 1:
        raise SystemExit(f"cannot merge runs of different lengths: {[f['seconds'] for f in files]} s")
    notes = sorted({f["note"] for f in files if f.get("note")})
    return {"seconds": files[0]["seconds"], "machine": files[0]["machine"],
            "machines": [f["machine"] for f in files], "note": " ".join(notes),
            "rows": [r for f in files for r in f["rows"]]}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=240.0, help="training seconds per run (default 240)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--recipes", default=",".join(DEFAULT),
                        help=f"comma-separated recipes, from: {', '.join(RECIPES)}")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds (default 0)")
    parser.add_argument("--final-seeds", default="0,1",
                        help="seeds for the recipe 'book' (default 0,1: two seeds for the final recipe)")
    parser.add_argument("--out", help="write the results to this JSON file "
                        "(the chapter reads src/llmbook/results/gpt_shakespeare.json)")
    parser.add_argument("--note", default="", help="a note stored with the results (e.g. the machine's state)")
    parser.add_argument("--merge", nargs="+", metavar="JSON", help="merge result files (needs --out)")
    parser.add_argument("--smoke", action="store_true", help="2 recipes for 2 seconds: check that it runs")
    args = parser.parse_args(argv)

    if args.merge:
        if not args.out:
            parser.error("--merge needs --out")
        result = merge(args.merge)
        print_table(result["rows"])
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
        return result
    if not args.seconds > 0:
        parser.error(f"--seconds must be positive, got {args.seconds}")
    if args.threads < 1:
        parser.error(f"--threads must be at least 1, got {args.threads}")
    names = ["nanogpt-cpu", "book"] if args.smoke else [r for r in args.recipes.split(",") if r]
    if not names:
        parser.error("--recipes names no recipe")
    unknown = [r for r in names if r not in RECIPES]
    if unknown:
        parser.error(f"unknown recipes {unknown}; choose from {', '.join(RECIPES)}")
    if SAME_TIME in names and PUBLISHED not in names[:names.index(SAME_TIME)]:
        parser.error(f"{SAME_TIME} needs {PUBLISHED} before it in --recipes")
    seconds = 2.0 if args.smoke else args.seconds
    seeds = [int(s) for s in args.seeds.split(",")]
    final_seeds = [int(s) for s in args.final_seeds.split(",")]
    torch.set_num_threads(args.threads)

    vocab_size, train, val = shakespeare_split()
    info = machine(args.threads)
    print(f"{seconds:g} s of training per run; {info}", flush=True)
    rows = []
    for name in names:
        for seed in (final_seeds if name in FINAL and not args.smoke else seeds):
            length = seconds
            if name == PUBLISHED:
                length = None
            elif name == SAME_TIME:
                length = next(r["seconds"] for r in rows if r["recipe"] == PUBLISHED and r["seed"] == seed)
            rows.append(run(name, seed, length, train, val, vocab_size))
            print(f"  {name} (seed {seed}): val loss {rows[-1]['val_loss']:.3f} "
                  f"after {rows[-1]['iterations']:,} iterations", flush=True)
            info["load_average_after"] = round(os.getloadavg()[0], 1)
            result = {"seconds": seconds, "machine": info, "note": args.note, "rows": rows}
            if args.out:  # after every run, so that an interrupted benchmark keeps its rows
                Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print_table(rows)
    return result


if __name__ == "__main__":
    sys.exit(main() and 0)
