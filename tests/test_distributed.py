"""llmbook.distributed: sharding, gradient averaging, and real 2-process runs with torchrun (gloo).

Every run that starts processes has a timeout, so a broken run fails instead of hanging.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

from llmbook.distributed import (
    DataParallelConfig,
    average_gradients,
    flat_weights,
    free_port,
    launch,
    make_batches,
    make_model,
    port_is_free,
    shard,
    train_steps,
)

TINY = DataParallelConfig(steps=3, batch_size=4, block_size=8, n_layer=1, n_head=2, n_embd=16, vocab_size=11)


# --- sharding -------------------------------------------------------------------------


def test_shards_cover_the_batch_in_order() -> None:
    batch = torch.arange(12).view(6, 2)
    parts = [shard(batch, r, 3) for r in range(3)]
    assert torch.equal(torch.cat(parts), batch)


@pytest.mark.parametrize(("rank", "world", "message"), [(0, 7, "larger than the batch of 6"),
                                                        (0, 4, "does not split"),
                                                        (3, 3, "rank must be in 0..2"),
                                                        (0, 0, "positive integer")])
def test_shard_bad_input(rank: int, world: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        shard(torch.arange(6), rank, world)


def test_config_rejects_world_size_larger_than_batch() -> None:
    with pytest.raises(ValueError, match="world size 8 is larger than the batch of 4"):
        TINY.check_world_size(8)


def test_config_rejects_bad_fields() -> None:
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        DataParallelConfig(steps=0)


# --- one process: the all-reduce of a single rank changes nothing -----------------------


def test_average_gradients_with_one_rank(tmp_path: Path) -> None:
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        model = torch.nn.Linear(3, 2)
        model(torch.randn(4, 3)).sum().backward()
        before = [p.grad.clone() for p in model.parameters()]
        average_gradients(model)
        assert all(torch.equal(b, p.grad) for b, p in zip(before, model.parameters()))
    finally:
        dist.destroy_process_group()


def test_single_process_training_is_deterministic() -> None:
    runs = []
    for _ in range(2):
        model = make_model(TINY)
        losses, _ = train_steps(model, make_batches(TINY), TINY.learning_rate)
        runs.append(flat_weights(model))
    assert torch.equal(runs[0], runs[1])
    assert len(losses) == TINY.steps


# --- two processes --------------------------------------------------------------------------


def test_two_processes_match_each_other_and_one_process(tmp_path: Path) -> None:
    output, summary = launch(2, tmp_path, TINY, modes=("scratch", "ddp"), timeout=180)
    assert summary["world_size"] == 2
    reference = make_model(TINY)
    train_steps(reference, make_batches(TINY), TINY.learning_rate)  # one process, the whole batch
    expected = flat_weights(reference)
    for mode in ("scratch", "ddp"):
        assert summary[mode]["max_rank_difference"] == 0.0  # the copies are identical
        weights = torch.load(tmp_path / f"{mode}.pt")
        torch.testing.assert_close(weights, expected, rtol=1e-5, atol=1e-6)
        losses = summary[mode]["losses"]
        assert len(losses) == 2 and losses[0] != losses[1]  # each rank saw its own shard
    assert "weights of the ranks differ by at most" in output


def test_launch_rejects_world_size_larger_than_batch(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="world size 8 is larger than the batch of 4"):
        launch(8, tmp_path, TINY, timeout=30)


def test_launch_rejects_a_port_in_use(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert not port_is_free(port)
        with pytest.raises(OSError, match=f"port {port} is already in use"):
            launch(2, tmp_path, TINY, port=port, timeout=30)


def test_launch_rejects_unknown_modes(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="modes"):
        launch(2, tmp_path, TINY, modes=("tensor",), timeout=30)


def test_launch_times_out_instead_of_hanging(tmp_path: Path) -> None:
    with pytest.raises(TimeoutError, match="did not finish within 0.5 s"):
        launch(2, tmp_path, TINY, timeout=0.5)


def test_free_port_is_free() -> None:
    assert port_is_free(free_port())
