"""First neural language models over characters, and the counting model they compete with.

- :class:`OneHotMLP`: the next character from the current one, through a
  one-hot vector and one hidden layer,
  ``Linear(V, 128) -> ReLU -> Linear(128, V)``.
- :class:`BigramModel`: the same task solved exactly by counting character
  pairs. On its training text no model that sees only the current character
  can reach a lower cross-entropy.
- :class:`ContextMLP`: a Bengio-style model that sees the previous
  ``context`` characters, each turned into a learned embedding vector.
- :func:`generate`: write text with any of them, by sampling or greedily.

Every model maps integer ids to *logits*, one score per vocabulary entry for
the next character; ``softmax(logits)`` are the predicted probabilities.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from llmbook import _checks
from llmbook.batches import as_ids
from llmbook.devices import device_of

__all__ = [
    "OneHotMLP",
    "BigramModel",
    "ContextMLP",
    "generate",
]


class OneHotMLP(nn.Module):
    """Predict the next character from the current one with one hidden layer.

    For a character with id ``i``, the input is the one-hot vector
    :math:`x = e_i \\in \\mathbb{R}^V` and the logits are

    .. math:: z = W_2\\,\\mathrm{ReLU}(W_1 x + b_1) + b_2,

    with :math:`W_1 \\in \\mathbb{R}^{H\\times V}`, :math:`W_2 \\in
    \\mathbb{R}^{V\\times H}`. Each position of the input is predicted on its
    own: the model never sees more than one character.

    Args:
        vocab_size: ``V``, the number of distinct characters.
        hidden: ``H``, the width of the hidden layer (128 in the book).

    >>> model = OneHotMLP(vocab_size=5, hidden=3)
    >>> model(torch.tensor([[0, 4, 2]])).shape  # (batch, time, vocab)
    torch.Size([1, 3, 5])
    """

    def __init__(self, vocab_size: int, hidden: int = 128) -> None:
        super().__init__()
        if vocab_size < 1 or hidden < 1:
            raise ValueError(f"vocab_size and hidden must be positive, got {vocab_size}, {hidden}")
        self.vocab_size = vocab_size
        self.net = nn.Sequential(
            nn.Linear(vocab_size, hidden),
            nn.ReLU(),
            nn.Linear(hidden, vocab_size),
        )

    def forward(self, idx: Tensor) -> Tensor:
        """Logits of shape ``(*idx.shape, vocab_size)`` for ids of any shape.

        Raises:
            ValueError: if an id is outside ``range(vocab_size)``.
        """
        _checks.check_ids(idx, self.vocab_size, name="OneHotMLP")
        x = F.one_hot(idx, self.vocab_size).float()
        return self.net(x)


class BigramModel(nn.Module):
    """The counting model: ``P(next = j | current = i)`` = count(i, j) / count(i).

    It has no trainable parameters; :meth:`from_ids` fills a ``V x V`` table of
    pair counts. ``forward`` returns the log-probabilities as logits, so that
    :func:`llmbook.train.cross_entropy` gives exactly ``-log P``. With
    ``smoothing = k > 0`` every count is increased by ``k`` (add-k smoothing),
    so that pairs never seen in training keep a small probability. A
    character never seen *as a context* gets the uniform distribution.

    >>> model = BigramModel.from_ids([0, 1, 0, 1, 0, 2], vocab_size=3)
    >>> [round(p, 3) for p in model.probs[0].tolist()]  # after 0: 1 twice, 2 once
    [0.0, 0.667, 0.333]
    """

    counts: Tensor
    log_probs: Tensor

    def __init__(self, counts: Tensor, smoothing: float = 0.0) -> None:
        super().__init__()
        if counts.dim() != 2 or counts.shape[0] != counts.shape[1]:
            raise ValueError(f"counts must be a square V x V table, got shape {tuple(counts.shape)}")
        if smoothing < 0:
            raise ValueError(f"smoothing must be >= 0, got {smoothing}")
        self.vocab_size = counts.shape[0]
        self.smoothing = smoothing
        counts = counts.float()
        smoothed = counts + smoothing
        totals = smoothed.sum(dim=1, keepdim=True)
        probs = torch.where(totals > 0, smoothed / totals.clamp_min(1e-30),
                            torch.full_like(smoothed, 1.0 / self.vocab_size))
        self.register_buffer("counts", counts)
        self.register_buffer("log_probs", probs.log())

    @classmethod
    def from_ids(cls, ids: Tensor | Sequence[int], vocab_size: int,
                 smoothing: float = 0.0) -> BigramModel:
        """Count every pair of neighbouring ids in ``ids``.

        Raises:
            ValueError: if an id is outside ``range(vocab_size)`` or there are
                fewer than two ids.
        """
        ids = as_ids(ids)
        if len(ids) < 2:
            raise ValueError(f"need at least 2 ids to count a pair, got {len(ids)}")
        _checks.check_ids(ids, vocab_size, name="BigramModel.from_ids")
        counts = torch.zeros(vocab_size * vocab_size, device=ids.device)
        counts.index_add_(0, ids[:-1] * vocab_size + ids[1:], torch.ones(len(ids) - 1, device=ids.device))
        return cls(counts.view(vocab_size, vocab_size), smoothing)

    @property
    def probs(self) -> Tensor:
        """The ``V x V`` table of next-character probabilities (rows sum to 1)."""
        return self.log_probs.exp()

    def forward(self, idx: Tensor) -> Tensor:
        """Log-probabilities of shape ``(*idx.shape, vocab_size)``."""
        _checks.check_ids(idx, self.vocab_size, name="BigramModel")
        return self.log_probs[idx]


class ContextMLP(nn.Module):
    """A Bengio-style neural language model over the previous ``context`` characters.

    Each of the ``context`` ids is looked up in an embedding table
    :math:`C \\in \\mathbb{R}^{V \\times d}`; the vectors are concatenated into
    :math:`x \\in \\mathbb{R}^{\\text{context}\\cdot d}` and

    .. math:: z = W_2 \\tanh(W_1 x + b_1) + b_2

    are the logits of the next character (Bengio et al., 2003).

    Args:
        vocab_size: ``V``.
        context: how many previous characters the model sees.
        embed_dim: ``d``, the length of each character's vector.
        hidden: width of the hidden layer.

    >>> model = ContextMLP(vocab_size=5, context=3, embed_dim=2, hidden=4)
    >>> model(torch.tensor([[0, 1, 2], [4, 4, 4]])).shape  # (batch, vocab)
    torch.Size([2, 5])
    """

    def __init__(self, vocab_size: int, context: int = 8, embed_dim: int = 16,
                 hidden: int = 256) -> None:
        super().__init__()
        for name, value in [("vocab_size", vocab_size), ("context", context),
                            ("embed_dim", embed_dim), ("hidden", hidden)]:
            if value < 1:
                raise ValueError(f"{name} must be positive, got {value}")
        self.vocab_size = vocab_size
        self.context = context
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.hidden = nn.Linear(context * embed_dim, hidden)
        self.out = nn.Linear(hidden, vocab_size)

    def forward(self, idx: Tensor) -> Tensor:
        """Logits of shape ``(*idx.shape[:-1], vocab_size)``: one prediction per row.

        Raises:
            ValueError: if the last dimension of ``idx`` is not ``context`` or
                an id is outside the vocabulary.
        """
        if idx.dim() == 0 or idx.shape[-1] != self.context:
            raise ValueError(
                f"ContextMLP sees exactly {self.context} characters: expected ids of "
                f"shape (..., {self.context}), got {tuple(idx.shape)}"
            )
        _checks.check_ids(idx, self.vocab_size, name="ContextMLP")
        x = self.embedding(idx).flatten(start_dim=-2)  # (..., context * embed_dim)
        return self.out(torch.tanh(self.hidden(x)))


def _check_generate_args(prompt: Sequence[int] | Tensor, length: int, context: int) -> list[int]:
    """The checks of :func:`generate`; returns the prompt as a list of ids."""
    _checks.non_negative_int("length", length)
    _checks.positive_int("context", context)
    ids = as_ids(prompt).tolist()
    if len(ids) < context:
        raise ValueError(f"the prompt has {len(ids)} ids but the model needs {context} to start")
    return ids


@torch.no_grad()
def generate(
    model: nn.Module,
    prompt: Sequence[int] | Tensor,
    length: int,
    *,
    context: int = 1,
    greedy: bool = False,
    generator: torch.Generator | None = None,
) -> list[int]:
    """Extend ``prompt`` by ``length`` ids, one at a time.

    At every step the model sees the last ``context`` ids (as a batch of one,
    shape ``(1, context)``) and returns logits; the logits of the last position
    become probabilities by softmax. ``greedy=True`` takes the most probable
    id (argmax); otherwise the next id is *sampled* from the probabilities.

    Returns:
        the prompt followed by the ``length`` new ids.

    Raises:
        ValueError: if ``length`` is negative, ``context`` is not positive, or
            the prompt is shorter than ``context``.
    """
    ids = _check_generate_args(prompt, length, context)
    was_training = model.training
    model.eval()
    try:
        for _ in range(length):
            x = torch.tensor([ids[-context:]], device=device_of(model))
            out = model(x)
            logits = out.reshape(-1, out.shape[-1])[-1]  # the last position
            if greedy:
                next_id = int(logits.argmax())
            else:
                probs = torch.softmax(logits, dim=-1).cpu()  # where the generator draws
                next_id = int(torch.multinomial(probs, 1, generator=generator))
            ids.append(next_id)
    finally:
        model.train(was_training)
    return ids
