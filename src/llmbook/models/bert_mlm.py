"""A miniature BERT, pre-trained by masked-language modelling on Aesop's Fables.

The pieces, in the order chapter 12 uses them:

* :func:`split_fables` -- the corpus as a list of fables, and a held-out part;
* :func:`train_wordpiece` -- a WordPiece tokenizer learned from the fables;
* :func:`make_blocks` -- the token stream cut into ``[CLS] ... [SEP]`` blocks;
* :func:`mask_tokens` -- BERT's masking recipe (15 %; of those 80 / 10 / 10);
* :func:`mlm_batch` and :func:`mlm_loss` -- a masked batch and its loss, in
  the book's training contract (``loss_fn(model, batch)``);
* :func:`mini_bert_config` and :func:`pretrain` -- a small ``BertForMaskedLM``
  trained with the book's loop, :func:`llmbook.train.fit`;
* :func:`fill_mask` -- the model's guesses for every ``[MASK]`` of a sentence;
* :func:`fill_in_accuracy` -- top-k accuracy on held-out words, against a
  baseline that always guesses the most frequent words;
* :func:`split_sentences` and :func:`classifier_loss` -- for fine-tuning a
  pre-trained encoder as a sentence classifier with :func:`llmbook.train.fit`.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from llmbook import _checks
from llmbook.devices import device_of
from llmbook.text import STORY_MARKER, mark_stories
from llmbook.train import fit

__all__ = [
    "SPECIAL_TOKENS", "NoMaskTokenError", "InputTooLongError", "split_fables",
    "train_wordpiece", "make_blocks", "mask_tokens", "mini_bert_config",
    "mlm_batch", "mlm_loss", "pretrain",
    "masked_logits", "fill_mask", "FillInResult", "fill_in_accuracy", "split_sentences",
    "classifier_loss",
]

#: BERT's special tokens; the tokenizer gives them the ids 0-4 in this order.
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


class NoMaskTokenError(ValueError):
    """:func:`fill_mask` was given a text without a ``[MASK]`` token."""


class InputTooLongError(ValueError):
    """A text has more tokens than the model has positions."""


def split_fables(raw: str, held_out: float = 0.1, seed: int = 0) -> tuple[list[str], list[str]]:
    """Cut the raw Aesop corpus into fables and set a random ``held_out`` share aside.

    Fables are separated by three or more blank lines (the rule of
    :func:`llmbook.text.mark_stories`). Each fable keeps its title and its
    line breaks become spaces. Returns ``(train, test)``; the split depends
    only on ``seed``.

    Raises:
        ValueError: if ``held_out`` is not in (0, 1) or there are fewer than two fables.
    """
    if not 0 < held_out < 1:
        raise ValueError(f"held_out must be between 0 and 1, got {held_out}")
    fables = [" ".join(part.split()) for part in mark_stories(raw).split(STORY_MARKER)]
    fables = [f for f in fables if f]
    if len(fables) < 2:
        raise ValueError(f"need at least two fables to split, found {len(fables)}")
    order = list(range(len(fables)))
    random.Random(seed).shuffle(order)
    n_test = max(1, round(held_out * len(fables)))
    test = sorted(order[:n_test])
    train = sorted(order[n_test:])
    return [fables[i] for i in train], [fables[i] for i in test]


def train_wordpiece(texts: Sequence[str], vocab_size: int = 3000, min_frequency: int = 2) -> Any:
    """Learn a lower-casing BERT-style WordPiece tokenizer from ``texts``.

    Uses the ``tokenizers`` library: BERT's normaliser (lower case, accents
    stripped) and pre-tokeniser (split on spaces and punctuation), a
    WordPiece model whose word-internal pieces start with ``##``, and a
    post-processor that wraps a text as ``[CLS] text [SEP]`` (a pair as
    ``[CLS] a [SEP] b [SEP]`` with token type ids 0 and 1). Returns a
    ``transformers`` fast tokenizer, so it works with ``pipeline`` and
    ``save_pretrained``.

    Raises:
        ValueError: if ``texts`` is empty or ``vocab_size`` is too small.
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from tokenizers.trainers import WordPieceTrainer
    from transformers import PreTrainedTokenizerFast

    if not texts or not any(t.strip() for t in texts):
        raise ValueError("cannot train a tokenizer on no text")
    if vocab_size <= len(SPECIAL_TOKENS):
        raise ValueError(f"vocab_size must exceed the {len(SPECIAL_TOKENS)} special tokens, "
                         f"got {vocab_size}")
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = WordPieceTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                               special_tokens=list(SPECIAL_TOKENS), show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    tok.decoder = decoders.WordPiece(prefix="##")
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
        sep_token="[SEP]", mask_token="[MASK]", model_max_length=512,
        model_input_names=["input_ids", "token_type_ids", "attention_mask"])


def make_blocks(texts: Sequence[str], tokenizer: Any, block_size: int = 64) -> torch.Tensor:
    """Concatenate the texts' tokens (``[SEP]`` between texts) and cut them into blocks.

    Each row is ``[CLS]`` + ``block_size - 2`` tokens + ``[SEP]``, so no
    padding is needed; the incomplete last block is dropped.

    Returns:
        A ``(n_blocks, block_size)`` tensor of token ids.

    Raises:
        ValueError: if ``block_size < 3`` or the texts give not even one block.
    """
    if block_size < 3:
        raise ValueError(f"block_size must be at least 3, got {block_size}")
    stream: list[int] = []
    # verbose=False: a fable may be longer than model_max_length; it is cut below.
    for ids in tokenizer(list(texts), add_special_tokens=False, verbose=False)["input_ids"]:
        stream += ids + [tokenizer.sep_token_id]
    body = block_size - 2
    n = len(stream) // body
    if n == 0:
        raise ValueError(f"{len(stream)} tokens are too few for one block of {block_size}")
    rows = torch.tensor(stream[: n * body]).view(n, body)
    cls = torch.full((n, 1), tokenizer.cls_token_id)
    sep = torch.full((n, 1), tokenizer.sep_token_id)
    return torch.cat([cls, rows, sep], dim=1)


def mask_tokens(
    input_ids: torch.Tensor,
    *,
    mask_token_id: int,
    vocab_size: int,
    special_ids: Sequence[int] = (),
    mask_prob: float = 0.15,
    replace_probs: tuple[float, float, float] = (0.8, 0.1, 0.1),
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's masking recipe: choose tokens to predict and corrupt the input there.

    Each ordinary token (not in ``special_ids``) is chosen with probability
    ``mask_prob``. A chosen token is replaced by ``[MASK]``, by a random
    ordinary token, or left unchanged with the probabilities
    ``replace_probs`` (BERT: 80 %, 10 %, 10 %). The model must predict the
    original token at every chosen position, and only there.

    Returns:
        ``(inputs, labels)``: the corrupted ids, and the original ids at the
        chosen positions with ``-100`` (ignored by the loss) elsewhere, on the
        device of ``input_ids`` (the random draws are made on the CPU, so a
        CPU ``generator`` gives the same masks everywhere).

    Raises:
        ValueError: for probabilities outside [0, 1] or ``replace_probs`` not summing to 1.
    """
    if not 0 <= mask_prob <= 1:
        raise ValueError(f"mask_prob must be between 0 and 1, got {mask_prob}")
    if len(replace_probs) != 3 or min(replace_probs) < 0 or abs(sum(replace_probs) - 1) > 1e-6:
        raise ValueError("replace_probs must be three probabilities ([MASK], random, unchanged) "
                         f"summing to 1, got {replace_probs}")
    if input_ids.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"input_ids must be an integer tensor, got {input_ids.dtype}")
    device, input_ids = input_ids.device, input_ids.cpu()  # drawn on the CPU, like the generator
    special = torch.tensor(sorted(set(special_ids)), dtype=input_ids.dtype)
    ordinary = ~torch.isin(input_ids, special)
    chosen = (torch.rand(input_ids.shape, generator=generator) < mask_prob) & ordinary
    labels = torch.where(chosen, input_ids, torch.full_like(input_ids, -100))

    how = torch.rand(input_ids.shape, generator=generator)
    p_mask, p_random, _ = replace_probs
    to_mask = chosen & (how < p_mask)
    to_random = chosen & (how >= p_mask) & (how < p_mask + p_random)
    allowed = torch.tensor([i for i in range(vocab_size) if i not in set(special_ids)])
    random_ids = allowed[torch.randint(len(allowed), input_ids.shape, generator=generator)]

    inputs = input_ids.clone()
    inputs[to_mask] = mask_token_id
    inputs[to_random] = random_ids[to_random].to(inputs.dtype)
    return inputs.to(device), labels.to(device)


def mini_bert_config(vocab_size: int, *, hidden: int = 128, layers: int = 2, heads: int = 4,
                     block_size: int = 32, dropout: float = 0.1) -> Any:
    """A small ``BertConfig``: ``layers`` encoder layers of width ``hidden``, FFN 4x wider.

    The defaults are chapter 12's small BERT. ``block_size`` is the number of positions; ``dropout`` (BERT: 0.1) is
    used after the attention weights and in the residual branches.
    """
    from transformers import BertConfig

    if hidden % heads:
        raise ValueError(f"hidden ({hidden}) must be divisible by heads ({heads})")
    return BertConfig(vocab_size=vocab_size, hidden_size=hidden, num_hidden_layers=layers,
                      num_attention_heads=heads, intermediate_size=4 * hidden,
                      max_position_embeddings=block_size, type_vocab_size=2, pad_token_id=0,
                      hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout)


def mlm_batch(blocks: torch.Tensor, tokenizer: Any,
              generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mask ``blocks`` with :func:`mask_tokens`: ``(inputs, where, targets)``.

    ``inputs`` is the corrupted batch, ``where`` marks the positions to
    predict, ``targets`` holds the original tokens there (one per ``True``
    of ``where``): the batch :func:`mlm_loss` takes.
    """
    inputs, labels = mask_tokens(blocks, mask_token_id=tokenizer.mask_token_id,
                                 vocab_size=len(tokenizer), special_ids=tokenizer.all_special_ids,
                                 generator=generator)
    where = labels != -100
    return inputs, where, labels[where]


def mlm_loss(model: Any, batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """The masked-language-modelling loss of a ``BertForMaskedLM`` on an :func:`mlm_batch`:
    the cross-entropy of its guesses at the masked positions against the original tokens."""
    inputs, where, targets = batch
    return F.cross_entropy(masked_logits(model, inputs, where), targets)


def pretrain(
    model: Any,
    train_blocks: torch.Tensor,
    val_blocks: torch.Tensor,
    tokenizer: Any,
    *,
    epochs: int,
    steps_per_epoch: int,
    batch_size: int = 32,
    lr: float = 1e-3,
    seed: int = 0,
    progress: bool = True,
) -> Any:
    """Pre-train ``model`` (a ``BertForMaskedLM``) by masked-language modelling with ``fit``.

    Each training step draws ``batch_size`` random blocks and masks them
    afresh with :func:`mask_tokens` ("dynamic masking": the model never sees
    the same corruption twice). The validation loss is measured after every
    epoch on ``val_blocks``, masked once with a fixed seed so that epochs are
    comparable. AdamW, gradients clipped to norm 1; the learning rate is a
    tenth of ``lr`` during the first epoch (warm-up), then ``lr``, decaying
    linearly to a tenth by the last epoch. Returns the
    :class:`llmbook.train.History`; the model is left in evaluation mode.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    fixed = torch.Generator().manual_seed(seed + 1)
    val = [mlm_batch(val_blocks[i:i + batch_size], tokenizer, fixed)
           for i in range(0, len(val_blocks), batch_size)]

    def train_batch() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        idx = torch.randint(len(train_blocks), (batch_size,), generator=gen)
        return mlm_batch(train_blocks[idx], tokenizer, gen)

    def lr_at(step: int) -> float:
        epoch = step // steps_per_epoch
        if epoch == 0:
            return 0.1 * lr
        return lr * (1.0 - 0.9 * (epoch - 1) / max(1, epochs - 2))

    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    history = fit(model, train_batch, val, optimizer=opt, epochs=epochs, loss_fn=mlm_loss,
                  lr_schedule=lr_at, steps_per_epoch=steps_per_epoch, clip_grad_norm=1.0,
                  progress=progress)
    model.eval()
    return history


def masked_logits(model: Any, input_ids: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
    """Logits of a ``BertForMaskedLM`` only at the positions where ``where`` is True.

    The same numbers as ``model(input_ids).logits[where]``, but the output
    layer (hidden size x vocabulary, the largest matrix product of a small
    model) runs only on the positions that are predicted: about 7 times
    less work when 15 % of the tokens are masked.
    """
    hidden = model.bert(input_ids=input_ids).last_hidden_state
    return model.cls(hidden[where])


def fill_mask(model: Any, tokenizer: Any, text: str, top_k: int = 5) -> list[list[tuple[str, float]]]:
    """The ``top_k`` most probable tokens, with probabilities, for each ``[MASK]`` in ``text``.

    Returns one list per ``[MASK]``, in order, of ``(token, probability)``
    pairs, most probable first.

    Raises:
        NoMaskTokenError: if ``text`` contains no ``[MASK]``.
        InputTooLongError: if ``text`` has more tokens than the model has positions.
        ValueError: if ``top_k`` is not a positive integer.
    """
    _checks.positive_int("top_k", top_k)
    enc = tokenizer(text, return_tensors="pt").to(device_of(model))
    ids = enc["input_ids"]
    where = (ids[0] == tokenizer.mask_token_id).nonzero().flatten()
    if len(where) == 0:
        raise NoMaskTokenError(f"no {tokenizer.mask_token} token in {text!r}: write "
                               f"{tokenizer.mask_token} where the model should fill in a word")
    limit = model.config.max_position_embeddings
    if ids.shape[1] > limit:
        raise InputTooLongError(f"the text has {ids.shape[1]} tokens but the model has only "
                                f"{limit} positions: shorten it, or tokenize with "
                                f"truncation=True, max_length={limit}")
    with torch.no_grad():
        logits = model(**enc).logits[0, where]
    probs = logits.softmax(-1)
    top = probs.topk(min(top_k, probs.shape[-1]), dim=-1)
    return [[(tokenizer.convert_ids_to_tokens(int(i)), float(p)) for p, i in zip(ps, ix)]
            for ps, ix in zip(top.values, top.indices)]


@dataclass(frozen=True)
class FillInResult:
    """Top-k accuracy of the model and of the unigram baseline on the same positions."""

    k: int
    positions: int        # how many held-out words were masked, one at a time
    model: float          # share of them whose true word is in the model's top k
    unigram: float        # share in the k words most frequent in the training blocks
    unigram_words: tuple[str, ...]


def _is_word(token: str) -> bool:
    return token.isalpha() and not token.startswith("##")


def fill_in_accuracy(
    model: Any,
    tokenizer: Any,
    test_blocks: torch.Tensor,
    train_blocks: torch.Tensor,
    *,
    k: int = 5,
    max_positions: int = 1000,
    seed: int = 0,
    batch_size: int = 256,
) -> FillInResult:
    """Mask held-out words one at a time; how often is the true word among the top ``k`` guesses?

    A position counts if its token is a whole word: letters only, not a
    ``##`` continuation, and not followed by one. Up to ``max_positions`` of
    them are drawn at random (fixed ``seed``). The model ranks the whole
    words of its vocabulary (it is told, like the baseline, that the answer
    is a word, not a comma). The baseline always guesses the ``k`` whole
    words most frequent in ``train_blocks``: the best any guesser can do
    that ignores the context.
    """
    vocab = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    word = torch.tensor([_is_word(t) for t in vocab])
    cont = torch.tensor([t.startswith("##") for t in vocab])
    next_cont = torch.zeros_like(test_blocks, dtype=torch.bool)
    next_cont[:, :-1] = cont[test_blocks[:, 1:]]
    ok = word[test_blocks] & ~next_cont
    candidates = ok.nonzero()
    if len(candidates) == 0:
        raise ValueError("the held-out blocks contain no whole words to mask")
    gen = torch.Generator().manual_seed(seed)
    pick = candidates[torch.randperm(len(candidates), generator=gen)[:max_positions]]

    counts = Counter(int(t) for t in train_blocks.flatten() if word[t])
    baseline = [t for t, _ in counts.most_common(k)]
    truth = test_blocks[pick[:, 0], pick[:, 1]]
    unigram = torch.isin(truth, torch.tensor(baseline)).float().mean().item()

    hits = 0
    model.eval()
    dev = device_of(model)
    with torch.no_grad():
        for start in range(0, len(pick), batch_size):
            rows, cols = pick[start:start + batch_size].T
            inputs = test_blocks[rows].clone()
            inputs[torch.arange(len(rows)), cols] = tokenizer.mask_token_id
            inputs = inputs.to(dev)
            logits = masked_logits(model, inputs, inputs == tokenizer.mask_token_id)
            logits[:, ~word.to(dev)] = float("-inf")  # rank only whole words, as the baseline does
            top = logits.topk(k, dim=-1).indices.cpu()
            hits += (top == test_blocks[rows, cols].unsqueeze(1)).any(1).sum().item()
    return FillInResult(k=k, positions=len(pick), model=hits / len(pick), unigram=unigram,
                        unigram_words=tuple(vocab[t] for t in baseline))



_SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"']))\s+(?=[A-Z\"'])")


def split_sentences(text: str, min_words: int = 4) -> list[str]:
    """Split ``text`` after ``.``, ``!`` or ``?`` (and a closing quote) when the next word
    starts with a capital or a quote; keep sentences of at least ``min_words`` words.

    >>> split_sentences('He ran. "Stop!" she cried. It was too late for that.', min_words=2)
    ['He ran.', '"Stop!" she cried.', 'It was too late for that.']
    """
    return [s for s in _SENTENCE_END.split(text.strip()) if len(s.split()) >= min_words]


def classifier_loss(model: Any, batch: tuple[dict[str, torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """The loss of a Hugging Face sequence classifier on ``(inputs, labels)``:
    the cross-entropy of ``model(**inputs).logits`` against the labels."""
    inputs, labels = batch
    return F.cross_entropy(model(**inputs).logits, labels)
