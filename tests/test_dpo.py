"""Tests of llmbook.dpo: preference pairs, sequence log-probabilities, DPO (checked against trl), rewards."""

from __future__ import annotations

import math

import pytest
import torch

from llmbook import dpo as D
from llmbook import lora as L
from llmbook.sft import IGNORE_INDEX, collate
from tiny_models import smollm2_tokenizer, tiny_llama


@pytest.fixture(scope="module")
def tokenizer():
    return smollm2_tokenizer()


def test_identical_answers_are_rejected():
    with pytest.raises(ValueError, match="identical"):
        D.PreferencePair("p", "same", " same ")
    D.PreferencePair("p", "a", "b")


def test_beta_must_be_positive():
    x = torch.zeros(2)
    for beta in (0.0, -1.0):
        with pytest.raises(ValueError, match="beta"):
            D.dpo_loss(x, x, x, x, beta=beta)


def test_empty_data():
    with pytest.raises(ValueError, match="empty"):
        D.encode_pairs(None, [], max_length=10)
    with pytest.raises(ValueError, match="empty"):
        D.pair_batches([], batch_size=2, pad_id=0)


def test_prompt_longer_than_the_context(tokenizer):
    with pytest.raises(ValueError, match="context"):
        D.encode_pairs(tokenizer, [D.PreferencePair("word " * 50, "a", "b")], max_length=20)


def test_sequence_logprobs_sum_over_the_response_only():
    model = tiny_llama()
    batch = collate([([1, 2, 3, 4], [IGNORE_INDEX, IGNORE_INDEX, 3, 4]),
                     ([5, 6, 7], [IGNORE_INDEX, 6, 7])], pad_id=0)
    logp = D.sequence_logprobs(model, batch)
    with torch.no_grad():
        first = model(input_ids=torch.tensor([[1, 2, 3, 4]])).logits[0].log_softmax(-1)
        second = model(input_ids=torch.tensor([[5, 6, 7]])).logits[0].log_softmax(-1)
    assert torch.allclose(logp[0], first[1, 3] + first[2, 4], atol=1e-5)
    assert torch.allclose(logp[1], second[0, 6] + second[1, 7], atol=1e-5)


def test_dpo_loss_formula_and_rewards():
    pc, pr = torch.tensor([-1.0, -2.0]), torch.tensor([-3.0, -1.0])
    rc, rr = torch.tensor([-2.0, -2.0]), torch.tensor([-2.0, -2.0])
    loss, chosen, rejected = D.dpo_loss(pc, pr, rc, rr, beta=0.5)
    assert torch.allclose(chosen, torch.tensor([0.5, 0.0]))
    assert torch.allclose(rejected, torch.tensor([-0.5, 0.5]))
    expected = (-math.log(1 / (1 + math.exp(-1.0))) - math.log(1 / (1 + math.exp(0.5)))) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    # At the start (policy = reference) the loss is log 2 and every reward 0.
    loss0, c0, r0 = D.dpo_loss(rc, rr, rc, rr, beta=0.1)
    assert loss0.item() == pytest.approx(math.log(2)) and not c0.any() and not r0.any()


def test_dpo_batch_loss_with_lora_reference_and_training_raises_margins():
    model = tiny_llama()
    L.add_lora(model, ["q_proj", "v_proj", "up_proj", "down_proj"], r=2, alpha=4)
    pairs = [(([1, 2, 3], [IGNORE_INDEX, 2, 3]), ([1, 2, 4], [IGNORE_INDEX, 2, 4])),
             (([5, 6, 7], [IGNORE_INDEX, 6, 7]), ([5, 6, 8], [IGNORE_INDEX, 6, 8]))]
    sample = D.pair_batches(pairs, batch_size=2, pad_id=0)
    batch = sample()
    loss, chosen, rejected = D.dpo_batch_loss(model, lambda: L.lora_disabled(model), batch, beta=0.1)
    assert loss.item() == pytest.approx(math.log(2), abs=1e-6)  # B = 0: policy = reference
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=5e-2)
    for _ in range(60):
        loss, chosen, rejected = D.dpo_batch_loss(model, lambda: L.lora_disabled(model),
                                                  sample(), beta=1.0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.6  # from log 2 = 0.693
    assert (chosen > rejected).all()


def test_matches_trl_dpo_loss(tokenizer, tmp_path):
    trl = pytest.importorskip("trl")
    datasets = pytest.importorskip("datasets")
    import copy

    model = tiny_llama(vocab=len(tokenizer), seed=3)
    reference = copy.deepcopy(model)
    with torch.no_grad():  # make the policy differ from the reference
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    data = datasets.Dataset.from_dict({
        "prompt": [[{"role": "user", "content": f"Write this date as YYYY-MM-DD: {d}"}]
                   for d in ("7 March 2021", "Mar 8, 1999", "12.01.2003")],
        "chosen": [[{"role": "assistant", "content": a}]
                   for a in ("2021-03-07", "1999-03-08", "2003-01-12")],
        "rejected": [[{"role": "assistant", "content": a}]
                     for a in ("7 March 2021", "1999-08-03", "12/01/2003")],
    })
    args = trl.DPOConfig(output_dir=str(tmp_path), beta=0.3, report_to=[], use_cpu=True,
                         per_device_train_batch_size=3, dataset_num_proc=None, logging_steps=1)
    trainer = trl.DPOTrainer(model=model, ref_model=reference, args=args, train_dataset=data,
                             processing_class=tokenizer)
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(3)])
    theirs = trainer._compute_loss(trainer.model, batch, return_outputs=False)
    labels = batch["input_ids"].masked_fill(batch["completion_mask"] == 0, IGNORE_INDEX)
    ours_batch = (batch["input_ids"], batch["attention_mask"], labels)
    logp = D.sequence_logprobs(model, ours_batch)
    with torch.no_grad():
        ref = D.sequence_logprobs(reference, ours_batch)
    ours, _, _ = D.dpo_loss(logp[:3], logp[3:], ref[:3], ref[3:], beta=0.3)
    assert abs(ours.item() - theirs.item()) <= 1e-5
    assert abs(ours.item() - math.log(2)) > 1e-3  # a non-trivial value was compared


def test_reward_model_and_bradley_terry():
    lm = tiny_llama()
    reward_model = D.RewardModel(lm.model, hidden_size=16)
    batch = collate([([1, 2, 3], [IGNORE_INDEX, 2, 3]), ([1, 2], [IGNORE_INDEX, 2])], pad_id=0)
    rewards = reward_model(batch[0], batch[1])
    assert rewards.shape == (2,) and not rewards.any()  # zero head: every reward 0
    assert D.bradley_terry_loss(rewards[:1], rewards[1:]).item() == pytest.approx(math.log(2))
    with torch.no_grad():
        reward_model.head.weight.normal_()
        alone = reward_model(torch.tensor([[1, 2]]), torch.tensor([[1, 1]]))
        padded = reward_model(batch[0], batch[1])[1]
    assert torch.allclose(alone[0], padded, atol=1e-5)  # reads the last real token, not the padding


def test_best_of_n_picks_the_highest_reward(tokenizer):
    lm = tiny_llama(vocab=len(tokenizer))
    reward_model = D.RewardModel(lm.model, hidden_size=16)
    best, rewards = D.best_of_n(reward_model, tokenizer, "prompt", ["a", "bb", "ccc"])
    assert best == ["a", "bb", "ccc"][int(rewards.argmax())] and rewards.shape == (3,)
    with pytest.raises(ValueError, match="at least one"):
        D.best_of_n(reward_model, tokenizer, "prompt", [])


def test_sample_answers_checks_its_arguments(tokenizer):
    lm = tiny_llama(vocab=len(tokenizer))
    with pytest.raises(ValueError, match="n must"):
        D.sample_answers(lm, tokenizer, ["p"], n=0)
    with pytest.raises(ValueError, match="temperature"):
        D.sample_answers(lm, tokenizer, ["p"], n=2, temperature=0)
    with pytest.raises(TypeError, match="sequence of strings"):
        D.sample_answers(lm, tokenizer, "p", n=2)
    with pytest.raises(ValueError, match="at least one prompt"):
        D.sample_answers(lm, tokenizer, [], n=2)


def test_sample_answers_batches_prompts_of_different_lengths(tokenizer):
    """Answers come back grouped per prompt, and a prompt's answers do not depend on
    the other (longer) prompts it is batched with: left padding is masked."""
    torch.manual_seed(0)
    lm = tiny_llama(vocab=len(tokenizer))
    side = tokenizer.padding_side
    short, long = "p", "a much longer prompt than the first one"
    answers = D.sample_answers(lm, tokenizer, [short, long], n=3, max_new_tokens=4, temperature=1e-4)
    assert [len(a) for a in answers] == [3, 3]
    assert all(isinstance(a, str) for group in answers for a in group)
    alone = D.sample_answers(lm, tokenizer, [short], n=1, max_new_tokens=4, temperature=1e-4)
    assert answers[0] == alone[0] * 3
    assert tokenizer.padding_side == side  # the tokenizer is left as it was


def test_token_kl_is_zero_for_the_reference_and_positive_after_a_change():
    model = tiny_llama()
    L.add_lora(model, ["q_proj", "down_proj"], r=2)
    batch = collate([([1, 2, 3, 4], [IGNORE_INDEX, IGNORE_INDEX, 3, 4])], pad_id=0)
    assert D.token_kl(model, lambda: L.lora_disabled(model), batch).abs().max() < 1e-6
    with torch.no_grad():
        for layer in L.lora_layers(model).values():
            layer.lora_B.normal_()
    kl = D.token_kl(model, lambda: L.lora_disabled(model), batch)
    with torch.no_grad():
        p = model(input_ids=batch[0]).logits[0].log_softmax(-1)
        with L.lora_disabled(model):
            q = model(input_ids=batch[0]).logits[0].log_softmax(-1)
    expected = sum((p[t].exp() * (p[t] - q[t])).sum() for t in (1, 2))
    assert kl.shape == (1,) and kl[0] > 0 and torch.allclose(kl[0], expected, atol=1e-5)


# Two right-padded rows of different lengths, prompt positions labelled IGNORE_INDEX.
TWO_ROWS = [([1, 2, 3, 4, 5], [IGNORE_INDEX, IGNORE_INDEX, 3, 4, 5]), ([6, 7, 8], [IGNORE_INDEX, 7, 8])]


def _moved_lora_model():
    """A tiny Llama with LoRA adapters whose B is random: it differs from its reference (adapters off)."""
    model = tiny_llama()
    L.add_lora(model, ["q_proj", "down_proj"], r=2)
    with torch.no_grad():
        for layer in L.lora_layers(model).values():
            layer.lora_B.normal_()
    return model


def test_token_kl_sums_each_rows_own_positions():
    """Rows of different lengths (right-padded): each row's KL is its own answer's, as if computed alone."""
    model = _moved_lora_model()
    rows = TWO_ROWS
    together = D.token_kl(model, lambda: L.lora_disabled(model), collate(rows, pad_id=0))
    alone = torch.cat([D.token_kl(model, lambda: L.lora_disabled(model), collate([r], pad_id=0)) for r in rows])
    assert together.shape == (2,) and (together > 0).all()
    assert torch.allclose(together, alone, atol=1e-5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_dpo_measures_on_cuda_equal_those_on_the_cpu():
    """The batch follows the model to the GPU; the numbers are the CPU's (to float tolerance)."""
    model = _moved_lora_model()
    rows = TWO_ROWS
    batch = collate(rows, pad_id=0)  # one pair: the chosen row, then the rejected one
    reference = lambda: L.lora_disabled(model)  # noqa: E731
    rewards = D.RewardModel(model.model, model.config.hidden_size)
    with torch.no_grad():
        rewards.head.weight.normal_()

    def measures() -> list[torch.Tensor]:
        with torch.no_grad():
            return [D.token_kl(model, reference, batch), D.sequence_logprobs(model, batch),
                    D.dpo_batch_loss(model, reference, batch, beta=0.1)[0],
                    D.reward_batch_loss(rewards, batch)]

    on_cpu = measures()
    model.cuda()
    rewards.cuda()
    on_gpu = measures()
    for cpu, gpu in zip(on_cpu, on_gpu):
        assert gpu.device.type == "cuda"
        assert torch.allclose(gpu.cpu(), cpu, atol=1e-4)
