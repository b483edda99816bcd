"""Tests of llmbook.sft: chat rendering, response-only labels, batches, loss and metrics."""

from __future__ import annotations

import pytest
import torch

from llmbook import sft as S
from llmbook.lora import lora_state_dict
from tiny_models import smollm2_tokenizer, tiny_llama


@pytest.fixture(scope="module")
def tokenizer():
    return smollm2_tokenizer()


def test_date_examples_are_deterministic_and_split():
    train = S.date_examples(200, seed=0, split="train")
    test = S.date_examples(50, seed=1, split="test")
    assert train == S.date_examples(200, seed=0, split="train")
    assert all(e.prompt.startswith("Write this date as YYYY-MM-DD: ") for e in train)
    assert {e.response for e in train}.isdisjoint({e.response for e in test})
    assert all(len(e.response) == 10 and e.response[4] == "-" for e in test)


def test_labels_cover_only_the_response(tokenizer):
    example = S.Example("Write this date as YYYY-MM-DD: 7 March 2021",
                        "2021-03-07")
    ids, labels = S.encode_example(tokenizer, example, max_length=128)
    assert len(ids) == len(labels)
    n_prompt = sum(label == S.IGNORE_INDEX for label in labels)
    assert labels[:n_prompt] == [S.IGNORE_INDEX] * n_prompt
    assert labels[n_prompt:] == ids[n_prompt:]
    assert tokenizer.decode(ids[n_prompt:]) == "2021-03-07<|im_end|>"
    # The ids are exactly the chat template of the whole conversation.
    full = tokenizer.apply_chat_template(S.chat_messages(example.prompt, example.response),
                                         tokenize=False)
    assert tokenizer.decode(ids) + "\n" == full


def test_few_shot_turns_come_first(tokenizer):
    shots = S.date_examples(2, seed=5)
    text = S.render_prompt(tokenizer, "Q?", shots)
    assert text.count("<|im_start|>assistant") == 3 and text.endswith("<|im_start|>assistant\n")
    assert text.index(shots[1].response) < text.index("Q?")


def test_prompt_longer_than_the_context(tokenizer):
    with pytest.raises(ValueError, match="context of 10 tokens"):
        S.encode_example(tokenizer, S.Example("a long prompt " * 5, "x"), max_length=10)


def test_empty_response_and_empty_data(tokenizer):
    with pytest.raises(ValueError, match="response is empty"):
        S.encode_example(tokenizer, S.Example("prompt", "  "), max_length=64)
    with pytest.raises(ValueError, match="empty"):
        S.collate([], pad_id=0)
    with pytest.raises(ValueError, match="empty"):
        S.batch_sampler([], batch_size=2, pad_id=0)


def test_collate_pads_right_with_ignored_labels():
    ids, attention, labels = S.collate([([5, 6, 7], [-100, 6, 7]), ([8, 9], [-100, 9])], pad_id=0)
    assert ids.tolist() == [[5, 6, 7], [8, 9, 0]]
    assert attention.tolist() == [[1, 1, 1], [1, 1, 0]]
    assert labels.tolist() == [[-100, 6, 7], [-100, 9, -100]]


def test_batch_sampler_sees_every_example_once_per_pass():
    data = [([i, i], [-100, i]) for i in range(6)]
    sample = S.batch_sampler(data, batch_size=3, pad_id=0, seed=0)
    seen = sorted(sample()[0][:, 0].tolist() + sample()[0][:, 0].tolist())
    assert seen == list(range(6))
    with pytest.raises(ValueError, match="batch_size"):
        S.batch_sampler(data, batch_size=0, pad_id=0)


def test_sft_loss_counts_only_labelled_positions():
    model = tiny_llama(20)
    batch = S.collate([([1, 2, 3, 4, 5], [-100, -100, -100, 4, 5])], pad_id=0)
    logits = model(input_ids=batch[0]).logits
    logp = torch.log_softmax(logits[0, :-1], -1)
    expected_response = -(logp[2, 4] + logp[3, 5]) / 2
    expected_all = -logp[torch.arange(4), torch.tensor([2, 3, 4, 5])].mean()
    assert torch.allclose(S.sft_loss(model, batch), expected_response, atol=1e-5)
    assert torch.allclose(S.sft_loss(model, batch, response_only=False), expected_all, atol=1e-5)


def test_sft_loss_ignores_padding():
    model = tiny_llama(20)
    alone = S.sft_loss(model, S.collate([([1, 2, 3], [-100, 2, 3])], pad_id=0))
    padded = S.sft_loss(model, S.collate([([1, 2, 3], [-100, 2, 3]), ([1, 2, 3], [-100, 2, 3])],
                                         pad_id=0))
    assert torch.allclose(alone, padded, atol=1e-6)


def test_train_steps_lowers_the_loss():
    model = tiny_llama(20)
    data = [([1, 2, 3, 4], [-100, -100, 3, 4])] * 4
    sample = S.batch_sampler(data, batch_size=2, pad_id=0)
    losses = S.train_steps(model, S.sft_loss, sample, steps=30, lr=1e-2, progress=False)
    assert len(losses) == 30 and losses[-1] < losses[0] / 2
    frozen = tiny_llama(20).requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable"):
        S.train_steps(frozen, S.sft_loss, sample, steps=1, lr=1e-2, progress=False)


def test_exact_match():
    assert S.exact_match(["2021-03-07", " 1999-01-01"], ["2021-03-07", "1999-01-02"]) == 0.5
    with pytest.raises(ValueError):
        S.exact_match([], [])
    with pytest.raises(ValueError):
        S.exact_match(["a"], ["a", "b"])


def test_held_out_perplexity_of_a_uniform_model():
    model = tiny_llama(20)
    with torch.no_grad():
        model.lm_head.weight.zero_()
    assert S.held_out_perplexity(model, torch.randint(0, 20, (3, 6))) == pytest.approx(20, rel=1e-4)


def test_date_lora_recipe_checks_and_keys(tmp_path, monkeypatch):
    monkeypatch.setenv("LLMBOOK_CACHE_DIR", str(tmp_path))
    recipe = S.DateLoRARecipe(n_train=8, steps=2)
    assert recipe.cache_path() == S.DateLoRARecipe(n_train=8, steps=2).cache_path()
    assert recipe.cache_path() != S.DateLoRARecipe(n_train=8, steps=3).cache_path()
    assert recipe.cache_path().parent == tmp_path / "adapters"
    for bad in ({"steps": 0}, {"rank": -1}, {"lr": 0.0}, {"targets": ()}):
        with pytest.raises(ValueError):
            S.DateLoRARecipe(**bad)


def test_tuned_adapters_are_saved_and_loaded_or_trained_again(tmp_path, monkeypatch, tokenizer):
    monkeypatch.setenv("LLMBOOK_CACHE_DIR", str(tmp_path))
    recipe = S.DateLoRARecipe(n_train=8, steps=2, batch_size=2, lr=1e-2, rank=2,
                              targets=("q_proj", "v_proj"), max_length=64)

    def base():
        return tokenizer, tiny_llama(len(tokenizer), seed=1)

    trained = base()[1]
    losses = S.train_date_lora(trained, tokenizer, recipe, progress=False)
    assert len(losses) == 2 and recipe.cache_path().is_file()
    probe = torch.tensor([[1, 2, 3, 4, 5]])
    with torch.no_grad():
        expected = trained(input_ids=probe).logits
        assert not torch.allclose(base()[1](input_ids=probe).logits, expected)
    trainings = []
    train = S.train_date_lora
    monkeypatch.setattr(S, "train_date_lora", lambda *a, **k: trainings.append(1) or train(*a, **k))
    # Saved adapters are loaded onto the base model: nothing is trained.
    _, loaded = S.load_date_lora(recipe, base=base, on="cpu", progress=False)
    assert trainings == []
    with torch.no_grad():
        assert torch.allclose(loaded(input_ids=probe).logits, expected, atol=1e-6)
    # A damaged file is not trusted: the adapters are trained again (the same) and saved whole.
    recipe.cache_path().write_bytes(b"not a tensor file")
    _, again = S.load_date_lora(recipe, base=base, on="cpu", progress=False)
    assert trainings == [1]
    with torch.no_grad():
        assert torch.allclose(again(input_ids=probe).logits, expected, atol=1e-5)
    assert set(torch.load(recipe.cache_path(), weights_only=True)) == set(lora_state_dict(again))


DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA GPU"))]


@pytest.mark.parametrize("device", DEVICES)
def test_training_and_evaluation_on_the_models_device(device, tokenizer):
    """Batches are made on the CPU and moved to the model: every helper runs where the model is."""
    model = tiny_llama(len(tokenizer)).to(device)
    encoded = [S.encode_example(tokenizer, e, 64) for e in S.date_examples(4, seed=0)]
    batch = S.batch_sampler(encoded, 2, tokenizer.pad_token_id)()
    assert torch.isfinite(S.sft_loss(model, batch))
    answers = S.generate_answers(model, tokenizer, ["Write this date as YYYY-MM-DD: 7 May 2001"],
                                 max_new_tokens=3)
    assert len(answers) == 1 and isinstance(answers[0], str)
    blocks = torch.randint(0, len(tokenizer), (2, 8))
    assert S.held_out_perplexity(model, blocks) > 1
