"""Transformer blocks, checked against PyTorch's layers with copied weights."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn

from llmbook.models.attention import causal_mask, padding_mask
from llmbook.models.transformer import (
    DecoderLayer,
    EncoderLayer,
    LearnedPositionalEmbedding,
    PositionwiseFeedForward,
    SinusoidalPositionalEncoding,
    Transformer,
    count_transformer_parameters,
    sinusoidal_positional_encoding,
)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def test_positional_encoding_formula() -> None:
    pe = sinusoidal_positional_encoding(50, 8)
    pos, i = 7, 2  # dimension 2i = 4 is a sine, 2i + 1 = 5 a cosine
    angle = pos / 10000 ** (2 * i / 8)
    assert pe[pos, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-6)
    assert pe[pos, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-6)
    assert pe[0].tolist() == [0.0, 1.0] * 4


def test_positional_encoding_dot_product_depends_on_distance_only() -> None:
    pe = sinusoidal_positional_encoding(100, 32)
    assert (pe[10] @ pe[15]).item() == pytest.approx((pe[40] @ pe[45]).item(), abs=1e-4)
    assert (pe[10] @ pe[10]).item() == pytest.approx(16.0, abs=1e-4)  # d_model / 2


@pytest.mark.parametrize(("args", "message"), [((10, 7), "d_model must be even"),
                                               ((0, 8), "max_len must be a positive integer")])
def test_positional_encoding_bad_sizes(args: tuple[int, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sinusoidal_positional_encoding(*args)


@pytest.mark.parametrize("module", [SinusoidalPositionalEncoding(4, 8), LearnedPositionalEmbedding(4, 8)])
def test_positions_reject_long_sequences(module: nn.Module) -> None:
    assert module(torch.zeros(2, 4, 8)).shape == (2, 4, 8)
    with pytest.raises(ValueError, match="sequence of length 5 is longer than max_len=4"):
        module(torch.zeros(2, 5, 8))


def test_feed_forward_formula() -> None:
    ff = PositionwiseFeedForward(4, 6)
    x = torch.randn(2, 3, 4)
    w1, b1, w2, b2 = ff.w_1.weight, ff.w_1.bias, ff.w_2.weight, ff.w_2.bias
    expected = torch.clamp(x @ w1.T + b1, min=0) @ w2.T + b2
    torch.testing.assert_close(ff(x), expected)
    # position-wise: position 1 alone gives the same result as inside the sequence
    torch.testing.assert_close(ff(x[:, 1:2]), ff(x)[:, 1:2])


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer_matches_torch(norm_first: bool) -> None:
    theirs = nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, batch_first=True, norm_first=norm_first)
    ours = EncoderLayer.from_torch(theirs)
    assert ours.norm_first is norm_first
    x = torch.randn(2, 5, 16)
    mask = padding_mask([5, 3], 5)
    theirs.train()  # the reference (slow) path, not the fused inference kernel
    torch.testing.assert_close(ours(x, mask), theirs(x, src_key_padding_mask=~mask[:, 0]))
    assert ours.attn_weights.shape == (2, 4, 5, 5)


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_matches_torch(norm_first: bool) -> None:
    theirs = nn.TransformerDecoderLayer(16, 4, 32, dropout=0.0, batch_first=True, norm_first=norm_first)
    ours = DecoderLayer.from_torch(theirs)
    x, memory = torch.randn(2, 4, 16), torch.randn(2, 6, 16)
    mem_mask = padding_mask([6, 2], 6)
    expected = theirs(x, memory, tgt_mask=~causal_mask(4), memory_key_padding_mask=~mem_mask[:, 0])
    torch.testing.assert_close(ours(x, memory, causal_mask(4), mem_mask), expected)
    assert ours.cross_attn_weights.shape == (2, 4, 4, 6)
    assert torch.all(ours.cross_attn_weights[1, :, :, 2:] == 0)


def test_from_torch_rejects_gelu_layers() -> None:
    layer = nn.TransformerEncoderLayer(8, 2, 16, activation="gelu", batch_first=True)
    with pytest.raises(ValueError, match="activation='relu'"):
        EncoderLayer.from_torch(layer)


def test_post_norm_output_is_normalised() -> None:
    layer = EncoderLayer(16, 4, 32, norm_first=False)
    y = layer(torch.randn(3, 5, 16) * 10)
    torch.testing.assert_close(y.mean(-1), torch.zeros(3, 5), atol=1e-5, rtol=0)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("positions", ["sinusoidal", "learned"])
def test_parameter_count_formula(norm_first: bool, positions: str) -> None:
    model = Transformer(30, 14, d_model=32, n_heads=4, n_layers=3, d_ff=64, max_len=20,
                        norm_first=norm_first, positions=positions)
    actual = sum(p.numel() for p in model.parameters())
    assert actual == count_transformer_parameters(30, 14, 32, 64, 3, norm_first=norm_first,
                                                  positions=positions, max_len=20)


def test_base_model_size_is_about_the_papers_65_million() -> None:
    n = count_transformer_parameters(37000, 37000, 512, 2048, 6, shared_embeddings=True)
    assert n == 63_082_496


def test_count_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="one vocabulary"):
        count_transformer_parameters(10, 12, 8, 16, 1, shared_embeddings=True)
    with pytest.raises(ValueError, match="'sinusoidal' or 'learned'"):
        count_transformer_parameters(10, 12, 8, 16, 1, positions="rotary")


def test_transformer_shapes_and_causality() -> None:
    model = Transformer(20, 10, d_model=16, n_heads=2, n_layers=2, d_ff=32, dropout=0.0, max_len=12).eval()
    src = torch.randint(1, 20, (3, 7))
    tgt = torch.randint(1, 10, (3, 5))
    logits = model(src, tgt)
    assert logits.shape == (3, 5, 10)
    # Changing a later target token does not change earlier outputs.
    tgt2 = tgt.clone()
    tgt2[:, 4] = (tgt2[:, 4] % 9) + 1
    torch.testing.assert_close(model(src, tgt2)[:, :4], logits[:, :4])


def test_source_padding_is_ignored() -> None:
    model = Transformer(20, 10, d_model=16, n_heads=2, n_layers=1, d_ff=32, dropout=0.0, max_len=12).eval()
    src = torch.tensor([[5, 6, 7, 0, 0]])
    tgt = torch.tensor([[1, 2, 3]])
    torch.testing.assert_close(model(src, tgt), model(src[:, :3], tgt))


def test_transformer_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match=r"d_model \(30\) must be divisible by n_heads \(4\)"):
        Transformer(10, 10, d_model=30, n_heads=4)
    with pytest.raises(ValueError, match="'sinusoidal' or 'learned'"):
        Transformer(10, 10, positions="none")
    model = Transformer(10, 10, d_model=8, n_heads=2, max_len=4)
    with pytest.raises(ValueError, match="src has length 5, longer than max_len=4"):
        model(torch.ones(1, 5, dtype=torch.long), torch.ones(1, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="tgt must be a non-empty"):
        model(torch.ones(1, 3, dtype=torch.long), torch.ones(1, 0, dtype=torch.long))


def test_greedy_decode_starts_with_bos_and_is_bounded() -> None:
    model = Transformer(10, 6, d_model=8, n_heads=2, max_len=8)
    out = model.greedy_decode(torch.randint(1, 10, (2, 4)), bos_id=1, eos_id=2, max_len=5)
    assert out.shape[0] == 2 and 2 <= out.shape[1] <= 6
    assert torch.all(out[:, 0] == 1)
