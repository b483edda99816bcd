"""Learning from preferences: DPO, a Bradley–Terry reward model, and best-of-n sampling.

Preference data are triples ``(prompt, chosen, rejected)``: two answers to
the same prompt, the first one preferred. Two ways to use them:

* **Direct preference optimisation** (DPO, Rafailov et al. 2023) trains the
  language model itself. With ``log π(y|x)`` the log-probability of answer
  ``y`` summed over its tokens, for the model being trained (``π_θ``) and a
  frozen copy (the *reference* ``π_ref``), the loss of one pair is::

      -log σ(β [(log π_θ(y_w|x) - log π_ref(y_w|x)) - (log π_θ(y_l|x) - log π_ref(y_l|x))])

  ``y_w`` is the chosen ("winning") answer and ``y_l`` the rejected one;
  ``β · (log π_θ - log π_ref)`` is the *implicit reward* of an answer.

* A **reward model** gives an answer one score ``r(x, y)`` and is trained
  with the Bradley–Terry loss ``-log σ(r(x, y_w) - r(x, y_l))``;
  **best-of-n** sampling then draws ``n`` answers and keeps the best scored.

Pairs are encoded with :func:`llmbook.sft.encode_example`, so log-probabilities
are summed over the response tokens only (the prompt's labels are ``-100``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from llmbook._checks import positive_int
from llmbook.devices import device_of
from llmbook.sft import IGNORE_INDEX, Example, collate, encode_example, render_prompt

__all__ = [
    "PreferencePair",
    "encode_pairs",
    "pair_batches",
    "sequence_logprobs",
    "dpo_loss",
    "dpo_batch_loss",
    "token_kl",
    "RewardModel",
    "bradley_terry_loss",
    "reward_batch_loss",
    "sample_answers",
    "best_of_n",
]


@dataclass(frozen=True)
class PreferencePair:
    """A prompt with a preferred (``chosen``) and a worse (``rejected``) answer.

    Raises:
        ValueError: if the two answers are identical (the pair says nothing).
    """

    prompt: str
    chosen: str
    rejected: str

    def __post_init__(self) -> None:
        if self.chosen.strip() == self.rejected.strip():
            raise ValueError(f"chosen and rejected answers are identical ({self.chosen!r}): "
                             "a preference pair needs two different answers")


def _check_beta(beta: float) -> None:
    if not beta > 0:
        raise ValueError(f"beta must be positive, got {beta!r}")


def encode_pairs(tokenizer: Any, pairs: Sequence[PreferencePair],
                 max_length: int) -> list[tuple[tuple[list[int], list[int]], tuple[list[int], list[int]]]]:
    """Each pair as ``(chosen ids and labels, rejected ids and labels)`` (see :func:`llmbook.sft.encode_example`).

    Raises:
        ValueError: for an empty list, or a prompt that leaves no room in ``max_length``.
    """
    if not pairs:
        raise ValueError("the preference data set is empty")
    return [(encode_example(tokenizer, Example(p.prompt, p.chosen), max_length),
             encode_example(tokenizer, Example(p.prompt, p.rejected), max_length)) for p in pairs]


def pair_batches(encoded: Sequence[Any], batch_size: int, pad_id: int,
                 seed: int = 0) -> Callable[[], tuple[Tensor, Tensor, Tensor]]:
    """A function returning a random batch of pairs: the ``B`` chosen rows, then the ``B`` rejected.

    Raises:
        ValueError: for an empty data set or a batch size that is not positive.
    """
    if not encoded:
        raise ValueError("the preference data set is empty")
    positive_int("batch_size", batch_size)
    generator = torch.Generator().manual_seed(seed)
    order: list[int] = []

    def next_batch() -> tuple[Tensor, Tensor, Tensor]:
        while len(order) < batch_size:
            order.extend(torch.randperm(len(encoded), generator=generator).tolist())
        rows = [order.pop(0) for _ in range(batch_size)]
        return collate([encoded[i][0] for i in rows] + [encoded[i][1] for i in rows], pad_id)

    return next_batch


def sequence_logprobs(model: nn.Module, batch: tuple[Tensor, Tensor, Tensor]) -> Tensor:
    """``log π(response | prompt)`` of each row: token log-probabilities summed over the labelled positions.

    ``batch`` is ``(input_ids, attention_mask, labels)`` from
    :func:`llmbook.sft.collate`; positions labelled ``-100`` (prompt,
    padding) contribute nothing. Returns a tensor of shape ``(B,)``.
    """
    dev = device_of(model)
    input_ids, attention, labels = (t.to(dev) for t in batch)
    logits = model(input_ids=input_ids, attention_mask=attention).logits[:, :-1]
    targets = labels[:, 1:]
    mask = targets != IGNORE_INDEX
    token_logp = torch.gather(logits.log_softmax(-1), 2,
                              targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return (token_logp * mask).sum(-1)


def dpo_loss(policy_chosen: Tensor, policy_rejected: Tensor, ref_chosen: Tensor,
             ref_rejected: Tensor, beta: float) -> tuple[Tensor, Tensor, Tensor]:
    """The DPO loss (mean over the pairs) and the implicit rewards of the chosen and rejected answers.

    All four inputs are sequence log-probabilities of shape ``(B,)``. The
    implicit reward of an answer is ``β (log π_θ - log π_ref)``; the loss is
    ``-log σ(reward_chosen - reward_rejected)``.

    Raises:
        ValueError: if ``beta <= 0``.
    """
    _check_beta(beta)
    chosen_reward = beta * (policy_chosen - ref_chosen)
    rejected_reward = beta * (policy_rejected - ref_rejected)
    loss = -F.logsigmoid(chosen_reward - rejected_reward).mean()
    return loss, chosen_reward.detach(), rejected_reward.detach()


def dpo_batch_loss(model: nn.Module, reference: Callable[[], Any], batch: tuple[Tensor, Tensor, Tensor],
                   beta: float) -> tuple[Tensor, Tensor, Tensor]:
    """:func:`dpo_loss` on a batch from :func:`pair_batches` (chosen rows first).

    ``reference()`` is a context manager in which ``model`` computes the
    reference model's log-probabilities: for a LoRA model,
    :func:`llmbook.lora.lora_disabled` (the frozen base model *is* the
    reference), so no second copy of the model is needed.
    """
    _check_beta(beta)
    logp = sequence_logprobs(model, batch)
    with torch.no_grad(), reference():
        ref_logp = sequence_logprobs(model, batch)
    n = logp.shape[0] // 2
    return dpo_loss(logp[:n], logp[n:], ref_logp[:n], ref_logp[n:], beta)


@torch.no_grad()
def token_kl(model: nn.Module, reference: Callable[[], Any],
             batch: tuple[Tensor, Tensor, Tensor]) -> Tensor:
    """KL(π_θ ‖ π_ref) of the next-token distributions, summed over each row's labelled positions.

    At every response position ``t`` both models predict a distribution over
    the vocabulary given the same prefix; ``Σ_v p_θ(v) (log p_θ(v) - log p_ref(v))``
    is their KL divergence, and the sum over the response measures how far
    the tuned model has drifted from the reference on that answer. Inside
    ``reference()`` the model computes as the reference (see
    :func:`dpo_batch_loss`). Returns a tensor of shape ``(B,)``.
    """
    dev = device_of(model)
    input_ids, attention, labels = (t.to(dev) for t in batch)
    # Only the labelled positions' logits go through the softmax: each row of
    # logits is as wide as the vocabulary, and the prompt's positions do not count.
    labelled = labels[:, 1:] != IGNORE_INDEX  # (B, T-1)
    logp = model(input_ids=input_ids, attention_mask=attention).logits[:, :-1][labelled].log_softmax(-1)
    with reference():
        ref = model(input_ids=input_ids, attention_mask=attention).logits[:, :-1][labelled].log_softmax(-1)
    per_token = (logp.exp() * (logp - ref)).sum(-1)  # (N,): the KL at each labelled position
    row = torch.arange(len(input_ids), device=dev).unsqueeze(1).expand_as(labelled)[labelled]
    return per_token.new_zeros(len(input_ids)).index_add(0, row, per_token)


class RewardModel(nn.Module):
    """A language model's body with a scalar head: the score of the hidden state of the last real token.

    ``body`` maps ``input_ids, attention_mask`` to an object with
    ``last_hidden_state`` of shape ``(B, T, d)`` (e.g. ``smol.model``, the
    decoder without its language-model head); ``head`` is a new
    ``nn.Linear(d, 1)`` initialised to zero, so every answer starts with
    reward 0. Rows must be right-padded (as :func:`llmbook.sft.collate` does).
    """

    def __init__(self, body: nn.Module, hidden_size: int) -> None:
        super().__init__()
        self.body = body
        self.head = nn.Linear(hidden_size, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        self.head.to(device_of(body))

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        """The reward of each row, shape ``(B,)``."""
        hidden = self.body(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        last = attention_mask.sum(1) - 1  # index of the last real token of each row
        rows = torch.arange(hidden.shape[0], device=hidden.device)
        return self.head(hidden[rows, last]).squeeze(-1)


def bradley_terry_loss(chosen_reward: Tensor, rejected_reward: Tensor) -> Tensor:
    """``-log σ(r_chosen - r_rejected)``, averaged: the Bradley–Terry model's negative log-likelihood."""
    return -F.logsigmoid(chosen_reward - rejected_reward).mean()


def reward_batch_loss(reward_model: RewardModel, batch: tuple[Tensor, Tensor, Tensor]) -> Tensor:
    """:func:`bradley_terry_loss` on a batch from :func:`pair_batches` (chosen rows first)."""
    dev = device_of(reward_model)
    input_ids, attention, _ = (t.to(dev) for t in batch)
    rewards = reward_model(input_ids, attention)
    n = rewards.shape[0] // 2
    return bradley_terry_loss(rewards[:n], rewards[n:])


@torch.no_grad()
def sample_answers(model: nn.Module, tokenizer: Any, prompts: Sequence[str], n: int,
                   max_new_tokens: int = 12, temperature: float = 1.0,
                   seed: int = 0) -> list[list[str]]:
    """``n`` answers to each of ``prompts``, sampled at ``temperature`` (with the chat template).

    All ``len(prompts) * n`` answers are drawn in one batch (the prompts
    left-padded, so every prompt ends where its answer starts); answer ``j``
    of prompt ``i`` is ``result[i][j]``.

    Raises:
        TypeError: if ``prompts`` is a single string instead of a sequence of them.
        ValueError: if there are no prompts, ``n < 1`` or ``temperature <= 0``.
    """
    if isinstance(prompts, str):
        raise TypeError("prompts must be a sequence of strings; for one prompt, pass [prompt]")
    if not prompts:
        raise ValueError("sample_answers needs at least one prompt")
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature!r}")
    model.eval()
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    try:
        texts = [render_prompt(tokenizer, p) for p in prompts for _ in range(n)]
        enc = tokenizer(texts, return_tensors="pt", padding=True,
                        add_special_tokens=False).to(device_of(model))
    finally:
        tokenizer.padding_side = side
    torch.manual_seed(seed)
    out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=True,
                         temperature=temperature, top_k=0, top_p=1.0,
                         pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
    answers = [a.strip() for a in tokenizer.batch_decode(out[:, enc["input_ids"].shape[1]:],
                                                         skip_special_tokens=True)]
    return [answers[i * n:(i + 1) * n] for i in range(len(prompts))]


@torch.no_grad()
def best_of_n(reward_model: RewardModel, tokenizer: Any, prompt: str,
              candidates: Sequence[str], max_length: int = 256) -> tuple[str, Tensor]:
    """The candidate answer with the highest reward, and the rewards of all candidates.

    Raises:
        ValueError: if there are no candidates.
    """
    if not candidates:
        raise ValueError("best_of_n needs at least one candidate answer")
    reward_model.eval()
    encoded = [encode_example(tokenizer, Example(prompt, c if c.strip() else "-"), max_length)
               for c in candidates]
    input_ids, attention, _ = collate(encoded, tokenizer.pad_token_id)
    dev = device_of(reward_model)
    rewards = reward_model(input_ids.to(dev), attention.to(dev)).float().cpu()
    return candidates[int(rewards.argmax())], rewards
