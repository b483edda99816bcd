"""Train the course's word-level LSTM on Aesop's Fables for many epochs and save checkpoints.

Chapter 7 ("Generating text with an LSTM") trains this model for a few epochs
itself; the samples after many more epochs come from the checkpoints this
script writes into the package (``src/llmbook/checkpoints``). It is the
same model as the chapter's (``Embedding(V, 100) -> LSTM(256) -> Linear(V)``,
20-token windows, RMSprop with learning rate 0.001 and Keras' defaults
``rho=0.9, eps=1e-7``, batch 128), trained with PyTorch because PyTorch is the
faster of the two on a small CPU; the checkpoints are framework-neutral and
the chapter loads them into the Keras model as well.

The last 10 % of the windows (the last fables) are held out for validation,
so the history stored in every checkpoint shows when the model starts to
memorise.

Regenerate the shipped checkpoints (35-70 s per epoch on one CPU core,
depending on what else runs; about 1.5 hours in all)::

    LLMBOOK_DATA_DIR=../shared/corpora .venv/bin/python tools/train_checkpoints.py \\
        --epochs 100 --save 1,10,50,100 --out src/llmbook/checkpoints

The course this follows trained for 200 epochs: ``--epochs 200 --save 1,10,100,200``.

An interrupted run continues where it stopped when started again with the same
``--state`` file (the full-precision training state, not shipped).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from llmbook.data import load_corpus
from llmbook.models.rnn import WordLSTM, save_word_checkpoint
from llmbook.text import SEED_ID, Vocabulary, make_windows, tokenize_words
from llmbook.train import History, fit, load_checkpoint

CONTEXT = 20
BATCH_SIZE = 128
VAL_FRACTION = 0.1


def aesop_windows() -> tuple[Vocabulary, torch.Tensor, torch.Tensor]:
    """The Aesop corpus as the course's Aesop slides prepare it: vocabulary, 20-token windows, next ids."""
    tokens = tokenize_words(load_corpus("aesop"))
    vocab = Vocabulary.from_tokens(tokens)
    x, y = make_windows(vocab.encode(tokens), context=CONTEXT, pad_id=SEED_ID)
    return vocab, torch.from_numpy(x), torch.from_numpy(y)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=100, help="train up to this many epochs")
    parser.add_argument("--save", default="1,10,50,100",
                        help="comma-separated epochs after which to write a checkpoint")
    parser.add_argument("--out", type=Path, default=Path("src/llmbook/checkpoints"))
    parser.add_argument("--state", type=Path, default=Path("_build/train_checkpoints_state.pt"),
                        help="full training state, for resuming (not shipped)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for PyTorch")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    save_at = sorted({int(e) for e in args.save.split(",") if e.strip()})
    if args.epochs < 1 or any(e < 1 or e > args.epochs for e in save_at):
        parser.error("--epochs must be positive and every --save epoch within 1..--epochs")

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    vocab, x, y = aesop_windows()
    n_val = int(len(y) * VAL_FRACTION)
    train = torch.utils.data.TensorDataset(x[:-n_val], y[:-n_val])
    val = torch.utils.data.TensorDataset(x[-n_val:], y[-n_val:])
    loader = torch.utils.data.DataLoader(train, batch_size=BATCH_SIZE, shuffle=True,
                                         generator=torch.Generator().manual_seed(args.seed))
    val_loader = torch.utils.data.DataLoader(val, batch_size=1024)
    model = WordLSTM(len(vocab))
    optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
    history = History()
    if args.state.is_file():
        history = load_checkpoint(args.state, model, optimizer)
        print(f"resuming after epoch {history.epochs}", flush=True)
    print(f"vocabulary {len(vocab)}, {len(train)} training and {len(val)} validation windows",
          flush=True)
    args.out.mkdir(parents=True, exist_ok=True)

    def on_epoch_end(epoch: int, hist: History) -> None:
        print(f"epoch {epoch:4d}  train {hist.train_loss[-1]:.4f}  val {hist.val_loss[-1]:.4f}"
              f"  ({hist.epoch_time[-1]:.0f} s)", flush=True)
        if epoch in save_at:
            path = args.out / f"aesop_word_lstm_e{epoch:03d}.npz"
            save_word_checkpoint(path, model, vocab.itos, epoch, CONTEXT,
                                 {"train_loss": hist.train_loss, "val_loss": hist.val_loss})
            print(f"  wrote {path} ({path.stat().st_size / 1e6:.2f} MB)", flush=True)

    remaining = args.epochs - history.epochs
    if remaining > 0:
        start = time.time()
        fit(model, loader, val_loader, optimizer=optimizer, epochs=remaining,
            checkpoint_path=args.state, history=history, on_epoch_end=on_epoch_end,
            progress=False)
        print(f"done in {time.time() - start:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
