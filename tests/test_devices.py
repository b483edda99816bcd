"""llmbook.devices: the device choice, its override and its errors."""

from __future__ import annotations

import pytest
import torch

from llmbook import devices

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_environment_override_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(devices.ENV_VAR, "cpu")
    assert devices.device() == torch.device("cpu")


def test_explicit_name_beats_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(devices.ENV_VAR, "nonsense")
    assert devices.device("cpu") == torch.device("cpu")


def test_automatic_choice_without_accelerators(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(devices.ENV_VAR, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(devices, "_mps_available", lambda: False)
    assert devices.device() == torch.device("cpu")


def test_automatic_choice_prefers_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(devices.ENV_VAR, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(devices, "_mps_available", lambda: True)
    assert devices.device() == torch.device("cuda")


@pytest.mark.parametrize("name", ["tpu", "gpu", "", "cpu:x"])
def test_unknown_device_names_are_rejected(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv(devices.ENV_VAR, name or "???")
    with pytest.raises(ValueError, match="unknown device"):
        devices.device()


def test_absent_cuda_is_an_error_not_a_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        devices.device("cuda")


def test_absent_cuda_index_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(RuntimeError, match="has 1 CUDA device"):
        devices.device("cuda:3")


def test_absent_mps_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(devices, "_mps_available", lambda: False)
    with pytest.raises(RuntimeError, match="MPS is not available"):
        devices.device("mps")


def test_device_of_follows_the_parameters() -> None:
    assert devices.device_of(torch.nn.Linear(3, 2)) == torch.device("cpu")
    assert devices.device_of(torch.nn.ReLU()) == torch.device("cpu")


def test_autocast_disabled_keeps_float32() -> None:
    with devices.autocast("cpu", enabled=False):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32


def test_autocast_follows_the_bf16_rule_on_cpu() -> None:
    with devices.autocast("cpu"):
        dtype = (torch.ones(2, 2) @ torch.ones(2, 2)).dtype
    assert dtype == (torch.bfloat16 if devices.bf16_supported("cpu") else torch.float32)


def test_no_bf16_claim_for_mps() -> None:
    assert not devices.bf16_supported("mps")


@cuda
def test_cuda_device_and_autocast() -> None:
    dev = devices.device("cuda")
    layer = torch.nn.Linear(4, 4).to(dev)
    assert devices.device_of(layer).type == "cuda"
    with devices.autocast(dev):
        out = layer(torch.ones(2, 4, device=dev))
    assert out.dtype == (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32)
