"""Attention from scratch, checked against PyTorch and on hand-computed cases."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from llmbook.models.attention import (
    MultiHeadAttention,
    causal_mask,
    padding_mask,
    scaled_dot_product_attention,
)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def test_hand_computed_example() -> None:
    # One query, two keys: scores q.k / sqrt(2) = [2/sqrt2, 0] -> softmax.
    q = torch.tensor([[1.0, 1.0]])
    k = torch.tensor([[1.0, 1.0], [1.0, -1.0]])
    v = torch.tensor([[10.0], [20.0]])
    out, w = scaled_dot_product_attention(q, k, v)
    a = math.exp(math.sqrt(2))
    expected_w = torch.tensor([[a / (a + 1), 1 / (a + 1)]])
    torch.testing.assert_close(w, expected_w)
    torch.testing.assert_close(out, expected_w @ v)


def test_matches_torch_sdpa_without_mask() -> None:
    q, k, v = torch.randn(2, 3, 5, 8), torch.randn(2, 3, 7, 8), torch.randn(2, 3, 7, 4)
    out, w = scaled_dot_product_attention(q, k, v)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v))
    assert w.shape == (2, 3, 5, 7)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 3, 5))


def test_matches_torch_sdpa_causal() -> None:
    q, k, v = (torch.randn(2, 4, 6, 8) for _ in range(3))
    out, w = scaled_dot_product_attention(q, k, v, causal_mask(6))
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, is_causal=True))
    assert torch.all(w.triu(diagonal=1) == 0)


def test_matches_torch_sdpa_with_padding_mask() -> None:
    q, k, v = torch.randn(3, 5, 8), torch.randn(3, 6, 8), torch.randn(3, 6, 8)
    mask = padding_mask([6, 2, 4], 6)
    out, w = scaled_dot_product_attention(q, k, v, mask)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask))
    assert torch.all(w[1, :, 2:] == 0) and torch.all(w[2, :, 4:] == 0)


def test_fully_masked_row_gives_zeros_like_torch() -> None:
    q = torch.randn(1, 2, 4)
    mask = torch.tensor([[True, False], [False, False]])
    out, w = scaled_dot_product_attention(q, q, q, mask)
    assert torch.all(w[0, 1] == 0) and torch.all(out[0, 1] == 0)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, q, q, attn_mask=mask))


def test_causal_mask_values() -> None:
    assert causal_mask(3).tolist() == [[True, False, False], [True, True, False], [True, True, True]]


def test_padding_mask_values() -> None:
    m = padding_mask(torch.tensor([2, 3]), 3)
    assert m.shape == (2, 1, 3)
    assert m.tolist() == [[[True, True, False]], [[True, True, True]]]


@pytest.mark.parametrize("bad", [0, -1, 2.0, True])
def test_causal_mask_rejects_bad_size(bad: object) -> None:
    with pytest.raises(ValueError, match="size must be a positive integer"):
        causal_mask(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(("lengths", "message"), [([0, 2], "between 1 and 3"), ([4], "between 1 and 3"),
                                                  ([], "non-empty")])
def test_padding_mask_rejects_bad_lengths(lengths: list[int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        padding_mask(lengths, 3)


def test_padding_mask_rejects_float_lengths() -> None:
    with pytest.raises(TypeError, match="integers"):
        padding_mask(torch.tensor([1.5]), 3)


def test_mismatched_query_key_sizes() -> None:
    with pytest.raises(ValueError, match="queries and keys must have the same size d_k"):
        scaled_dot_product_attention(torch.randn(2, 8), torch.randn(3, 6), torch.randn(3, 6))


def test_mismatched_key_value_lengths() -> None:
    with pytest.raises(ValueError, match="keys and values must have the same length"):
        scaled_dot_product_attention(torch.randn(2, 8), torch.randn(3, 8), torch.randn(4, 8))


def test_one_dimensional_input_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"q must be a tensor of shape \(\.\.\., length, dim\)"):
        scaled_dot_product_attention(torch.randn(8), torch.randn(3, 8), torch.randn(3, 8))


def test_mask_must_be_boolean() -> None:
    with pytest.raises(TypeError, match="mask must be a boolean tensor"):
        scaled_dot_product_attention(torch.randn(2, 4), torch.randn(2, 4), torch.randn(2, 4),
                                     torch.ones(2, 2))


def test_mask_must_broadcast() -> None:
    with pytest.raises(ValueError, match=r"does not broadcast to the attention scores of shape \(2, 3\)"):
        scaled_dot_product_attention(torch.randn(2, 4), torch.randn(3, 4), torch.randn(3, 4),
                                     causal_mask(2))


def _torch_and_ours(d_model: int = 16, heads: int = 4) -> tuple[torch.nn.MultiheadAttention, MultiHeadAttention]:
    theirs = torch.nn.MultiheadAttention(d_model, heads, batch_first=True)
    torch.nn.init.normal_(theirs.in_proj_bias)  # non-zero biases so copying them matters
    torch.nn.init.normal_(theirs.out_proj.bias)
    return theirs, MultiHeadAttention.from_torch(theirs)


def test_multihead_matches_torch_self_attention() -> None:
    theirs, ours = _torch_and_ours()
    x = torch.randn(2, 5, 16)
    out, w = ours(x, x, x)
    ref, ref_w = theirs(x, x, x, average_attn_weights=False)
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(w, ref_w)
    assert w.shape == (2, 4, 5, 5)


def test_multihead_matches_torch_cross_attention_with_masks() -> None:
    theirs, ours = _torch_and_ours()
    x, memory = torch.randn(2, 3, 16), torch.randn(2, 6, 16)
    mask = padding_mask([6, 4], 6)
    out, _ = ours(x, memory, memory, mask)
    # PyTorch's key_padding_mask is True where keys are HIDDEN: the opposite convention.
    ref, _ = theirs(x, memory, memory, key_padding_mask=~mask[:, 0, :])
    torch.testing.assert_close(out, ref)


def test_multihead_matches_torch_with_causal_mask() -> None:
    theirs, ours = _torch_and_ours()
    x = torch.randn(2, 5, 16)
    out, _ = ours(x, x, x, causal_mask(5))
    ref, _ = theirs(x, x, x, attn_mask=~causal_mask(5))
    torch.testing.assert_close(out, ref)


def test_to_torch_round_trip() -> None:
    ours = MultiHeadAttention(12, 3)
    theirs = ours.to_torch()
    x = torch.randn(1, 4, 12)
    torch.testing.assert_close(ours(x, x, x)[0], theirs(x, x, x)[0])
    again = MultiHeadAttention.from_torch(theirs)
    for a, b in zip(ours.parameters(), again.parameters()):
        torch.testing.assert_close(a, b)


def test_multihead_parameter_count() -> None:
    assert sum(p.numel() for p in MultiHeadAttention(16, 4).parameters()) == 4 * 16 * 16 + 4 * 16


def test_head_count_must_divide_width() -> None:
    with pytest.raises(ValueError, match=r"d_model \(10\) must be divisible by n_heads \(3\)"):
        MultiHeadAttention(10, 3)


def test_multihead_rejects_wrong_width() -> None:
    mha = MultiHeadAttention(8, 2)
    with pytest.raises(ValueError, match=r"query must have shape \(batch, length, 8\)"):
        mha(torch.randn(1, 3, 6), torch.randn(1, 3, 8), torch.randn(1, 3, 8))


def test_multihead_rejects_key_value_length_mismatch() -> None:
    mha = MultiHeadAttention(8, 2)
    with pytest.raises(ValueError, match="key and value must have the same batch and length"):
        mha(torch.randn(1, 3, 8), torch.randn(1, 4, 8), torch.randn(1, 5, 8))


def test_multihead_rejects_batch_mismatch() -> None:
    mha = MultiHeadAttention(8, 2)
    with pytest.raises(ValueError, match="query and key must have the same batch size"):
        mha(torch.randn(2, 3, 8), torch.randn(1, 4, 8), torch.randn(1, 4, 8))
