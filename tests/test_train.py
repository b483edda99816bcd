"""Tests of llmbook.train: the generic training loop, evaluation and checkpoints."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from llmbook.train import (History, cosine_schedule, cross_entropy, evaluate, fit, load_checkpoint,
                           next_token_loss, perplexity, save_checkpoint, train_step)


def regression_problem():
    """y = 2 x0 - x1 + 0.5 exactly, 64 points, fixed seed."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 2, generator=g)
    y = x @ torch.tensor([[2.0], [-1.0]]) + 0.5
    return x, y


def make_model():
    torch.manual_seed(0)
    return nn.Linear(2, 1)


def mse(model, batch):
    """The regression loss in the training contract: loss_fn(model, batch)."""
    x, y = batch
    return F.mse_loss(model(x), y)


def test_fit_decreases_loss_on_a_fixed_problem():
    x, y = regression_problem()
    model = make_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    h = fit(model, [(x[:48], y[:48])], [(x[48:], y[48:])], loss_fn=mse,
            optimizer=opt, epochs=100, progress=False)
    assert h.epochs == 100 and len(h.val_loss) == 100 and len(h.epoch_time) == 100
    assert h.train_loss[-1] < 1e-6 < h.train_loss[0]
    assert h.val_loss[-1] < 1e-6
    # The model found the true weights.
    assert torch.allclose(model.weight, torch.tensor([[2.0, -1.0]]), atol=1e-3)
    assert model.bias.item() == pytest.approx(0.5, abs=1e-3)
    assert h.wall_time == pytest.approx(sum(h.epoch_time))


def test_fit_with_callable_source_counts_steps():
    x, y = regression_problem()
    calls = []

    def batch():
        calls.append(1)
        return x, y

    model = make_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    h = fit(model, batch, batch, loss_fn=mse, optimizer=opt, epochs=3,
            steps_per_epoch=4, val_steps=2, progress=False)
    assert len(calls) == 3 * (4 + 2)
    assert h.epochs == 3


def test_fit_caps_an_iterable_at_steps_per_epoch():
    x, y = regression_problem()
    seen = []
    model = make_model()

    def loss(model, batch):
        seen.append(1)
        return mse(model, batch)

    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    fit(model, [(x, y)] * 10, loss_fn=loss, optimizer=opt, epochs=2, steps_per_epoch=3,
        progress=False)
    assert len(seen) == 6


def test_cross_entropy_flattens_leading_dims():
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 5)
    targets = torch.randint(0, 5, (2, 3))
    expected = F.cross_entropy(logits.reshape(6, 5), targets.reshape(6))
    assert torch.equal(cross_entropy(logits, targets), expected)
    # Uniform logits over V classes: loss = ln V exactly.
    assert cross_entropy(torch.zeros(4, 7), torch.arange(4)).item() == pytest.approx(math.log(7))


def test_cross_entropy_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"need targets of shape \(2, 3\), got \(2, 4\)"):
        cross_entropy(torch.zeros(2, 3, 5), torch.zeros(2, 4, dtype=torch.long))


def test_perplexity_is_exp_of_loss():
    assert perplexity(0.0) == 1.0
    assert perplexity(math.log(83)) == pytest.approx(83)


def test_evaluate_weights_batches_by_targets_and_restores_mode():
    model = nn.Identity()
    model.train()
    big = (torch.zeros(3), torch.ones(3))      # mse 1 over 3 targets
    small = (torch.zeros(1), torch.full((1,), 2.0))  # mse 4 over 1 target
    loss = evaluate(model, [big, small], loss_fn=mse)
    assert loss == pytest.approx((1 * 3 + 4 * 1) / 4)
    assert model.training


def test_evaluate_bad_input():
    model = nn.Identity()
    with pytest.raises(ValueError, match="evaluate got no batches"):
        evaluate(model, [], loss_fn=mse)
    with pytest.raises(ValueError, match="number of batches per epoch must be given"):
        evaluate(model, lambda: (torch.zeros(1), torch.zeros(1)), loss_fn=mse)
    with pytest.raises(ValueError, match="steps must be a positive integer, got 0"):
        evaluate(model, [], loss_fn=mse, steps=0)


def test_checkpoint_round_trip(tmp_path):
    x, y = regression_problem()
    model = make_model()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    path = tmp_path / "ckpt" / "model.pt"
    h = fit(model, [(x, y)], [(x, y)], loss_fn=mse, optimizer=opt, epochs=3,
            checkpoint_path=path, progress=False)
    assert path.is_file()
    assert not list(path.parent.glob("*.tmp"))  # no temporary file left behind

    model2 = nn.Linear(2, 1)
    opt2 = torch.optim.Adam(model2.parameters(), lr=0.01)
    h2 = load_checkpoint(path, model2, opt2)
    assert h2 == h
    for a, b in zip(model.state_dict().values(), model2.state_dict().values()):
        assert torch.equal(a, b)
    assert opt2.state_dict()["state"][0]["step"] == opt.state_dict()["state"][0]["step"]

    # Continuing from the checkpoint appends to its history and matches an
    # uninterrupted run exactly.
    fit(model, [(x, y)], loss_fn=mse, optimizer=opt, epochs=2, progress=False)
    h3 = fit(model2, [(x, y)], loss_fn=mse, optimizer=opt2, epochs=2, history=h2,
             progress=False)
    assert h3.epochs == 5 and h3 is h2
    assert torch.allclose(model.weight, model2.weight)


def test_checkpoint_errors(tmp_path):
    model = make_model()
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "missing.pt", model)
    path = save_checkpoint(tmp_path / "m.pt", model)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="holds no optimizer state"):
        load_checkpoint(path, model, opt)
    assert load_checkpoint(path, model) == History()


def test_history_perplexity_and_dict_round_trip():
    h = History(train_loss=[math.log(10), 0.0], val_loss=[math.log(20)], epoch_time=[1.0, 2.5])
    assert h.train_perplexity == pytest.approx([10.0, 1.0])
    assert h.val_perplexity == pytest.approx([20.0])
    assert h.wall_time == 3.5 and h.epochs == 2
    assert History.from_dict(h.to_dict()) == h


def test_on_epoch_end_is_called_with_epoch_number():
    x, y = regression_problem()
    model = make_model()
    seen = []
    fit(model, [(x, y)], loss_fn=mse, optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        epochs=3, on_epoch_end=lambda e, h: seen.append((e, h.epochs)), progress=False)
    assert seen == [(1, 1), (2, 2), (3, 3)]


@pytest.mark.parametrize("lr", [0.0, -0.1])
def test_fit_rejects_non_positive_learning_rate(lr):
    x, y = regression_problem()
    model = make_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    opt.param_groups[0]["lr"] = lr  # torch itself rejects lr < 0 but accepts 0
    with pytest.raises(ValueError, match=f"learning rate must be positive, got lr={lr}"):
        fit(model, [(x, y)], loss_fn=mse, optimizer=opt, epochs=1, progress=False)


@pytest.mark.parametrize("epochs", [0, -3, 1.5])
def test_fit_rejects_bad_epochs(epochs):
    model = make_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match=f"epochs must be a positive integer, got {epochs}"):
        fit(model, [], loss_fn=mse, optimizer=opt, epochs=epochs, progress=False)


def test_fit_rejects_bad_steps_and_sources():
    x, y = regression_problem()
    model = make_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    kw = dict(loss_fn=mse, optimizer=opt, epochs=1, progress=False)
    with pytest.raises(ValueError, match="steps_per_epoch must be a positive integer, got 0"):
        fit(model, [(x, y)], steps_per_epoch=0, **kw)
    with pytest.raises(ValueError, match="number of batches per epoch must be given"):
        fit(model, lambda: (x, y), **kw)
    with pytest.raises(TypeError, match="train_batches must be a callable .* got int"):
        fit(model, 5, **kw)
    with pytest.raises(ValueError, match="train_batches yielded no batches"):
        fit(model, [], **kw)
    with pytest.raises(ValueError, match="clip_grad_norm must be positive"):
        fit(model, [(x, y)], clip_grad_norm=0.0, **kw)


def test_fit_stops_on_non_finite_loss():
    x, y = regression_problem()
    model = make_model()
    opt = torch.optim.SGD(model.parameters(), lr=1e3)  # diverges
    with pytest.raises(FloatingPointError, match="training loss became .* in epoch"):
        fit(model, [(x, y)], loss_fn=mse, optimizer=opt, epochs=50, progress=False)


def test_clip_grad_norm_limits_the_update():
    x, y = regression_problem()
    model = make_model()
    before = model.weight.detach().clone()
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    fit(model, [(x, y * 100)], loss_fn=mse, optimizer=opt, epochs=1,
        clip_grad_norm=0.01, progress=False)
    # One SGD step with lr 1 moves the parameters by at most the clipped norm.
    step = torch.cat([(model.weight - before).flatten()])
    assert step.norm().item() <= 0.01 + 1e-6


# --- the contract: loss_fn(model, batch), schedules, train_step ---------------------------


def test_next_token_loss_takes_the_logits_of_tuple_outputs():
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 5)
    targets = torch.randint(0, 5, (2, 3))

    class Pair(nn.Module):  # returns (logits, something else), as the GPT and the LSTMs do
        def forward(self, x):
            return logits, None

    assert torch.equal(next_token_loss(Pair(), (None, targets)), cross_entropy(logits, targets))


def test_train_step_is_one_optimiser_step():
    x, y = regression_problem()
    model, reference = make_model(), make_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    loss = train_step(model, (x, y), opt, mse, lr=0.1)
    assert opt.param_groups[0]["lr"] == 0.1 and not loss.requires_grad
    expected = mse(reference, (x, y))
    expected.backward()
    with torch.no_grad():
        for p, q in zip(model.parameters(), reference.parameters()):
            assert torch.allclose(p, q - 0.1 * q.grad)
    assert loss.item() == pytest.approx(expected.item())


def test_fit_follows_the_schedule_step_by_step_across_resumption():
    x, y = regression_problem()
    model = make_model()
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    schedule = cosine_schedule(0.1, 0.01, warmup_steps=2, total_steps=8)
    h = fit(model, [(x, y)] * 2, loss_fn=mse, optimizer=opt, epochs=2, lr_schedule=schedule,
            progress=False)
    h = fit(model, [(x, y)] * 2, loss_fn=mse, optimizer=opt, epochs=2, lr_schedule=schedule,
            history=h, progress=False)
    assert h.lr == pytest.approx([schedule(s) for s in range(8)])
    assert len(h.step_loss) == 8 and h.train_loss[0] == pytest.approx(sum(h.step_loss[:2]) / 2)
    with pytest.raises(ValueError, match="learning rate must be positive, got lr=0.0"):
        fit(model, [(x, y)], loss_fn=mse, optimizer=opt, epochs=1, lr_schedule=lambda step: 0.0,
            progress=False)


def test_cosine_schedule_shape():
    lr = cosine_schedule(1.0, 0.1, warmup_steps=10, total_steps=110)
    assert [lr(0), lr(4), lr(9)] == pytest.approx([0.1, 0.5, 1.0])
    assert lr(60) == pytest.approx(0.55) and lr(110) == lr(1000) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="total_steps must be a positive integer"):
        cosine_schedule(1.0, 0.1, 0, 0)


def test_evaluate_and_fit_accept_dict_batches():
    torch.manual_seed(0)
    model = nn.Linear(2, 1)
    batch = {"x": torch.randn(8, 2), "y": torch.randn(8, 1)}

    def dict_loss(model, batch):
        return F.mse_loss(model(batch["x"]), batch["y"])

    before = evaluate(model, [batch], loss_fn=dict_loss)
    fit(model, [batch], loss_fn=dict_loss, optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        epochs=20, progress=False)
    assert evaluate(model, [batch], loss_fn=dict_loss) < before


DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA GPU"))]


@pytest.mark.parametrize("device", DEVICES)
def test_fit_and_evaluate_run_on_the_models_device(device):
    x, y = regression_problem()  # on the CPU: moved to the model's device batch by batch
    model = make_model().to(device)
    seen = []

    def loss(model, batch):
        seen.append(batch[0].device.type)
        return mse(model, batch)

    h = fit(model, [(x, y)], [(x, y)], loss_fn=loss, optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
            epochs=100, bf16=False, progress=False)
    assert set(seen) == {device} and h.val_loss[-1] < 1e-6
    assert evaluate(model, [(x, y)], loss_fn=mse) < 1e-6
    with_bf16 = evaluate(model, [(x, y)], loss_fn=mse, bf16=True)
    assert math.isfinite(with_bf16)
