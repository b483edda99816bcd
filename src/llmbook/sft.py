"""Supervised fine-tuning (SFT) of a chat model: data, loss on the response only, evaluation.

An instruction-tuned model is trained on conversations: a *prompt* (what the
user writes) and a *response* (what the assistant should answer), rendered
as text with the model's **chat template** (for SmolLM2,
``<|im_start|>role\\n ... <|im_end|>`` around each turn). The training loss is
the usual next-token cross-entropy, but counted **only on the response
tokens**: the prompt's labels are set to ``-100``, the value PyTorch's
``cross_entropy`` ignores. The model learns to answer, not to write questions.

The task of the chapter is written dates to ISO 8601 (chapter 10's data,
:mod:`llmbook.illustrations.dates`), asked in words::

    user:      Write this date as YYYY-MM-DD: Mar 7, 2021
    assistant: 2021-03-07

Everything a training step needs is here: :func:`encode_example` (ids and
labels), :func:`collate` (a padded batch), :func:`sft_loss` (the masked
loss), :func:`train_steps` (a few optimiser steps through
:func:`llmbook.train.fit`); and for evaluation :func:`generate_answers`,
:func:`exact_match` and :func:`held_out_perplexity`.

Chapter 14's LoRA fine-tuning on the date task is one recipe,
:class:`DateLoRARecipe`: :func:`train_date_lora` trains the adapters and
keeps them in the user cache, and :func:`load_date_lora` gives later
chapters the tuned model (from the cache, or trained again when missing).
"""

from __future__ import annotations

import hashlib
import json
import pickle
import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from llmbook import scaled
from llmbook._checks import positive_int
from llmbook.devices import device, device_of
from llmbook.illustrations.dates import make_pairs

__all__ = [
    "IGNORE_INDEX",
    "SYSTEM_PROMPT",
    "INSTRUCTION",
    "Example",
    "date_examples",
    "chat_messages",
    "render_prompt",
    "encode_example",
    "collate",
    "batch_sampler",
    "sft_loss",
    "train_steps",
    "generate_answers",
    "exact_match",
    "held_out_perplexity",
    "LORA_TARGETS",
    "DateLoRARecipe",
    "date_lora_recipe",
    "train_date_lora",
    "load_date_lora",
]

#: The label PyTorch's cross-entropy skips: no loss, no gradient at that position.
IGNORE_INDEX = -100
#: A short system turn (SmolLM2's template would otherwise insert a longer default one).
SYSTEM_PROMPT = "You are a helpful assistant."
#: How the date task is asked.
INSTRUCTION = "Write this date as YYYY-MM-DD: {date}"


@dataclass(frozen=True)
class Example:
    """One prompt and the response the assistant should give."""

    prompt: str
    response: str


def date_examples(n: int, seed: int = 0, split: str | None = None) -> list[Example]:
    """``n`` date-conversion requests with their ISO answers (:func:`llmbook.illustrations.dates.make_pairs`).

    ``split="train"`` and ``split="test"`` never share a calendar day, so a
    held-out set asks about dates the model was never trained on.
    """
    return [Example(INSTRUCTION.format(date=source), target)
            for source, target in make_pairs(n, seed=seed, split=split)]


def chat_messages(prompt: str, response: str | None = None,
                  shots: Sequence[Example] = (), system: str = SYSTEM_PROMPT) -> list[dict[str, str]]:
    """The conversation as a list of ``{"role", "content"}`` turns.

    ``shots`` are worked examples put before the prompt as earlier turns of
    the same conversation (few-shot prompting).
    """
    messages = [{"role": "system", "content": system}]
    for shot in shots:
        messages += [{"role": "user", "content": shot.prompt},
                     {"role": "assistant", "content": shot.response}]
    messages.append({"role": "user", "content": prompt})
    if response is not None:
        messages.append({"role": "assistant", "content": response})
    return messages


def render_prompt(tokenizer: Any, prompt: str, shots: Sequence[Example] = ()) -> str:
    """The chat-template text up to where the assistant starts answering."""
    return tokenizer.apply_chat_template(chat_messages(prompt, shots=shots), tokenize=False,
                                         add_generation_prompt=True)


def encode_example(tokenizer: Any, example: Example, max_length: int,
                   shots: Sequence[Example] = ()) -> tuple[list[int], list[int]]:
    """Token ids of the whole conversation, and labels that are ``-100`` except on the response.

    The response is followed by the end-of-turn token (the tokenizer's
    ``eos_token``, ``<|im_end|>`` for SmolLM2), which is labelled too: the
    model must learn to *stop*.

    Raises:
        ValueError: for an empty response, or if the prompt leaves no room
            for the response within ``max_length`` tokens (the context).
    """
    if not example.response.strip():
        raise ValueError("the response is empty: there would be nothing to learn")
    prompt_ids = tokenizer(render_prompt(tokenizer, example.prompt, shots),
                           add_special_tokens=False)["input_ids"]
    response_ids = tokenizer(example.response, add_special_tokens=False)["input_ids"]
    response_ids = response_ids + [tokenizer.eos_token_id]
    if len(prompt_ids) + len(response_ids) > max_length:
        raise ValueError(f"the prompt has {len(prompt_ids)} tokens and the response "
                         f"{len(response_ids)}: more than the context of {max_length} tokens")
    return prompt_ids + response_ids, [IGNORE_INDEX] * len(prompt_ids) + response_ids


def collate(encoded: Sequence[tuple[list[int], list[int]]],
            pad_id: int) -> tuple[Tensor, Tensor, Tensor]:
    """Right-pad encoded examples into ``(input_ids, attention_mask, labels)``, each ``(B, T)``.

    Padding positions get attention 0 and label ``-100``.

    Raises:
        ValueError: if ``encoded`` is empty.
    """
    if not encoded:
        raise ValueError("cannot make a batch from an empty data set")
    width = max(len(ids) for ids, _ in encoded)
    input_ids = torch.full((len(encoded), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(encoded), width), dtype=torch.long)
    labels = torch.full((len(encoded), width), IGNORE_INDEX, dtype=torch.long)
    for row, (ids, labs) in enumerate(encoded):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        attention[row, : len(ids)] = 1
        labels[row, : len(labs)] = torch.tensor(labs)
    return input_ids, attention, labels


def batch_sampler(encoded: Sequence[tuple[list[int], list[int]]], batch_size: int, pad_id: int,
                  seed: int = 0) -> Callable[[], tuple[Tensor, Tensor, Tensor]]:
    """A function returning a fresh random batch (without replacement within a pass) per call.

    Raises:
        ValueError: for an empty data set or a batch size that is not positive.
    """
    if not encoded:
        raise ValueError("the data set is empty")
    positive_int("batch_size", batch_size)
    rng = random.Random(seed)
    order: list[int] = []

    def next_batch() -> tuple[Tensor, Tensor, Tensor]:
        while len(order) < batch_size:
            fresh = list(range(len(encoded)))
            rng.shuffle(fresh)
            order.extend(fresh)
        rows = [order.pop(0) for _ in range(batch_size)]
        return collate([encoded[i] for i in rows], pad_id)

    return next_batch


def sft_loss(model: nn.Module, batch: tuple[Tensor, Tensor, Tensor],
             response_only: bool = True) -> Tensor:
    """Mean next-token cross-entropy of a causal LM on a batch from :func:`collate`.

    Position ``t`` predicts token ``t + 1``. With ``response_only`` the
    prompt tokens carry no loss (their labels are ``-100``); without it,
    every real (non-padding) token does.
    """
    dev = device_of(model)
    input_ids, attention, labels = (t.to(dev) for t in batch)
    if not response_only:
        labels = input_ids.masked_fill(attention == 0, IGNORE_INDEX)
    logits = model(input_ids=input_ids, attention_mask=attention).logits
    return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]),
                           labels[:, 1:].reshape(-1), ignore_index=IGNORE_INDEX)


def train_steps(model: nn.Module, loss_fn: Callable[[nn.Module, Any], Tensor],
                next_batch: Callable[[], Any], steps: int, lr: float,
                clip_grad_norm: float = 1.0, progress: bool = True) -> list[float]:
    """``steps`` AdamW steps on the trainable parameters; returns the loss of every step.

    ``loss_fn(model, batch)`` computes the loss of one batch; batches come
    from ``next_batch()``. This is :func:`llmbook.train.fit` with one step
    per "epoch", so that every step's loss is recorded.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameter")
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    from llmbook.train import fit

    history = fit(model, next_batch, optimizer=optimizer, epochs=steps, steps_per_epoch=1,
                  loss_fn=loss_fn, clip_grad_norm=clip_grad_norm, progress=progress)
    model.eval()
    return history.train_loss


@torch.no_grad()
def generate_answers(model: nn.Module, tokenizer: Any, prompts: Sequence[str],
                     shots: Sequence[Example] = (), max_new_tokens: int = 12,
                     batch_size: int = 16) -> list[str]:
    """The model's greedy answers to ``prompts`` (each rendered with the chat template).

    Prompts are left-padded in batches (so every prompt ends where the answer
    starts) and the answer stops at the end-of-turn token.
    """
    model.eval()
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    answers: list[str] = []
    try:
        for start in range(0, len(prompts), batch_size):
            texts = [render_prompt(tokenizer, p, shots) for p in prompts[start:start + batch_size]]
            enc = tokenizer(texts, return_tensors="pt", padding=True,
                            add_special_tokens=False).to(device_of(model))
            out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                                 pad_token_id=tokenizer.pad_token_id,
                                 eos_token_id=tokenizer.eos_token_id)
            new = out[:, enc["input_ids"].shape[1]:]
            answers += [a.strip() for a in tokenizer.batch_decode(new, skip_special_tokens=True)]
    finally:
        tokenizer.padding_side = side
    return answers


def exact_match(predictions: Sequence[str], answers: Sequence[str]) -> float:
    """The fraction of predictions equal to their answer (after stripping spaces).

    Raises:
        ValueError: if the lists are empty or of different lengths.
    """
    if len(predictions) != len(answers):
        raise ValueError(f"{len(predictions)} predictions for {len(answers)} answers")
    if not answers:
        raise ValueError("exact_match needs at least one answer")
    return sum(p.strip() == a.strip() for p, a in zip(predictions, answers)) / len(answers)


@torch.no_grad()
def held_out_perplexity(model: nn.Module, blocks: Tensor, batch_size: int = 8) -> float:
    """Perplexity of a causal LM on ``blocks`` of token ids ``(N, T)`` (e.g. held-out prose)."""
    model.eval()
    total, count = 0.0, 0
    for chunk in blocks.split(batch_size):
        chunk = chunk.to(device_of(model))
        loss = model(input_ids=chunk, labels=chunk).loss
        n = chunk.shape[0] * (chunk.shape[1] - 1)
        total += loss.item() * n
        count += n
    return float(torch.exp(torch.tensor(total / count)))


# --- Chapter 14's tuned model, for the chapters after it. ----------------------

#: The matrices chapter 14 adapts with LoRA: every attention and MLP projection.
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class DateLoRARecipe:
    """Everything that determines chapter 14's LoRA adapters for the date task.

    ``n_train`` training examples (``date_examples(n_train, seed=0,
    split="train")``), ``steps`` AdamW steps of ``batch_size`` examples at
    rate ``lr``, rank-``rank`` adapters with scale ``alpha`` on ``targets``,
    the loss on the response only (or on every token), and the seed of the
    adapters' initialisation and of the batch order.

    Raises:
        ValueError: for a count, rank or rate that is not positive, or no targets.
    """

    n_train: int = 2000
    steps: int = 16
    batch_size: int = 8
    lr: float = 2e-3
    rank: int = 8
    alpha: float = 16.0
    targets: tuple[str, ...] = LORA_TARGETS
    max_length: int = 128
    response_only: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("n_train", "steps", "batch_size", "rank", "max_length"):
            positive_int(name, getattr(self, name))
        for name in ("lr", "alpha"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        if not self.targets:
            raise ValueError("targets is empty: name at least one module ending, e.g. 'q_proj'")

    def cache_path(self) -> Path:
        """Where :func:`train_date_lora` keeps these adapters: one file per recipe."""
        from llmbook.pretrained import _cache_root

        fields = json.dumps(asdict(self), sort_keys=True)
        digest = hashlib.sha256(fields.encode()).hexdigest()[:16]
        return _cache_root() / "adapters" / f"smollm2-dates-{digest}.pt"


def date_lora_recipe() -> DateLoRARecipe:
    """Chapter 14's recipe: 16 steps on 2,000 examples (2 steps on 64 under ``LLMBOOK_QUICK``)."""
    return DateLoRARecipe(n_train=scaled(2000, 64), steps=scaled(16, 2))


def train_date_lora(model: nn.Module, tokenizer: Any, recipe: DateLoRARecipe,
                    progress: bool = True) -> list[float]:
    """Add LoRA adapters to ``model`` and train them on the date task; return every step's loss.

    The model should be freshly loaded (without adapters) and on the device
    to train on. The trained adapters are saved in the user cache
    (:meth:`DateLoRARecipe.cache_path`), where :func:`load_date_lora` finds them.
    """
    from llmbook.lora import add_lora, lora_state_dict
    from llmbook.train import save_atomically

    torch.manual_seed(recipe.seed)
    add_lora(model, recipe.targets, r=recipe.rank, alpha=recipe.alpha)
    examples = date_examples(recipe.n_train, seed=0, split="train")
    encoded = [encode_example(tokenizer, e, recipe.max_length) for e in examples]

    def loss(m: nn.Module, batch: tuple[Tensor, Tensor, Tensor]) -> Tensor:
        return sft_loss(m, batch, response_only=recipe.response_only)

    losses = train_steps(model, loss, batch_sampler(encoded, recipe.batch_size,
                                                    tokenizer.pad_token_id, seed=recipe.seed),
                         steps=recipe.steps, lr=recipe.lr, progress=progress)
    save_atomically(lora_state_dict(model), recipe.cache_path())
    return losses


def load_date_lora(recipe: DateLoRARecipe | None = None, *,
                   base: Callable[[], tuple[Any, nn.Module]] | None = None,
                   on: torch.device | str | None = None,
                   progress: bool = True) -> tuple[Any, nn.Module]:
    """SmolLM2-Instruct with chapter 14's tuned adapters: ``(tokenizer, model)``.

    The adapters come from the user cache, where chapter 14 left them. When
    they are missing or unreadable (a fresh machine, a cleared cache, a
    chapter run on its own) they are trained again with the same recipe,
    which takes about 40 s on two CPU cores.

    Args:
        recipe: the recipe; :func:`date_lora_recipe` by default.
        base: returns a fresh ``(tokenizer, model)``; SmolLM2 by default.
        on: the device; :func:`llmbook.devices.device` by default.
        progress: show a progress bar if the adapters are trained again.
    """
    from llmbook.lora import add_lora, load_lora_state_dict

    recipe = recipe or date_lora_recipe()
    if base is None:
        from llmbook.pretrained import load_smollm2

        def base() -> tuple[Any, nn.Module]:
            return load_smollm2(verbose=False)

    tokenizer, model = base()
    model.to(on or device())
    try:
        state = torch.load(recipe.cache_path(), map_location="cpu", weights_only=True)
    except (OSError, EOFError, RuntimeError, ValueError, pickle.UnpicklingError):
        # missing, truncated or not a tensor file: train again
        state = None
    if state is not None:
        add_lora(model, recipe.targets, r=recipe.rank, alpha=recipe.alpha)
        try:
            load_lora_state_dict(model, state)
        except (ValueError, RuntimeError):  # saved by another version of the recipe's shapes
            tokenizer, model = base()
            model.to(on or device())
            state = None
    if state is None:
        train_date_lora(model, tokenizer, recipe, progress=progress)
    model.eval()
    return tokenizer, model
