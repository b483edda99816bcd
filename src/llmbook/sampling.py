"""Choosing the next token: temperature, greedy, top-k, top-p and one generation loop.

A language model outputs one *logit* per vocabulary entry; softmax turns the
logits into a probability distribution over the next token. This module holds
everything the book does *between* that distribution and the token that is
written down:

* :func:`apply_temperature` divides the logits by a temperature ``T > 0``;
  :func:`probs_power` is the same operation written on probabilities, the
  ``p ** (1/T)`` of the original course, renormalised;
* :func:`top_k_filter` keeps the ``k`` most probable tokens,
  :func:`top_p_filter` the smallest set whose probability reaches ``p``
  (nucleus sampling), :func:`apply_repetition_penalty` pushes down tokens already
  in the text (as in CTRL and ``transformers``);
* :func:`process_logits` chains them in the order ``transformers`` uses
  (repetition penalty, temperature, top-k, top-p), and :func:`sample_next`
  picks one token per row of a batch, at random or greedily;
* :func:`generate` is the one generation loop of the book. A model plugs in
  through a *step function* ``step_fn(new_ids, state) -> (logits, state)``,
  which lets a GPT keep its key/value cache and an LSTM its hidden state
  (:func:`window_step_fn`, :func:`recurrent_step_fn` and :func:`hf_step_fn`
  build step functions for common cases; the book's GPT has its own,
  :func:`llmbook.models.gpt.gpt_step_fn`, beside the model);
* :func:`entropy`, :func:`distinct_n` and :func:`repeated_ngram_fraction`
  measure how spread out a distribution is and how repetitive or diverse the
  generated texts are.

Every function works on a single logit vector ``(V,)`` or a batch ``(B, V)``
and never changes its input. Filtered tokens get the logit ``-inf`` (their
probability after softmax is exactly 0), as in ``transformers``. Tokens are
drawn on the device of the logits (or of the random generator, if it lives
elsewhere), so the same code samples from a model on the CPU or a GPU.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from llmbook import _checks
from llmbook.devices import device_of
from llmbook.text import ngrams

__all__ = [
    "StepFn",
    "Generation",
    "check_logits",
    "apply_temperature",
    "probs_power",
    "top_k_filter",
    "top_p_filter",
    "apply_repetition_penalty",
    "process_logits",
    "sample_next",
    "generate",
    "window_step_fn",
    "recurrent_step_fn",
    "hf_step_fn",
    "entropy",
    "distinct_n",
    "repeated_ngram_fraction",
]

#: ``step_fn(new_ids, state) -> (logits, state)``: ``new_ids`` is a ``(B, t)``
#: tensor of token ids the model has not seen yet (the whole prompt on the
#: first call, then the one token just chosen), ``state`` is whatever the
#: function returned last time (``None`` on the first call), and ``logits`` is
#: the ``(B, V)`` tensor of next-token logits after the last of ``new_ids``.
StepFn = Callable[[Tensor, Any], tuple[Tensor, Any]]


# ---------------------------------------------------------------------------
# Checking inputs
# ---------------------------------------------------------------------------


def check_logits(logits: Tensor) -> None:
    """Raise a clear error unless ``logits`` is a usable ``(V,)`` or ``(B, V)`` float tensor.

    ``-inf`` is allowed (a token that was filtered out), but every row needs at
    least one finite logit, and ``NaN`` or ``+inf`` are errors.

    Raises:
        TypeError: if ``logits`` is not a floating-point tensor.
        ValueError: for a wrong shape, an empty vocabulary, ``NaN`` or
            ``+inf`` values, or a row where every logit is ``-inf``.
    """
    if not isinstance(logits, Tensor):
        raise TypeError(f"logits must be a torch.Tensor, got {type(logits).__name__}")
    if not logits.is_floating_point():
        raise TypeError(f"logits must be a floating-point tensor, got dtype {logits.dtype}")
    if logits.dim() not in (1, 2):
        raise ValueError(f"logits must have shape (V,) or (B, V), got {tuple(logits.shape)}")
    if logits.shape[-1] == 0:
        raise ValueError("logits are empty: the vocabulary has no tokens")
    if bool(torch.isfinite(logits).all()):  # the usual case: one pass over the logits
        return
    if torch.isnan(logits).any():
        raise ValueError("logits contain NaN: the model's output is broken (check its inputs and weights)")
    if (logits == math.inf).any():
        raise ValueError("logits contain +inf: cannot turn them into probabilities")
    if (logits == -math.inf).all(dim=-1).any():
        raise ValueError("every logit of a row is -inf: no token is left to choose")


def _check_top_k(top_k: int, vocab_size: int) -> int:
    if isinstance(top_k, bool) or not isinstance(top_k, int):
        raise TypeError(f"top_k must be an int, got {type(top_k).__name__}")
    if top_k < 1:
        raise ValueError(f"top_k must be at least 1 (or None for no top-k filtering), got {top_k}")
    if top_k > vocab_size:
        raise ValueError(f"top_k = {top_k} is larger than the vocabulary ({vocab_size} tokens)")
    return top_k


def _check_top_p(top_p: float) -> float:
    if isinstance(top_p, bool) or not isinstance(top_p, (int, float)):
        raise TypeError(f"top_p must be a number, got {type(top_p).__name__}")
    if not 0 < top_p <= 1:  # also rejects NaN
        raise ValueError(f"top_p must be in (0, 1], got {top_p} (1 keeps every token)")
    return float(top_p)


def _check_penalty(penalty: float) -> float:
    if isinstance(penalty, bool) or not isinstance(penalty, (int, float)):
        raise TypeError(f"repetition penalty must be a number, got {type(penalty).__name__}")
    if not 0 < penalty < math.inf:
        raise ValueError(f"repetition penalty must be a positive finite number (1 = no penalty), got {penalty}")
    return float(penalty)


def _check_probs(probs: Tensor) -> None:
    """Raise a clear error unless ``probs`` holds ``(V,)`` or ``(B, V)`` distributions."""
    if not isinstance(probs, Tensor) or not probs.is_floating_point():
        raise TypeError("probs must be a floating-point torch.Tensor")
    if probs.dim() not in (1, 2) or probs.shape[-1] == 0:
        raise ValueError(f"probs must have shape (V,) or (B, V), got {tuple(probs.shape)}")
    if torch.isnan(probs).any() or (probs < 0).any():
        raise ValueError("probs must be non-negative numbers (no NaN)")
    if not torch.allclose(probs.sum(-1), torch.ones((), dtype=probs.dtype, device=probs.device), atol=1e-4):
        raise ValueError("each row of probs must sum to 1")


def _check_penalty_inputs(logits: Tensor, previous_ids: Tensor, penalty: float) -> tuple[Tensor, float]:
    """The checks of :func:`apply_repetition_penalty`; returns the ids as int64 and the penalty."""
    check_logits(logits)
    penalty = _check_penalty(penalty)
    ids = _checks.check_ids(previous_ids, logits.shape[-1], name="previous_ids")
    if ids.dim() != logits.dim() or (logits.dim() == 2 and ids.shape[0] != logits.shape[0]):
        raise ValueError(f"previous_ids of shape {tuple(ids.shape)} do not match logits of shape "
                         f"{tuple(logits.shape)}: need (t,) for (V,) and (B, t) for (B, V)")
    return ids, penalty


# ---------------------------------------------------------------------------
# Reshaping and filtering the distribution
# ---------------------------------------------------------------------------


def apply_temperature(logits: Tensor, temperature: float) -> Tensor:
    """Divide the logits by the temperature ``T``: ``softmax(logits / T)`` is the new distribution.

    ``T < 1`` sharpens the distribution (the favourite gains), ``T > 1``
    flattens it, ``T = 1`` leaves it unchanged. ``T = 0`` is not allowed:
    its limit is greedy decoding, which :func:`sample_next` offers through
    ``greedy=True``.

    >>> apply_temperature(torch.tensor([2.0, 1.0, 0.0]), 0.5)
    tensor([4., 2., 0.])

    Raises:
        ValueError: if ``T <= 0``, ``T`` is NaN or infinite, or the logits are bad
            (see :func:`check_logits`).
    """
    t = _checks.check_temperature(temperature)
    check_logits(logits)
    return logits / t


def probs_power(probs: Tensor, temperature: float) -> Tensor:
    """The original course's temperature: ``p ** (1/T)``, renormalised to sum to 1.

    It equals ``softmax(log(p) / T)``, so applied to ``p = softmax(logits)``
    it gives exactly ``softmax(logits / T)``. To avoid underflow for small
    ``T`` the probabilities are first divided by their maximum, which does not
    change the renormalised result (the factor cancels).

    >>> probs_power(torch.tensor([0.5, 0.25, 0.25]), 0.5)
    tensor([0.6667, 0.1667, 0.1667])

    Raises:
        ValueError: if ``T <= 0``, or ``probs`` has negative or NaN entries,
            or a row that does not sum to 1.
    """
    t = _checks.check_temperature(temperature)
    _check_probs(probs)
    scaled = probs / probs.amax(dim=-1, keepdim=True)  # the largest is now 1
    powered = scaled ** (1.0 / t)
    return powered / powered.sum(dim=-1, keepdim=True)


def top_k_filter(logits: Tensor, k: int) -> Tensor:
    """Keep the ``k`` largest logits of each row; set the others to ``-inf``.

    Tokens tied with the ``k``-th largest logit are kept too (as in
    ``transformers``' ``TopKLogitsWarper``), so a row may keep more than
    ``k`` tokens when logits are exactly equal.

    >>> top_k_filter(torch.tensor([1.0, 3.0, 2.0, 0.0]), 2)
    tensor([-inf, 3., 2., -inf])

    Raises:
        ValueError: if ``k < 1`` or ``k`` exceeds the vocabulary size.
    """
    check_logits(logits)
    k = _check_top_k(k, logits.shape[-1])
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, -math.inf)


def top_p_filter(logits: Tensor, p: float) -> Tensor:
    """Nucleus filtering: keep the smallest set of most probable tokens whose probability reaches ``p``.

    Sort the tokens from most to least probable and walk down the list,
    adding up probabilities; a token is kept if the mass of the tokens
    *before* it is still below ``p``. The most probable token is therefore
    always kept, and ``p = 1`` keeps everything (the logits are returned
    unchanged).

    >>> top_p_filter(torch.log(torch.tensor([0.5, 0.3, 0.15, 0.05])), 0.75)
    tensor([-0.6931, -1.2040,    -inf,    -inf])

    Raises:
        ValueError: if ``p`` is not in ``(0, 1]``.
    """
    check_logits(logits)
    p = _check_top_p(p)
    if p == 1.0:
        return logits.clone()
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    probs = sorted_logits.softmax(dim=-1)
    cumulative = probs.cumsum(dim=-1)
    mass_before = F.pad(cumulative[..., :-1], (1, 0))  # of the tokens above
    remove_sorted = mass_before >= p
    # back from sorted order to vocabulary order
    remove = remove_sorted.scatter(-1, order, remove_sorted)
    return logits.masked_fill(remove, -math.inf)


def apply_repetition_penalty(logits: Tensor, previous_ids: Tensor, penalty: float) -> Tensor:
    """Make tokens that already occur in ``previous_ids`` less likely (CTRL's repetition penalty).

    For every token present in the row's previous ids, a positive logit is
    divided by ``penalty`` and a negative one multiplied by it, so with
    ``penalty > 1`` the token always loses probability. Each token is
    penalised once however often it occurred. ``penalty = 1`` changes
    nothing; ``penalty < 1`` rewards repetition. This is what
    ``transformers``' ``RepetitionPenaltyLogitsProcessor`` does.

    Args:
        logits: ``(V,)`` or ``(B, V)``.
        previous_ids: the ids generated so far (prompt included), ``(t,)`` for
            a 1-D ``logits``, else ``(B, t)``.
        penalty: the factor, typically 1.1 to 1.3.

    >>> apply_repetition_penalty(torch.tensor([2.0, -1.0, 0.5]), torch.tensor([0, 1, 1]), 2.0)
    tensor([ 1.0000, -2.0000,  0.5000])

    Raises:
        ValueError: for a penalty that is not a positive finite number, or ids
            whose shape does not match the logits or that lie outside the vocabulary.
    """
    ids, penalty = _check_penalty_inputs(logits, previous_ids, penalty)
    seen = torch.gather(logits, -1, ids)
    penalised = torch.where(seen < 0, seen * penalty, seen / penalty)
    return logits.scatter(-1, ids, penalised)


def process_logits(
    logits: Tensor,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    repetition_penalty: float = 1.0,
    previous_ids: Tensor | None = None,
) -> Tensor:
    """All the reshaping before sampling, in ``transformers``' order.

    1. the repetition penalty (if ``repetition_penalty != 1``; needs ``previous_ids``),
    2. the temperature,
    3. top-k filtering (if ``top_k`` is not ``None``),
    4. top-p filtering (if ``top_p`` is not ``None``).

    Top-p is computed on the distribution *after* temperature and top-k, so
    "the most probable tokens" means most probable at that temperature.
    """
    check_logits(logits)
    t = _checks.check_temperature(temperature)
    if top_k is not None:
        _check_top_k(top_k, logits.shape[-1])
    if top_p is not None:
        _check_top_p(top_p)
    _check_penalty(repetition_penalty)
    if repetition_penalty != 1.0:
        if previous_ids is None:
            raise ValueError("a repetition penalty needs previous_ids (the tokens so far)")
        logits = apply_repetition_penalty(logits, previous_ids, repetition_penalty)
    logits = logits / t
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    if top_p is not None:
        logits = top_p_filter(logits, top_p)
    return logits


def sample_next(
    logits: Tensor,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    greedy: bool = False,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Choose the next token for every row of ``logits``.

    With ``greedy=True`` the most probable token is taken (the limit
    ``T -> 0``; ``temperature``, ``top_k`` and ``top_p`` cannot change the
    most probable token, so they are only checked). Otherwise the logits go
    through :func:`process_logits` and one token is drawn from their softmax
    with :func:`torch.multinomial`, using ``generator`` (or PyTorch's global
    random state if it is ``None``).

    Args:
        logits: ``(V,)`` for one distribution or ``(B, V)`` for a batch.

    Returns:
        The chosen ids: a 0-d tensor for ``(V,)`` logits, else shape ``(B,)``.

    Raises:
        ValueError: for bad logits, ``temperature <= 0``, ``top_k`` outside
            ``[1, V]``, or ``top_p`` outside ``(0, 1]``.
    """
    _check_settings(logits, temperature, top_k, top_p)
    if greedy:  # the limit T -> 0: filters cannot change the most probable token
        return logits.argmax(dim=-1)
    # In float32 with the largest logit at 0, dividing by a tiny T cannot overflow.
    scores = logits.float() - logits.float().amax(dim=-1, keepdim=True)
    scores = process_logits(scores, temperature=temperature, top_k=top_k, top_p=top_p)
    return _draw(F.softmax(scores, dim=-1), generator)


def _check_settings(logits: Tensor, temperature: float, top_k: int | None, top_p: float | None) -> None:
    check_logits(logits)
    _checks.check_temperature(temperature)
    if top_k is not None:
        _check_top_k(top_k, logits.shape[-1])
    if top_p is not None:
        _check_top_p(top_p)


def _draw(probs: Tensor, generator: torch.Generator | None) -> Tensor:
    """One id per row of ``probs`` with :func:`torch.multinomial`, drawn on the
    generator's device (a CPU generator can drive a model on a GPU)."""
    device = probs.device
    if generator is not None:
        probs = probs.to(generator.device)
    return torch.multinomial(probs, 1, generator=generator)[..., 0].to(device)


# ---------------------------------------------------------------------------
# The generation loop
# ---------------------------------------------------------------------------


@dataclass
class Generation:
    """What :func:`generate` returns.

    Attributes:
        ids: ``(B, P + N)``: the prompt followed by the generated tokens.
        logprobs: ``(B, N)``: the log-probability of each generated token
            under the *model's own* distribution (softmax of its raw logits,
            before penalty, temperature or filtering), the quantity whose mean
            measures how "likely" the model finds its text. ``NaN`` after a
            row has stopped.
        prompt_length: ``P``.
    """

    ids: Tensor
    logprobs: Tensor
    prompt_length: int

    @property
    def new_ids(self) -> Tensor:
        """The generated tokens only, ``(B, N)``."""
        return self.ids[:, self.prompt_length:]

    def mean_logprob(self) -> float:
        """Mean log-probability per generated token over the whole batch (NaNs ignored)."""
        values = self.logprobs[~torch.isnan(self.logprobs)]
        return float(values.mean()) if values.numel() else math.nan


def _as_prompt(prompt_ids: Tensor | Sequence[int]) -> Tensor:
    if isinstance(prompt_ids, (str, bytes)):
        raise TypeError("prompt_ids must be token ids, not text: encode the prompt first "
                        "(for example vocab.encode(text))")
    if isinstance(prompt_ids, Tensor):
        ids = prompt_ids
    else:
        ids = torch.tensor(list(prompt_ids) or [[]], dtype=None if prompt_ids else torch.long)
    if ids.is_floating_point() or ids.dtype == torch.bool:
        raise TypeError(f"prompt_ids must be integer token ids, got dtype {ids.dtype}")
    if ids.dim() == 1:
        ids = ids[None, :]
    if ids.dim() != 2:
        raise ValueError(f"prompt_ids must have shape (P,) or (B, P), got {tuple(ids.shape)}")
    if ids.shape[0] == 0 or ids.shape[1] == 0:
        raise ValueError("the prompt is empty: give at least one token to start from "
                         "(for example a start-of-text or story-marker token)")
    return ids.long()


def _check_generation(max_new_tokens: int, temperature: float, top_p: float | None,
                      penalty: float, stop_id: int | None, seed: int | None,
                      generator: torch.Generator | None) -> None:
    """The checks :func:`generate` makes before the model runs."""
    _checks.non_negative_int("max_new_tokens", max_new_tokens)
    _checks.check_temperature(temperature)
    if top_p is not None:
        _check_top_p(top_p)
    _check_penalty(penalty)
    if stop_id is not None:
        _checks.non_negative_int("stop_id", stop_id)
    if seed is not None and generator is not None:
        raise ValueError("give either seed or generator, not both")


def _check_step(logits: Tensor, step: int, ids: Tensor, top_k: int | None, stop_id: int | None) -> None:
    """The checks of each step's logits; at the first step, of what needs the vocabulary size."""
    if logits.dim() != 2 or logits.shape[0] != ids.shape[0]:
        raise ValueError(f"step_fn must return logits of shape (B, V) = "
                         f"({ids.shape[0]}, V), got {tuple(logits.shape)}")
    if step == 0:
        vocab_size = logits.shape[-1]
        if top_k is not None:
            _check_top_k(top_k, vocab_size)
        if stop_id is not None:
            _checks.token_id("stop_id", stop_id, vocab_size)
        _checks.check_ids(ids, vocab_size, name="prompt_ids")


@torch.no_grad()
def generate(
    step_fn: StepFn,
    prompt_ids: Tensor | Sequence[int],
    max_new_tokens: int,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    greedy: bool = False,
    repetition_penalty: float = 1.0,
    stop_id: int | None = None,
    seed: int | None = None,
    generator: torch.Generator | None = None,
) -> Generation:
    """Extend a prompt token by token: the book's one generation loop.

    At every step the model (through ``step_fn``) gives the next-token logits;
    they go through the repetition penalty, temperature, top-k and top-p, and
    :func:`sample_next` picks the token, which is appended and fed back to the
    model. Rows of a batch are generated in parallel.

    Args:
        step_fn: ``step_fn(new_ids, state) -> (logits, state)`` (see :data:`StepFn`).
            It is called once with the whole prompt and ``state=None``, then
            once per new token with that token alone, shape ``(B, 1)``.
        prompt_ids: ``(P,)`` or ``(B, P)`` token ids, ``P >= 1``.
        max_new_tokens: how many tokens to add (``0`` returns the prompt).
        temperature, top_k, top_p, greedy: as in :func:`sample_next`.
        repetition_penalty: as in :func:`apply_repetition_penalty` (prompt included);
            ``1`` disables it.
        stop_id: a token that ends a row (e.g. end-of-text); the row is then
            filled with ``stop_id`` and the loop ends when every row has stopped.
        seed: seeds a fresh :class:`torch.Generator` so that the same call
            always gives the same text. ``generator`` may be given instead;
            with neither, PyTorch's global random state is used (as
            ``transformers``' ``generate`` does).

    Returns:
        A :class:`Generation` with the ids and the model's log-probabilities.

    The tokens are generated on the device of the logits that ``step_fn``
    returns (the model's); a ``seed`` makes a CPU generator, so that the same
    seed draws the same tokens whatever the device.

    Raises:
        TypeError: for a prompt given as text rather than token ids.
        ValueError: for an empty prompt, ``max_new_tokens < 0``, both ``seed``
            and ``generator``, or any bad sampling setting (checked before the
            model runs); at the first step, for a ``top_k``, ``stop_id`` or
            prompt id outside the vocabulary.
    """
    ids = _as_prompt(prompt_ids)
    _check_generation(max_new_tokens, temperature, top_p, repetition_penalty, stop_id, seed, generator)
    if seed is not None:
        generator = torch.Generator().manual_seed(seed)
    batch, prompt_length = ids.shape
    logprobs = torch.full((batch, max_new_tokens), math.nan)
    done = torch.zeros(batch, dtype=torch.bool)
    state: Any = None
    new = ids
    for step in range(max_new_tokens):
        logits, state = step_fn(new, state)
        _check_step(logits, step, ids, top_k, stop_id)
        ids, logprobs, done = ids.to(logits.device), logprobs.to(logits.device), done.to(logits.device)
        logits = logits.float()
        scores = logits
        if repetition_penalty != 1.0:
            scores = apply_repetition_penalty(logits, ids, repetition_penalty)
        next_ids = sample_next(scores, temperature=temperature, top_k=top_k,
                               top_p=top_p, greedy=greedy, generator=generator)
        # log-probability of each choice under the model's own distribution
        chosen = F.log_softmax(logits, dim=-1).gather(-1, next_ids[:, None])[:, 0]
        if stop_id is not None:  # rows that have stopped only repeat stop_id
            next_ids = torch.where(done, stop_id, next_ids)
            chosen = torch.where(done, math.nan, chosen)
        logprobs[:, step] = chosen
        new = next_ids[:, None]
        ids = torch.cat([ids, new], dim=1)
        if stop_id is not None:
            done |= next_ids == stop_id
            if bool(done.all()):
                logprobs = logprobs[:, : step + 1]
                break
    return Generation(ids=ids, logprobs=logprobs, prompt_length=prompt_length)


def _device(model: Any) -> torch.device | None:
    """The device of a module's parameters; ``None`` (leave tensors where they are) otherwise."""
    return device_of(model) if isinstance(model, torch.nn.Module) else None


def window_step_fn(forward: Callable[[Tensor], Tensor], block_size: int | None = None) -> StepFn:
    """A step function for a model that reads the whole context every time.

    ``forward(ids)`` must return logits ``(B, t, V)`` (or ``(B, V)`` for the
    last position). The state is simply the ids so far; each step re-reads the
    last ``block_size`` of them (all, if ``None``). Simple and always correct,
    but each step costs a full forward pass. If ``forward`` is a module, the
    ids are moved to its device.
    """
    _checks.positive_int("block_size", block_size, optional=True)
    device = _device(forward)

    def step(new_ids: Tensor, state: Tensor | None) -> tuple[Tensor, Tensor]:
        new_ids = new_ids.to(device)
        ids = new_ids if state is None else torch.cat([state, new_ids], dim=1)
        context = ids if block_size is None else ids[:, -block_size:]
        logits = forward(context)
        if isinstance(logits, tuple):  # models returning (logits, loss)
            logits = logits[0]
        return (logits[:, -1] if logits.dim() == 3 else logits), ids

    return step


def recurrent_step_fn(model: Callable[..., tuple[Tensor, Any]]) -> StepFn:
    """A step function for a recurrent model called as ``model(ids, hidden) -> (logits, hidden)``.

    ``logits`` may be ``(B, t, V)`` (the last position is used) or ``(B, V)``;
    ``hidden`` is whatever the model carries from step to step (an LSTM's
    ``(h, c)``), ``None`` at the start. Only the new tokens are fed: the
    hidden state already summarises everything before them. If ``model`` is
    a module, the ids are moved to its device.
    """
    device = _device(model)

    def step(new_ids: Tensor, hidden: Any) -> tuple[Tensor, Any]:
        logits, hidden = model(new_ids.to(device), hidden)
        return (logits[:, -1] if logits.dim() == 3 else logits), hidden

    return step


def hf_step_fn(model: Any) -> StepFn:
    """A step function for a ``transformers`` causal LM, keeping its ``past_key_values``.

    The state is ``(past_key_values, attention_mask)``; rows are assumed not
    padded. Logits are returned in float32, as ``transformers`` does before
    its logits processors. The ids are moved to the model's device.
    """
    device = _device(model)

    def step(new_ids: Tensor, state: tuple[Any, Tensor] | None) -> tuple[Tensor, tuple[Any, Tensor]]:
        new_ids = new_ids.to(device)
        past, mask = (None, None) if state is None else state
        ones = torch.ones_like(new_ids)
        mask = ones if mask is None else torch.cat([mask, ones], dim=1)
        out = model(input_ids=new_ids, attention_mask=mask, past_key_values=past, use_cache=True)
        return out.logits[:, -1].float(), (out.past_key_values, mask)

    return step


# ---------------------------------------------------------------------------
# Measuring distributions and texts
# ---------------------------------------------------------------------------


def entropy(probs: Tensor, base: float = math.e) -> Tensor:
    """Entropy ``H(p) = -sum_i p_i log p_i`` of each distribution (row), in nats or another base.

    Terms with ``p_i = 0`` count as 0. ``base=2`` gives bits. ``exp(H)`` (in
    nats) is the number of equally likely tokens that would be as uncertain.

    >>> round(float(entropy(torch.tensor([0.5, 0.5]), base=2)), 6)
    1.0
    """
    if not isinstance(probs, Tensor) or not probs.is_floating_point():
        raise TypeError("probs must be a floating-point torch.Tensor")
    if torch.isnan(probs).any() or (probs < 0).any():
        raise ValueError("probs must be non-negative numbers (no NaN)")
    terms = torch.where(probs > 0, probs * torch.log(probs.clamp_min(1e-300)), torch.zeros_like(probs))
    return -terms.sum(dim=-1) / math.log(base)


def _as_lists(texts: Iterable[Sequence[Any]] | Tensor) -> list[list[Any]]:
    if isinstance(texts, Tensor):
        if texts.dim() != 2:
            raise ValueError(f"a tensor of texts must be 2-D (texts, tokens), got {tuple(texts.shape)}")
        return texts.tolist()
    if isinstance(texts, str):
        raise TypeError("give a list of texts (each a sequence of tokens), not a single str")
    return [list(t) for t in texts]


def distinct_n(texts: Iterable[Sequence[Any]] | Tensor, n: int) -> float:
    """Distinct-n: the number of *different* n-grams divided by the number of n-grams, over all texts.

    1 means no n-gram ever repeats (within or across texts); a value near 0
    means the texts keep saying the same thing. Computed over the whole set,
    so it also drops when different samples say the same thing (Li et al.,
    2016).

    >>> distinct_n([["a", "b", "a", "b"], ["a", "b", "c"]], 2)
    0.6

    Raises:
        ValueError: if no text has ``n`` tokens.
    """
    grams = [g for t in _as_lists(texts) for g in ngrams(t, n)]
    if not grams:
        raise ValueError(f"no text has {n} tokens: distinct-{n} is undefined")
    return len(set(grams)) / len(grams)


def repeated_ngram_fraction(text: Sequence[Any], n: int) -> float:
    """The fraction of a text's n-grams that already occurred earlier in the same text.

    0 for a text that never repeats itself; close to 1 for a text stuck in a
    loop (after the first pass through the loop, every n-gram is a repeat).

    >>> repeated_ngram_fraction("abcabcab", 3)
    0.5

    Raises:
        ValueError: if the text has fewer than ``n`` tokens.
    """
    grams = ngrams(text, n)
    if not grams:
        raise ValueError(f"the text has fewer than {n} tokens")
    seen: set[tuple[Any, ...]] = set()
    repeats = 0
    for g in grams:
        repeats += g in seen
        seen.add(g)
    return repeats / len(grams)
