"""Tests of llmbook.models.bert_mlm: the masking recipe, blocks, fill-mask, evaluation."""

from __future__ import annotations

import pytest
import torch

from llmbook.models import bert_mlm as M

TEXTS = [
    "The Fox and the Grapes. A hungry Fox saw some fine bunches of Grapes.",
    "The Crow and the Pitcher. A Crow, half dead with thirst, came upon a Pitcher.",
    "The Wolf and the Lamb. A Wolf came upon a Lamb straying from the flock.",
] * 4


@pytest.fixture(scope="module")
def tokenizer():
    return M.train_wordpiece(TEXTS, vocab_size=120, min_frequency=1)


def tiny_model(tokenizer, block_size=32, seed=0):
    from transformers import BertForMaskedLM

    torch.manual_seed(seed)
    config = M.mini_bert_config(len(tokenizer), hidden=16, layers=1, heads=2,
                                block_size=block_size)
    return BertForMaskedLM(config).eval()


def favour(model, tokenizer, words, strength=50.0):
    """Make the model put (almost) all probability on ``words``, in this order."""
    with torch.no_grad():
        bias = model.cls.predictions.decoder.bias
        bias.zero_()
        for rank, word in enumerate(words):
            bias[tokenizer.convert_tokens_to_ids(word)] = strength - rank
    return model


# --- Splitting the corpus. ----------------------------------------------------------

RAW = ("THE FOX\n\n\nA fox.\n\n\n\n\nTHE CROW\n\n\nA crow.\nIt drank.\n\n\n\n\n"
       "THE WOLF\n\n\nA wolf.\n\n\n\n\nTHE LAMB\n\n\nA lamb.\n")


def test_split_fables_is_a_partition():
    train, test = M.split_fables(RAW, held_out=0.25, seed=1)
    assert len(train) == 3 and len(test) == 1
    assert sorted(train + test) == ["THE CROW A crow. It drank.", "THE FOX A fox.",
                                    "THE LAMB A lamb.", "THE WOLF A wolf."]
    assert M.split_fables(RAW, held_out=0.25, seed=1) == (train, test)  # reproducible


def test_split_fables_bad_input():
    with pytest.raises(ValueError, match="held_out must be between 0 and 1, got 1.5"):
        M.split_fables(RAW, held_out=1.5)
    with pytest.raises(ValueError, match="need at least two fables to split, found 1"):
        M.split_fables("ONE FABLE\n\nonly.")


# --- The tokenizer. ----------------------------------------------------------------

def test_wordpiece_tokenizer(tokenizer):
    assert tokenizer.convert_ids_to_tokens([0, 1, 2, 3, 4]) == list(M.SPECIAL_TOKENS)
    assert tokenizer.mask_token_id == 4 and tokenizer.pad_token_id == 0
    enc = tokenizer("The FOX and the [MASK]")
    assert tokenizer.convert_ids_to_tokens(enc["input_ids"]) == [
        "[CLS]", "the", "fox", "and", "the", "[MASK]", "[SEP]"]
    pair = tokenizer("a fox", "a crow")
    assert pair["token_type_ids"] == [0, 0, 0, 0, 1, 1, 1]
    # A word never seen is spelled with pieces; word-internal ones start with ##.
    pieces = tokenizer.tokenize("foxes")
    assert pieces[0] == "fox" and all(p.startswith("##") for p in pieces[1:])
    assert tokenizer.decode(tokenizer("the fox")["input_ids"], skip_special_tokens=True) == "the fox"


def test_wordpiece_bad_input():
    with pytest.raises(ValueError, match="cannot train a tokenizer on no text"):
        M.train_wordpiece(["  ", ""])
    with pytest.raises(ValueError, match="vocab_size must exceed the 5 special tokens, got 5"):
        M.train_wordpiece(TEXTS, vocab_size=5)


# --- Blocks. -----------------------------------------------------------------------

def test_make_blocks(tokenizer):
    blocks = M.make_blocks(TEXTS, tokenizer, block_size=10)
    stream = []
    for text in TEXTS:
        stream += tokenizer(text, add_special_tokens=False)["input_ids"] + [tokenizer.sep_token_id]
    assert blocks.shape == (len(stream) // 8, 10)
    assert (blocks[:, 0] == tokenizer.cls_token_id).all()
    assert (blocks[:, -1] == tokenizer.sep_token_id).all()
    assert blocks[:, 1:-1].flatten().tolist() == stream[: blocks.shape[0] * 8]


def test_make_blocks_bad_input(tokenizer):
    with pytest.raises(ValueError, match="block_size must be at least 3, got 2"):
        M.make_blocks(TEXTS, tokenizer, block_size=2)
    with pytest.raises(ValueError, match="too few for one block of 64"):
        M.make_blocks(["a fox"], tokenizer, block_size=64)


# --- The masking recipe. -------------------------------------------------------------

IDS = torch.tensor([[2, 10, 11, 12, 13, 3, 0, 0]])  # [CLS] four words [SEP] [PAD] [PAD]
SPECIAL = (0, 1, 2, 3, 4)


def test_mask_everything_with_mask_token():
    inputs, labels = M.mask_tokens(IDS, mask_token_id=4, vocab_size=20, special_ids=SPECIAL,
                                   mask_prob=1.0, replace_probs=(1, 0, 0))
    assert inputs.tolist() == [[2, 4, 4, 4, 4, 3, 0, 0]]
    assert labels.tolist() == [[-100, 10, 11, 12, 13, -100, -100, -100]]
    assert IDS.tolist() == [[2, 10, 11, 12, 13, 3, 0, 0]]  # the input is not modified


def test_mask_unchanged_still_predicts():
    inputs, labels = M.mask_tokens(IDS, mask_token_id=4, vocab_size=20, special_ids=SPECIAL,
                                   mask_prob=1.0, replace_probs=(0, 0, 1))
    assert torch.equal(inputs, IDS)
    assert labels.tolist() == [[-100, 10, 11, 12, 13, -100, -100, -100]]


def test_mask_random_replacements_are_ordinary_tokens():
    ids = torch.full((50, 40), 7)
    ids[:, 0] = 2
    inputs, labels = M.mask_tokens(ids, mask_token_id=4, vocab_size=9, special_ids=SPECIAL,
                                   mask_prob=1.0, replace_probs=(0, 1, 0),
                                   generator=torch.Generator().manual_seed(0))
    assert (inputs[:, 0] == 2).all()
    assert set(inputs[:, 1:].unique().tolist()) == {5, 6, 7, 8}  # never a special token
    assert (labels[:, 1:] == 7).all()


def test_mask_nothing():
    inputs, labels = M.mask_tokens(IDS, mask_token_id=4, vocab_size=20, special_ids=SPECIAL,
                                   mask_prob=0.0)
    assert torch.equal(inputs, IDS) and (labels == -100).all()


def test_mask_proportions_follow_the_recipe():
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(5, 1000, (400, 500))
    inputs, labels = M.mask_tokens(ids, mask_token_id=4, vocab_size=1000, special_ids=SPECIAL,
                                   generator=gen)
    chosen = labels != -100
    assert abs(chosen.float().mean().item() - 0.15) < 0.005
    n = chosen.sum().item()
    as_mask = (inputs[chosen] == 4).sum().item() / n
    unchanged = (inputs[chosen] == ids[chosen]).sum().item() / n
    assert abs(as_mask - 0.8) < 0.01
    assert abs(unchanged - 0.1) < 0.01  # (plus the rare random draw of the same token)
    assert abs(1 - as_mask - unchanged - 0.1) < 0.01
    assert torch.equal(inputs[~chosen], ids[~chosen])


def test_mask_is_reproducible():
    kw = dict(mask_token_id=4, vocab_size=20, special_ids=SPECIAL)
    ids = torch.randint(5, 20, (8, 30), generator=torch.Generator().manual_seed(3))
    a = M.mask_tokens(ids, generator=torch.Generator().manual_seed(1), **kw)
    b = M.mask_tokens(ids, generator=torch.Generator().manual_seed(1), **kw)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_mask_bad_input():
    kw = dict(mask_token_id=4, vocab_size=20, special_ids=SPECIAL)
    with pytest.raises(ValueError, match="mask_prob must be between 0 and 1, got 1.5"):
        M.mask_tokens(IDS, mask_prob=1.5, **kw)
    with pytest.raises(ValueError, match="replace_probs must be three probabilities"):
        M.mask_tokens(IDS, replace_probs=(0.8, 0.1, 0.2), **kw)
    with pytest.raises(TypeError, match="input_ids must be an integer tensor"):
        M.mask_tokens(IDS.float(), **kw)


# --- The model, fill-mask and evaluation. ---------------------------------------------

def test_mini_bert_config():
    config = M.mini_bert_config(3000, hidden=128, layers=4, heads=4, block_size=64)
    assert (config.hidden_size, config.num_hidden_layers, config.num_attention_heads,
            config.intermediate_size, config.max_position_embeddings) == (128, 4, 4, 512, 64)
    with pytest.raises(ValueError, match=r"hidden \(100\) must be divisible by heads \(3\)"):
        M.mini_bert_config(3000, hidden=100, heads=3)


def test_masked_logits_equal_the_full_logits(tokenizer):
    model = tiny_model(tokenizer)
    ids = M.make_blocks(TEXTS, tokenizer, block_size=12)[:3]
    where = torch.zeros_like(ids, dtype=torch.bool)
    where[:, [2, 5]] = True
    with torch.no_grad():
        assert torch.allclose(M.masked_logits(model, ids, where), model(ids).logits[where],
                              atol=1e-5)


def test_mlm_batch(tokenizer):
    blocks = M.make_blocks(TEXTS, tokenizer, block_size=12)
    inputs, where, targets = M.mlm_batch(blocks, tokenizer, torch.Generator().manual_seed(0))
    assert inputs.shape == where.shape == blocks.shape
    assert torch.equal(targets, blocks[where])
    assert torch.equal(inputs[~where], blocks[~where])
    assert not where[:, 0].any() and not where[:, -1].any()  # [CLS] and [SEP] are never chosen


def test_mlm_loss_is_cross_entropy_at_masked_positions(tokenizer):
    model = tiny_model(tokenizer)
    blocks = M.make_blocks(TEXTS, tokenizer, block_size=12)
    inputs, where, targets = M.mlm_batch(blocks, tokenizer, torch.Generator().manual_seed(0))
    expected = torch.nn.functional.cross_entropy(model(inputs).logits[where], targets)
    assert torch.allclose(M.mlm_loss(model, (inputs, where, targets)), expected, atol=1e-6)


def test_pretrain_schedule_warms_up_then_decays(tokenizer):
    model = tiny_model(tokenizer)
    blocks = M.make_blocks(TEXTS, tokenizer, block_size=12)
    history = M.pretrain(model, blocks, blocks[:8], tokenizer, epochs=4, steps_per_epoch=2,
                         batch_size=4, lr=1e-3, progress=False)
    # a tenth in epoch 0, the full rate in epoch 1, then linearly down to a tenth
    assert history.lr == pytest.approx([1e-4, 1e-4, 1e-3, 1e-3, 5.5e-4, 5.5e-4, 1e-4, 1e-4])


def test_pretrain_lowers_the_loss(tokenizer):
    model = tiny_model(tokenizer)
    blocks = M.make_blocks(TEXTS, tokenizer, block_size=12)
    history = M.pretrain(model, blocks, blocks[:8], tokenizer, epochs=6, steps_per_epoch=10,
                         batch_size=16, lr=3e-3, progress=False)
    assert history.epochs == 6 and len(history.val_loss) == 6 and not model.training
    assert history.val_loss[-1] < history.val_loss[0] - 0.5
    with pytest.raises(ValueError, match="batch_size must be positive"):
        M.pretrain(model, blocks, blocks, tokenizer, epochs=1, steps_per_epoch=1, batch_size=0)


def test_fill_mask_returns_the_favoured_words(tokenizer):
    model = favour(tiny_model(tokenizer), tokenizer, ["grapes", "lamb", "crow"])
    out = M.fill_mask(model, tokenizer, "the fox and the [MASK] . the [MASK] said", top_k=3)
    assert len(out) == 2  # one list per [MASK]
    for guesses in out:
        assert [w for w, _ in guesses] == ["grapes", "lamb", "crow"]
        probs = [p for _, p in guesses]
        assert probs == sorted(probs, reverse=True) and 0.5 < probs[0] <= 1
    # The same as the transformers pipeline.
    from transformers import pipeline

    fill = pipeline("fill-mask", model=model, tokenizer=tokenizer, top_k=3)
    ours = M.fill_mask(model, tokenizer, "the fox and the [MASK] .", top_k=3)[0]
    theirs = fill("the fox and the [MASK] .")
    assert [w for w, _ in ours] == [r["token_str"] for r in theirs]
    assert [p for _, p in ours] == pytest.approx([r["score"] for r in theirs], rel=1e-4)


def test_fill_mask_bad_input(tokenizer):
    model = tiny_model(tokenizer, block_size=16)
    with pytest.raises(M.NoMaskTokenError, match=r"no \[MASK\] token in 'the fox and the grapes'"):
        M.fill_mask(model, tokenizer, "the fox and the grapes")
    long_text = "the fox " * 20 + "[MASK]"
    with pytest.raises(M.InputTooLongError,
                       match=r"has 43 tokens but the model has only 16 positions.*truncation=True"):
        M.fill_mask(model, tokenizer, long_text)
    with pytest.raises(ValueError, match="top_k must be a positive integer, got 0"):
        M.fill_mask(model, tokenizer, "the [MASK]", top_k=0)
    assert issubclass(M.NoMaskTokenError, ValueError)


def test_fill_in_accuracy_counts_exactly(tokenizer):
    blocks = M.make_blocks(TEXTS, tokenizer, block_size=12)
    train, test = blocks[:8], blocks[8:]
    vocab = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    # By hand: whole-word positions of the test blocks, and the 2 commonest words in train.
    words = [(r, c) for r in range(len(test)) for c in range(12)
             if vocab[test[r, c]].isalpha() and not vocab[test[r, c]].startswith("##")
             and not (c < 11 and vocab[test[r, c + 1]].startswith("##"))]
    from collections import Counter

    counts = Counter(vocab[t] for t in train.flatten().tolist()
                     if vocab[t].isalpha() and not vocab[t].startswith("##"))
    top2 = [w for w, _ in counts.most_common(2)]
    expected = sum(vocab[test[r, c]] in top2 for r, c in words) / len(words)

    model = favour(tiny_model(tokenizer), tokenizer, top2)  # a model that guesses like the baseline
    result = M.fill_in_accuracy(model, tokenizer, test, train, k=2)
    assert result.positions == len(words)
    assert list(result.unigram_words) == top2
    assert result.unigram == pytest.approx(expected)
    assert result.model == pytest.approx(expected)
    lamb = favour(tiny_model(tokenizer), tokenizer, ["lamb", "pitcher"])
    expected_lamb = sum(vocab[test[r, c]] in ("lamb", "pitcher") for r, c in words) / len(words)
    assert M.fill_in_accuracy(lamb, tokenizer, test, train, k=2).model == pytest.approx(expected_lamb)
    assert M.fill_in_accuracy(model, tokenizer, test, train, k=2, max_positions=5).positions == 5


def test_fill_in_accuracy_needs_words(tokenizer):
    model = tiny_model(tokenizer)
    only_punct = torch.full((2, 12), tokenizer.convert_tokens_to_ids("."))
    with pytest.raises(ValueError, match="contain no whole words"):
        M.fill_in_accuracy(model, tokenizer, only_punct, only_punct)


# --- Sentences and the fine-tuning wrapper. ---------------------------------

def test_split_sentences():
    text = 'THE FOX A fox ran away. "Stop!" cried the crow loudly. Why? It is late now!'
    assert M.split_sentences(text, min_words=1) == [
        "THE FOX A fox ran away.", '"Stop!" cried the crow loudly.', "Why?", "It is late now!"]
    assert M.split_sentences(text) == ["THE FOX A fox ran away.", '"Stop!" cried the crow loudly.',
                                       "It is late now!"]
    assert M.split_sentences("   ") == []


def test_classifier_loss(tokenizer):
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    model = BertForSequenceClassification(BertConfig(
        vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32, num_labels=2)).eval()
    enc = dict(tokenizer(["the fox", "a crow and the pitcher"], padding=True, return_tensors="pt"))
    labels = torch.tensor([0, 1])
    expected = torch.nn.functional.cross_entropy(model(**enc).logits, labels)
    assert torch.equal(M.classifier_loss(model, (enc, labels)), expected)
