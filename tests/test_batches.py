"""Tests of llmbook.batches: splitting ids and cutting shifted windows."""

import numpy as np
import pytest
import torch

from llmbook.batches import as_ids, random_rows, random_windows, split_ids


def test_as_ids_accepts_lists_arrays_tensors():
    assert as_ids([3, 1]).dtype == torch.int64
    assert as_ids(np.array([3, 1], dtype=np.int32)).tolist() == [3, 1]
    assert as_ids(torch.tensor([3, 1])).tolist() == [3, 1]


def test_as_ids_bad_input():
    with pytest.raises(ValueError, match=r"expected a 1-D sequence of ids, got shape \(2, 2\)"):
        as_ids([[1, 2], [3, 4]])
    with pytest.raises(TypeError, match="ids must be integers, got dtype torch.float32"):
        as_ids(torch.tensor([1.0, 2.0]))


def test_split_ids_is_contiguous_80_20():
    train, val = split_ids(list(range(100)))
    assert train.tolist() == list(range(80))
    assert val.tolist() == list(range(80, 100))
    train, val = split_ids(torch.arange(10), train_fraction=0.5)
    assert (len(train), len(val)) == (5, 5)


@pytest.mark.parametrize("fraction", [0, 1, 1.5, -0.2])
def test_split_ids_rejects_bad_fraction(fraction):
    with pytest.raises(ValueError, match="train_fraction must be strictly between 0 and 1"):
        split_ids(list(range(10)), train_fraction=fraction)


def test_split_ids_rejects_too_little_data():
    with pytest.raises(ValueError, match="3 ids are too few to split 80%/20%"):
        split_ids([1, 2, 3])


def test_random_windows_are_shifted_by_one():
    data = torch.arange(100) * 10
    g = torch.Generator().manual_seed(3)
    x, y = random_windows(data, batch_size=5, block_size=7, generator=g)
    assert x.shape == y.shape == (5, 7)
    assert x.dtype == torch.int64
    # every row is a contiguous run of the data, and y is x moved one step on
    assert torch.equal(x[:, 1:], y[:, :-1])
    assert torch.equal(y - x, torch.full((5, 7), 10))
    assert torch.equal(x[:, 1:] - x[:, :-1], torch.full((5, 6), 10))


def test_random_windows_reproducible_with_generator():
    data = torch.arange(50)
    a = random_windows(data, 4, 3, generator=torch.Generator().manual_seed(0))
    b = random_windows(data, 4, 3, generator=torch.Generator().manual_seed(0))
    assert all(torch.equal(p, q) for p, q in zip(a, b))


def test_random_windows_can_use_the_whole_data():
    # block_size = len - 1: the only window is the whole sequence
    x, y = random_windows([5, 6, 7, 8], batch_size=2, block_size=3)
    assert x.tolist() == [[5, 6, 7]] * 2 and y.tolist() == [[6, 7, 8]] * 2


def test_random_windows_longer_than_data():
    with pytest.raises(ValueError, match=r"block_size=10 ids plus its next id needs 11 ids, "
                                         r"but the data has only 10"):
        random_windows(torch.arange(10), batch_size=1, block_size=10)


@pytest.mark.parametrize("name,kwargs", [("batch_size", dict(batch_size=0, block_size=2)),
                                         ("block_size", dict(batch_size=2, block_size=0)),
                                         ("block_size", dict(batch_size=2, block_size=-1))])
def test_random_windows_non_positive_sizes(name, kwargs):
    with pytest.raises(ValueError, match=f"{name} must be a positive integer"):
        random_windows(torch.arange(10), **kwargs)


def test_random_rows_keeps_pairs_together():
    x = torch.arange(20).view(10, 2)
    y = torch.arange(10) * 100
    bx, by = random_rows(x, y, 6, generator=torch.Generator().manual_seed(1))
    assert bx.shape == (6, 2) and by.shape == (6,)
    assert torch.equal(bx[:, 0] * 50, by)


def test_random_rows_bad_input():
    with pytest.raises(ValueError, match="same number of rows, got 3 and 2"):
        random_rows(torch.zeros(3, 2), torch.zeros(2), 1)
    with pytest.raises(ValueError, match="cannot draw rows from empty tensors"):
        random_rows(torch.zeros(0, 2), torch.zeros(0), 1)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        random_rows(torch.zeros(3, 2), torch.zeros(3), 0)


DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA GPU"))]


@pytest.mark.parametrize("device", DEVICES)
def test_batches_live_on_the_datas_device(device):
    data = torch.arange(100)
    x, y = random_windows(data.to(device), 4, 8, generator=torch.Generator().manual_seed(0))
    cpu_x, cpu_y = random_windows(data, 4, 8, generator=torch.Generator().manual_seed(0))
    assert x.device.type == y.device.type == device
    assert torch.equal(x.cpu(), cpu_x) and torch.equal(y.cpu(), cpu_y)  # a CPU generator: the same windows
    assert random_windows(data.to(device), 2, 3)[0].device.type == device  # no generator
    rx, ry = random_rows(data.to(device), data.to(device) + 1, 5, generator=torch.Generator().manual_seed(1))
    assert rx.device.type == device and torch.equal(ry - rx, torch.ones(5, dtype=torch.long, device=device))
