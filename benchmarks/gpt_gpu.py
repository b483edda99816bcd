"""Train nanoGPT's GPU configuration for Tiny Shakespeare, and the book's CPU recipe, on one device.

Both runs use the book's GPT (``llmbook.models.gpt``) and trainer on
``llmbook.devices.device()`` (a CUDA GPU when there is one; ``--device`` or
``LLMBOOK_DEVICE`` choose another), the same data split as nanoGPT (the
first 90 % of the characters for training, the last 10 % for validation) and
nanoGPT's evaluation (the mean loss of ``eval_iters`` random batches of each
split, every ``eval_interval`` iterations):

* ``nanoGPT GPU``: nanoGPT's ``config/train_shakespeare_char.py`` (6 layers,
  6 heads, width 384, context 256, dropout 0.2, no biases, batch 64, lr 1e-3
  to 1e-4 over 5000 iterations after 100 of warm-up, 200 evaluation batches
  every 250 iterations, bfloat16 autocast);
* ``book``: the modern recipe of the chapter "Training a small GPT"
  (``BOOK_MODEL``/``BOOK_TRAIN``, about 0.8M parameters, on its time budget);
* ``gpt2-book``: that chapter's GPT-2 recipe (``GPT2_BOOK_MODEL``/
  ``GPT2_BOOK_TRAIN``, 2000 iterations), the recipe of the scaling-law family
  of the chapter "Scaling up", whose fit predicts this run's loss.

For each run the JSON file holds (see ``llmbook.scaling.run_recipe``) the
hardware, the wall time (training and its periodic evaluations), the
training and validation loss at every evaluation, the best validation loss
and its iteration (nanoGPT keeps the checkpoint with the lowest validation
loss and its README reports that one: 1.4697), the last one, the final
validation loss measured as in chapter 11, and the peak GPU memory. The
chapters read the committed results (``benchmarks/results/gpt_gpu_h200.json``)
when they run without a GPU.

Usage (offline: set LLMBOOK_DATA_DIR to the folder with the corpora)::

    python benchmarks/gpt_gpu.py benchmarks/results/gpt_gpu_h200.json   # on the GPU, a few minutes
    python benchmarks/gpt_gpu.py /tmp/smoke.json --smoke                # tiny models, seconds, any device
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
from pathlib import Path

import torch

from llmbook.batches import split_ids
from llmbook.data import load_corpus
from llmbook.devices import bf16_supported, device
from llmbook.gpt_train import BOOK_MODEL, BOOK_TRAIN, GPT2_BOOK_MODEL, GPT2_BOOK_TRAIN
from llmbook.scaling import NANOGPT_GPU_MODEL, NANOGPT_GPU_TRAIN, hardware_name, run_recipe
from llmbook.text import CharVocabulary

RECIPES = {"nanoGPT GPU": (NANOGPT_GPU_MODEL, NANOGPT_GPU_TRAIN), "book": (BOOK_MODEL, BOOK_TRAIN),
           "gpt2-book": (GPT2_BOOK_MODEL, GPT2_BOOK_TRAIN)}

#: nanoGPT's README: "the best validation loss is 1.4697" (one A100, about 3 minutes).
NANOGPT_REPORTED_BEST_VAL = 1.4697

#: ``--smoke``: the same code path with tiny models and a handful of iterations.
SMOKE_MODEL = dict(block_size=32, n_layer=1, n_head=2, n_embd=32)
SMOKE_TRAIN = dict(max_iters=6, eval_interval=3, eval_iters=2, batch_size=4, warmup_iters=1)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path, help="where to write the JSON results")
    parser.add_argument("--only", choices=list(RECIPES), help="run one recipe only")
    parser.add_argument("--device", help="cpu, cuda, cuda:1, mps (default: llmbook.devices.device())")
    parser.add_argument("--smoke", action="store_true", help="tiny models, a few iterations: check the script")
    args = parser.parse_args(argv)

    dev = device(args.device)
    text = load_corpus("tinyshakespeare")
    vocab = CharVocabulary.from_text(text)
    train, val = split_ids(vocab.encode(text), 0.9)
    print(f"{hardware_name(dev)}; torch {torch.__version__}; bf16 autocast "
          f"{'available' if bf16_supported(dev) else 'not available'}", flush=True)
    runs = []
    for name, (model_cfg, train_cfg) in RECIPES.items():
        if args.only and name != args.only:
            continue
        if args.smoke:
            model_cfg = {**model_cfg, **SMOKE_MODEL}
            train_cfg = dataclasses.replace(train_cfg, **SMOKE_TRAIN)
        run = run_recipe(name, model_cfg, train_cfg, train, val, vocab_size=len(vocab), device=dev,
                         progress=not args.smoke)
        print(f"{name}: {run['parameters']:,} parameters, {train_cfg.max_iters} iterations in "
              f"{run['seconds']:.1f} s; validation loss best {run['best_val_loss']:.4f} (iteration "
              f"{run['best_iter']}), last {run['val_loss'][-1]:.4f} (training {run['train_loss'][-1]:.4f}); "
              f"chapter 11's final estimate {run['final_val_loss']:.4f}", flush=True)
        runs.append(run)
    results = {
        "device": hardware_name(dev),
        "device_type": dev.type,
        "torch": torch.__version__,
        "date": datetime.date.today().isoformat(),
        "smoke": args.smoke,
        "nanogpt_reported_best_val_loss": NANOGPT_REPORTED_BEST_VAL,
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return results


if __name__ == "__main__":
    main()
