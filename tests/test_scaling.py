"""llmbook.scaling: memory arithmetic, power-law fits, compute-optimal sizes, the model family."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from llmbook.models.gpt import GPT, GPTConfig
from llmbook.scaling import (
    BYTES_PER_PARAMETER,
    MODEL_SHAPES,
    SCALING_FAMILY,
    FamilyMember,
    ModelShape,
    activation_bytes,
    bytes_per_device,
    compute_optimal,
    fit_power_law,
    non_embedding_parameters,
    tokens_per_parameter,
    train_family,
    training_flops,
    training_state_bytes,
)

# --- memory ------------------------------------------------------------------


def test_sixteen_bytes_per_parameter() -> None:
    assert sum(BYTES_PER_PARAMETER.values()) == 16
    assert sum(training_state_bytes(124_000_000).values()) == 16 * 124_000_000


def test_gpt2_small_shape_has_gpt2s_parameter_count() -> None:
    gpt2 = next(s for s in MODEL_SHAPES if s.name == "GPT-2 small")
    assert gpt2.parameters == 124_439_808  # GPT-2 small, the tied head counted once


def test_shapes_grow_to_tens_of_billions() -> None:
    sizes = [s.parameters for s in MODEL_SHAPES]
    assert sizes == sorted(sizes)
    assert 60e9 < sizes[-1] < 75e9


def test_activation_memory_formula_and_scaling() -> None:
    shape = ModelShape("toy", n_layer=2, n_embd=16, n_head=4, vocab_size=10, block_size=64)
    base = activation_bytes(shape, batch_size=1, context=8)
    assert base == 2 * 8 * 1 * 16 * 34
    assert activation_bytes(shape, batch_size=3, context=8) == 3 * base  # linear in the batch
    assert activation_bytes(shape, batch_size=1, context=16) == 2 * base  # linear in the context...
    # ...unless the attention scores are stored: then a term quadratic in the context.
    stored = activation_bytes(shape, batch_size=1, context=8, flash_attention=False)
    assert stored == 2 * 8 * 16 * (34 + 5 * 4 * 8 / 16)


@pytest.mark.parametrize(("kwargs", "message"), [({"batch_size": 0, "context": 8}, "batch_size"),
                                                 ({"batch_size": 1, "context": 0}, "context")])
def test_activation_memory_bad_input(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        activation_bytes(MODEL_SHAPES[0], **kwargs)


def test_bytes_per_device_zero_stages_and_model_parallelism() -> None:
    n = 1000
    assert bytes_per_device(n) == 16 * n
    assert bytes_per_device(n, data=8) == 16 * n  # plain data parallelism replicates everything
    assert bytes_per_device(n, data=4, zero_stage=1) == (2 + 2 + 12 / 4) * n
    assert bytes_per_device(n, data=4, zero_stage=2) == (2 + (2 + 12) / 4) * n
    assert bytes_per_device(n, data=4, zero_stage=3) == 16 * n / 4
    assert bytes_per_device(n, tensor=2, pipeline=4) == 16 * n / 8


@pytest.mark.parametrize(("kwargs", "message"), [({"data": 0}, "data"), ({"tensor": 0}, "tensor"),
                                                 ({"zero_stage": 4}, "zero_stage")])
def test_bytes_per_device_bad_input(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        bytes_per_device(10, **kwargs)


# --- power laws and compute ---------------------------------------------------------


@pytest.mark.parametrize(("scale", "exponent"), [(3.0, 0.3), (12.5, 0.076), (0.5, 1.2)])
def test_fit_recovers_a_known_power_law(scale: float, exponent: float) -> None:
    x = np.geomspace(1e3, 1e9, 7)
    law = fit_power_law(x, scale * x ** (-exponent))
    assert law.exponent == pytest.approx(exponent, rel=1e-9)
    assert law.scale == pytest.approx(scale, rel=1e-9)
    assert law(1e12) == pytest.approx(scale * 1e12 ** (-exponent), rel=1e-9)


def test_fit_with_noise_is_close() -> None:
    rng = np.random.default_rng(0)
    x = np.geomspace(1e4, 1e8, 20)
    y = 5.0 * x**-0.1 * np.exp(rng.normal(0, 0.01, x.shape))
    assert fit_power_law(x, y).exponent == pytest.approx(0.1, abs=0.005)


@pytest.mark.parametrize(("x", "y", "message"), [([1.0], [1.0], "at least two points"),
                                                 ([1.0, 2.0], [1.0], "same length"),
                                                 ([1.0, -2.0], [1.0, 2.0], "positive"),
                                                 ([1.0, 2.0], [0.0, 2.0], "positive"),
                                                 ([3.0, 3.0], [1.0, 2.0], "equal")])
def test_fit_bad_input(x: list, y: list, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        fit_power_law(x, y)


def test_chinchilla_arithmetic() -> None:
    assert training_flops(70e9, 1.4e12) == pytest.approx(5.88e23)
    n, d = compute_optimal(5.88e23)  # Chinchilla's budget: 70B parameters, 1.4T tokens
    assert n == pytest.approx(70e9, rel=1e-3) and d == pytest.approx(1.4e12, rel=1e-3)
    with pytest.raises(ValueError, match="positive"):
        compute_optimal(0.0)


# --- the family ---------------------------------------------------------------------


def test_non_embedding_parameters_are_the_blocks() -> None:
    for bias in (True, False):
        cfg = GPTConfig(vocab_size=65, block_size=16, n_layer=3, n_head=2, n_embd=24, bias=bias)
        blocks = sum(p.numel() for p in GPT(cfg).blocks.parameters())
        assert non_embedding_parameters(cfg) == blocks


def test_family_grows_and_chapter_11_is_next() -> None:
    sizes = [non_embedding_parameters(m.config(65)) for m in SCALING_FAMILY]
    assert sizes == sorted(sizes)
    assert all(1.5 < b / a < 2.5 for a, b in zip(sizes, sizes[1:]))  # each about twice the one before
    chapter_11 = non_embedding_parameters(FamilyMember(4, 4, 128).config(65))
    assert chapter_11 > sizes[-1]
    assert tokens_per_parameter(65) == pytest.approx(2000 * 32 * 128 / chapter_11)


def test_train_family_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(0)
    data = torch.randint(0, 11, (2000,))
    rows = train_family([FamilyMember(1, 2, 8), FamilyMember(1, 2, 16)], data[:1600], data[1600:],
                        vocab_size=11, tokens_per_param=2.0, device="cpu", progress=False)
    assert [r["model"] for r in rows] == ["1x8", "1x16"]
    for r in rows:
        assert r["tokens"] == r["iterations"] * 32 * 128
        assert r["flops"] == pytest.approx(6 * r["parameters"] * r["tokens"])
        assert 0 < r["val_loss"] < 2 * math.log(11)
    with pytest.raises(ValueError, match="tokens_per_param"):
        train_family(SCALING_FAMILY, data, data, vocab_size=11, tokens_per_param=0.0, progress=False)
