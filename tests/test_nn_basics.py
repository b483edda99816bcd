"""Tests of llmbook.nn_basics: activations, the neuron, the valley, optimiser
paths and the finite-difference gradient check."""

import math

import pytest
import torch
import torch.nn.functional as F

from llmbook.nn_basics import (ACTIVATIONS, VALLEY_MINIMUM, gradient_check, neuron,
                               numerical_gradient, optimizer_paths, relative_error, step, valley)


def test_activation_values():
    z = torch.tensor([-2.0, 0.0, 3.0])
    assert step(z).tolist() == [0.0, 0.0, 1.0]
    assert ACTIVATIONS["ReLU"](z).tolist() == [0.0, 0.0, 3.0]
    assert ACTIVATIONS["sigmoid"](torch.tensor(0.0)).item() == 0.5
    assert ACTIVATIONS["tanh"](torch.tensor(0.0)).item() == 0.0
    # GELU(x) = x * Phi(x); Phi(1) = 0.8413447...
    assert ACTIVATIONS["GELU"](torch.tensor(1.0)).item() == pytest.approx(0.8413447, abs=1e-6)
    assert list(ACTIVATIONS) == ["step", "sigmoid", "tanh", "ReLU", "GELU"]


def test_neuron_computes_weighted_sum_plus_bias():
    x = torch.tensor([[1.0, 2.0], [0.0, 0.0]])
    w = torch.tensor([0.5, 0.25])
    out = neuron(x, w, -1.0, activation=lambda z: z)
    assert out.tolist() == [0.0, -1.0]
    assert neuron(x[0], w, 0.0).item() == pytest.approx(1 / (1 + math.exp(-1.0)))
    with pytest.raises(ValueError, match="x has 2 inputs but w has 3 weights"):
        neuron(x, torch.ones(3), 0.0)


def test_valley_minimum_and_shape():
    assert valley(torch.tensor(VALLEY_MINIMUM)).item() == 0.0
    assert valley(torch.tensor([-1.0, 1.0])).item() == 4.0  # on the floor y = x^2
    assert valley(torch.zeros(5, 7, 2)).shape == (5, 7)


def test_optimizer_paths_reach_the_minimum():
    paths = optimizer_paths(valley, (-1.5, 2.0), {
        "Adam": lambda ps: torch.optim.Adam(ps, lr=0.1),
        "SGD": lambda ps: torch.optim.SGD(ps, lr=0.01),
    }, steps=300)
    assert set(paths) == {"Adam", "SGD"}
    assert paths["Adam"].shape == (301, 2)
    assert paths["Adam"][0].tolist() == [-1.5, 2.0]
    assert torch.allclose(paths["Adam"][-1], torch.tensor(VALLEY_MINIMUM, dtype=torch.float64),
                          atol=1e-2)
    assert valley(paths["SGD"][-1]) < valley(paths["SGD"][0]) / 10
    with pytest.raises(ValueError, match="steps must be >= 0"):
        optimizer_paths(valley, (0.0, 0.0), {}, steps=-1)


def test_numerical_gradient_of_a_known_function():
    p = torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64)
    grad = numerical_gradient(lambda: (p**3).sum(), p)
    assert torch.allclose(grad, 3 * p**2, rtol=1e-8)
    assert p.tolist() == [1.0, -2.0, 3.0]  # restored
    with pytest.raises(ValueError, match="eps must be positive"):
        numerical_gradient(lambda: p.sum(), p, eps=0)


def two_layer_problem():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(5, 3, generator=g, dtype=torch.float64)
    y = torch.randn(5, 1, generator=g, dtype=torch.float64)
    w1 = torch.randn(3, 4, generator=g, dtype=torch.float64, requires_grad=True)
    w2 = torch.randn(4, 1, generator=g, dtype=torch.float64, requires_grad=True)

    def loss():
        return F.mse_loss(torch.tanh(x @ w1) @ w2, y)

    return loss, [w1, w2]


def test_gradient_check_passes_for_autograd():
    loss, params = two_layer_problem()
    check = gradient_check(loss, params)
    assert check.passed
    assert check.max_error < 1e-7
    assert len(check.errors) == 2


def test_gradient_check_fails_for_a_wrong_gradient():
    loss, params = two_layer_problem()
    loss().backward()
    good = [p.grad.clone() for p in params]
    assert gradient_check(loss, params, good).passed
    wrong = [good[0], good[1] * 1.01]  # 1 % off in the second layer
    check = gradient_check(loss, params, wrong)
    assert not check.passed
    assert check.errors[0] < 1e-7
    assert check.errors[1] == pytest.approx(0.01 / 2.01, rel=1e-3)


def test_gradient_check_bad_input():
    loss, params = two_layer_problem()
    with pytest.raises(ValueError, match="got 1 gradients for 2 parameters"):
        gradient_check(loss, params, [torch.zeros(3, 4)])
    with pytest.raises(ValueError, match=r"cannot compare shapes \(2,\) and \(3,\)"):
        relative_error(torch.zeros(2), torch.zeros(3))


def test_relative_error():
    assert relative_error(torch.tensor([1.0, 0.0]), torch.tensor([1.0, 0.0])) == 0.0
    assert relative_error(torch.tensor([1.0]), torch.tensor([3.0])) == 0.5
