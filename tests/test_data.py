"""Tests of llmbook.data. They never touch the internet: real corpora are read
from the shared directory, and downloads are served by a local HTTP server."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from llmbook import data
from llmbook.data import (
    ChecksumMismatchError, Corpus, CorpusError, CorpusFile, CorpusNotFoundError,
    DownloadError, SizeMismatchError, UnknownCorpusError, VerificationError,
)


def _shared_corpora() -> Path | None:
    candidates = [Path(__file__).resolve().parents[2] / "shared" / "corpora"]
    if os.environ.get("LLMBOOK_DATA_DIR"):  # read before the fixtures clear it
        candidates.append(Path(os.environ["LLMBOOK_DATA_DIR"]))
    return next((c for c in candidates if (c / "aesop").is_dir()), None)


SHARED = _shared_corpora()
needs_shared = pytest.mark.skipif(
    SHARED is None, reason="corpora not found in ../shared/corpora or $LLMBOOK_DATA_DIR")


def files_in(directory: Path) -> list[str]:
    """Every file under ``directory`` (including hidden temp files), relative."""
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file())


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache in tmp_path, no data dir, and no proxy for localhost."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("LLMBOOK_CACHE_DIR", str(cache))
    monkeypatch.delenv("LLMBOOK_DATA_DIR", raising=False)
    for var in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    return cache


# --- The real corpora -------------------------------------------------------------

@needs_shared
def test_registry_matches_manifest() -> None:
    manifest_path = SHARED / "MANIFEST.json"
    if not manifest_path.is_file():
        pytest.skip("no MANIFEST.json next to the corpora")
    manifest = json.loads(manifest_path.read_text())
    assert data.list_corpora() == sorted(manifest)
    for name, entry in manifest.items():
        corpus = data.CORPORA[name]
        assert corpus.name == name and corpus.encoding == entry["encoding"]
        assert [(f.path, f.url, f.size, f.sha256) for f in corpus.files] == [
            (p["file"], p["url"], p["bytes"], p["sha256"]) for p in entry["parts"]]


# Characters after decoding, CRLF -> LF and joining. The shared README counts
# characters *before* newline normalisation (aesop 202,435, akutagawa 55,447);
# test_readme_counts_are_before_normalisation checks those numbers too.
EXPECTED_CHARS = {"aesop": 197_442, "tinyshakespeare": 1_115_394,
                  "sherlock": 562_205, "akutagawa": 54_737}
README_CHARS = {"aesop": 202_435, "tinyshakespeare": 1_115_394,
                "sherlock": 562_205, "akutagawa": 55_447}


@needs_shared
@pytest.mark.parametrize("name", sorted(EXPECTED_CHARS))
def test_load_real_corpus(name: str, isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMBOOK_DATA_DIR", str(SHARED))
    monkeypatch.setattr(data, "download", _no_download)
    text = data.load_corpus(name)
    assert len(text) == EXPECTED_CHARS[name]
    assert "\r" not in text
    assert all(p.is_relative_to(SHARED) for p in data.corpus_files(name))
    assert not isolated.exists()  # nothing was written to the cache


@needs_shared
def test_readme_counts_are_before_normalisation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMBOOK_DATA_DIR", str(SHARED))
    for name, expected in README_CHARS.items():
        encoding = data.CORPORA[name].encoding
        raw = sum(len(p.read_bytes().decode(encoding)) for p in data.corpus_files(name))
        assert raw == expected, name


def test_aesop_names_its_edition() -> None:
    """The corpus is V. S. Vernon Jones's translation: Gutenberg eBook #11339, not #28
    (Joseph Jacobs's edition, which the course links)."""
    description = data.CORPORA["aesop"].description
    assert "V. S. Vernon Jones" in description and "eBook #11339" in description
    assert "#28" not in description


@needs_shared
def test_real_corpus_contents(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMBOOK_DATA_DIR", str(SHARED))
    aesop = data.load_corpus("aesop")
    assert aesop.lstrip().startswith("THE FOX AND THE GRAPES\n")  # titles are upper case
    assert "Æsop" in aesop and "Piræus" in aesop                 # cp1252, not latin-1 guesswork
    assert len(set(data.load_corpus("tinyshakespeare"))) == 65
    akutagawa = data.load_corpus("akutagawa")
    assert akutagawa.startswith("羅生門\n芥川龍之介")
    assert "\n\n蜘蛛の糸\n芥川龍之介" in akutagawa                 # the join: one blank line


def _no_download(file: CorpusFile, dest: Path, *, timeout: float = 30.0) -> Path:
    raise AssertionError(f"tried to download {file.url}")


# --- Registry and directories -----------------------------------------------------

def test_unknown_corpus_lists_known_names() -> None:
    with pytest.raises(UnknownCorpusError) as info:
        data.load_corpus("shakespear")
    assert isinstance(info.value, ValueError) and isinstance(info.value, CorpusError)
    message = str(info.value)
    assert "'shakespear'" in message
    assert all(name in message for name in ["aesop", "tinyshakespeare", "sherlock", "akutagawa"])
    with pytest.raises(UnknownCorpusError):
        data.corpus_files("")


def test_data_dirs_order(tmp_path: Path, isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert data.data_dirs() == [isolated]
    monkeypatch.setenv("LLMBOOK_DATA_DIR", str(tmp_path / "mine"))
    assert data.data_dirs() == [tmp_path / "mine", isolated]
    monkeypatch.delenv("LLMBOOK_CACHE_DIR")
    default = data.data_dirs()[1]
    assert default.name == "corpora" and "llmbook" in str(default)


# --- A fake corpus served by a local HTTP server ------------------------------------

@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    content_length: int | None = None  # None: the true length of body
    delay: float = 0.0
    trickle: float = 0.0  # > 0: send the body one byte at a time, this many seconds apart


@dataclass
class Server:
    port: int = 0
    replies: dict[str, Reply] = field(default_factory=dict)
    hits: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def server() -> Iterator[Server]:
    state = Server()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            state.hits.append(self.path)
            reply = state.replies.get(self.path, Reply(status=404, body=b"not found"))
            time.sleep(reply.delay)
            self.send_response(reply.status)
            length = len(reply.body) if reply.content_length is None else reply.content_length
            self.send_header("Content-Length", str(length))
            self.end_headers()
            try:
                if reply.trickle:  # at most len(body) writes: the handler always ends
                    for i in range(len(reply.body)):
                        self.wfile.write(reply.body[i:i + 1])
                        self.wfile.flush()
                        time.sleep(reply.trickle)
                else:
                    self.wfile.write(reply.body)
            except OSError:
                pass  # the client gave up (timeout tests)

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def register(monkeypatch: pytest.MonkeyPatch, encoding: str = "utf-8",
             **files: tuple[bytes, str]) -> dict[str, CorpusFile]:
    """Replace CORPORA by one corpus "fake" whose files are {stem: (bytes, url)}."""
    entries = {stem: CorpusFile(f"fake/{stem}.txt", url, len(content),
                                hashlib.sha256(content).hexdigest())
               for stem, (content, url) in files.items()}
    corpus = Corpus("fake", "a test corpus", encoding, tuple(entries.values()))
    monkeypatch.setattr(data, "CORPORA", {"fake": corpus})
    return entries


GOOD = b"The Fox and the Grapes\r\nA hungry Fox saw some fine bunches of Grapes.\r\n"


def test_download_good_file(server: Server, isolated: Path,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    server.replies["/a.txt"] = Reply(body=GOOD)
    register(monkeypatch, a=(GOOD, server.url("/a.txt")))
    assert data.load_corpus("fake") == GOOD.decode().replace("\r\n", "\n")
    assert files_in(isolated) == ["fake/a.txt"]
    assert (isolated / "fake" / "a.txt").read_bytes() == GOOD
    assert data.corpus_files("fake") == [isolated / "fake" / "a.txt"]
    assert server.hits == ["/a.txt"]  # the second call used the cache


def test_wrong_bytes_right_length(server: Server, isolated: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    bad = GOOD.replace(b"Fox", b"Cat")
    server.replies["/a.txt"] = Reply(body=bad)
    (file,) = register(monkeypatch, a=(GOOD, server.url("/a.txt"))).values()
    with pytest.raises(ChecksumMismatchError) as info:
        data.load_corpus("fake")
    message = str(info.value)
    assert file.url in message and file.sha256 in message
    assert hashlib.sha256(bad).hexdigest() in message
    assert str(isolated / "fake" / "a.txt") in message and "LLMBOOK_DATA_DIR" in message
    assert files_in(isolated) == []


@pytest.mark.parametrize("reply", [
    Reply(body=GOOD[:10], content_length=len(GOOD)),  # connection closed early
    Reply(body=GOOD[:10]),                            # a short (but complete) body
    Reply(body=GOOD + b"extra"),                      # too long
], ids=["closed-early", "short-body", "too-long"])
def test_wrong_size_download(reply: Reply, server: Server, isolated: Path,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    server.replies["/a.txt"] = reply
    (file,) = register(monkeypatch, a=(GOOD, server.url("/a.txt"))).values()
    with pytest.raises(SizeMismatchError) as info:
        data.load_corpus("fake")
    message = str(info.value)
    assert file.url in message and f"should have {len(GOOD):,}" in message
    assert str(isolated / "fake" / "a.txt") in message
    assert files_in(isolated) == []


@pytest.mark.parametrize("status", [404, 500])
def test_http_error(status: int, server: Server, isolated: Path,
                    monkeypatch: pytest.MonkeyPatch) -> None:
    server.replies["/a.txt"] = Reply(status=status, body=b"oops")
    (file,) = register(monkeypatch, a=(GOOD, server.url("/a.txt"))).values()
    with pytest.raises(DownloadError) as info:
        data.load_corpus("fake")
    assert type(info.value) is DownloadError
    assert info.value.status == status and info.value.url == file.url
    message = str(info.value)
    assert f"HTTP status {status}" in message and file.url in message
    assert str(isolated / "fake" / "a.txt") in message
    assert files_in(isolated) == []


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_missing_file_offline(tmp_path: Path, isolated: Path,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "data"
    empty.mkdir()
    monkeypatch.setenv("LLMBOOK_DATA_DIR", str(empty))
    url = f"http://127.0.0.1:{_closed_port()}/a.txt"
    register(monkeypatch, a=(GOOD, url))
    with pytest.raises(CorpusNotFoundError) as info:
        data.load_corpus("fake")
    message = str(info.value)
    assert url in message and str(isolated / "fake" / "a.txt") in message
    assert "LLMBOOK_DATA_DIR" in message and str(empty) in message
    assert info.value.__cause__ is not None and isinstance(info.value, DownloadError)
    assert info.value.status is None
    assert files_in(isolated) == [] and files_in(empty) == []


def test_timeout_is_not_found(server: Server, isolated: Path,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    server.replies["/slow.txt"] = Reply(body=GOOD, delay=1.0)
    (file,) = register(monkeypatch, a=(GOOD, server.url("/slow.txt"))).values()
    dest = isolated / file.path
    with pytest.raises(CorpusNotFoundError, match="timed out"):
        data.download(file, dest, timeout=0.2)
    assert files_in(isolated) == []


def test_a_trickling_server_hits_the_deadline(server: Server, isolated: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """One byte every 20 ms never trips the 0.5 s per-read timeout; the total deadline stops it."""
    server.replies["/a.txt"] = Reply(body=GOOD, trickle=0.02)  # about 1.5 s in all
    (file,) = register(monkeypatch, a=(GOOD, server.url("/a.txt"))).values()
    start = time.monotonic()
    with pytest.raises(CorpusNotFoundError, match=r"did not finish within 0.4 s; \d+ of "
                                                  rf"{len(GOOD)} bytes arrived"):
        data.download(file, isolated / file.path, timeout=0.5, deadline=0.4)
    assert time.monotonic() - start < 1.2
    assert files_in(isolated) == []
    done = data.download(file, isolated / file.path, timeout=0.5, deadline=10.0)
    assert done.read_bytes() == GOOD


def test_an_unwritable_cache_is_a_clear_error(server: Server, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    server.replies["/a.txt"] = Reply(body=GOOD)
    register(monkeypatch, a=(GOOD, server.url("/a.txt")))
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("LLMBOOK_CACHE_DIR", str(blocker / "cache"))
    with pytest.raises(data.CacheWriteError) as info:
        data.load_corpus("fake")
    message = str(info.value)
    assert message.startswith(f"Cannot write a.txt to the folder {blocker / 'cache' / 'fake'} (")
    assert "LLMBOOK_CACHE_DIR" in message and "LLMBOOK_DATA_DIR" in message
    assert isinstance(info.value, OSError) and isinstance(info.value, CorpusError)
    assert server.hits == []  # nothing was downloaded only to be thrown away


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root can write to a read-only folder")
def test_a_read_only_cache_is_a_clear_error(server: Server, isolated: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    server.replies["/a.txt"] = Reply(body=GOOD)
    register(monkeypatch, a=(GOOD, server.url("/a.txt")))
    (isolated / "fake").mkdir(parents=True)
    (isolated / "fake").chmod(0o500)
    try:
        with pytest.raises(data.CacheWriteError, match="PermissionError.*LLMBOOK_CACHE_DIR"):
            data.load_corpus("fake")
    finally:
        (isolated / "fake").chmod(0o700)


def test_a_corrupt_entry_that_cannot_be_removed_is_a_clear_error(
        server: Server, isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    register(monkeypatch, a=(GOOD, server.url("/a.txt")))
    cached = isolated / "fake" / "a.txt"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(GOOD.upper())
    real_unlink = Path.unlink

    def refuse(path: Path, missing_ok: bool = False) -> None:
        if path == cached:
            raise PermissionError(13, "Permission denied")
        real_unlink(path, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", refuse)
    with pytest.raises(data.CacheWriteError, match=r"Cannot write a.txt .*Permission denied"):
        data.load_corpus("fake")


@pytest.mark.parametrize("when", ["after-verify", "before-verify"])
def test_a_corrupt_entry_removed_by_another_process_meanwhile(
        when: str, server: Server, isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two processes find the same corrupt entry; the other one deletes it first."""
    server.replies["/a.txt"] = Reply(body=GOOD)
    register(monkeypatch, a=(GOOD, server.url("/a.txt")))
    cached = isolated / "fake" / "a.txt"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(GOOD.upper())
    real_verify = data.verify

    def verify_while_another_deletes(file: CorpusFile, path: Path) -> None:
        if when == "before-verify":
            path.unlink()
            real_verify(file, path)
        try:
            real_verify(file, path)
        finally:
            path.unlink()

    monkeypatch.setattr(data, "verify", verify_while_another_deletes)
    assert data.corpus_files("fake") == [cached] and cached.read_bytes() == GOOD
    assert server.hits == ["/a.txt"]


def test_the_part_file_of_a_killed_download_is_swept(server: Server, isolated: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    server.replies["/a.txt"] = Reply(body=GOOD)
    register(monkeypatch, a=(GOOD, server.url("/a.txt")))
    folder = isolated / "fake"
    folder.mkdir(parents=True)
    killed = folder / ".a.txt.k1ll3d.part"  # as tempfile names them
    killed.write_bytes(GOOD[:10])
    an_hour_ago = time.time() - 3600
    os.utime(killed, (an_hour_ago, an_hour_ago))
    live = folder / ".a.txt.l1v3.part"  # another process downloading right now
    live.write_bytes(GOOD[:10])
    other = folder / ".b.txt.k1ll3d.part"  # another file's: not this download's business
    other.write_bytes(b"")
    os.utime(other, (an_hour_ago, an_hour_ago))
    assert data.load_corpus("fake") == GOOD.decode().replace("\r\n", "\n")
    assert files_in(isolated) == ["fake/.a.txt.l1v3.part", "fake/.b.txt.k1ll3d.part", "fake/a.txt"]

    os.utime(live, (an_hour_ago, an_hour_ago))  # its process was killed too
    data.load_corpus("fake")  # served by the cache: the sweep runs all the same
    assert files_in(isolated) == ["fake/.b.txt.k1ll3d.part", "fake/a.txt"]
    assert server.hits == ["/a.txt"]


def test_failed_download_keeps_existing_dest(server: Server, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    server.replies["/a.txt"] = Reply(body=GOOD[::-1])
    (file,) = register(monkeypatch, a=(GOOD, server.url("/a.txt"))).values()
    dest = tmp_path / "elsewhere" / "a.txt"
    dest.parent.mkdir()
    dest.write_bytes(b"old")
    with pytest.raises(ChecksumMismatchError):
        data.download(file, dest)
    assert files_in(dest.parent) == ["a.txt"] and dest.read_bytes() == b"old"
    server.replies["/a.txt"] = Reply(body=GOOD)
    assert data.download(file, dest) == dest and dest.read_bytes() == GOOD
    assert files_in(dest.parent) == ["a.txt"]


@pytest.mark.parametrize("corrupt", [GOOD.upper(), GOOD[:-1]], ids=["content", "size"])
def test_corrupt_cache_is_replaced(corrupt: bytes, server: Server, isolated: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    server.replies["/a.txt"] = Reply(body=GOOD)
    register(monkeypatch, a=(GOOD, server.url("/a.txt")))
    cached = isolated / "fake" / "a.txt"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(corrupt)
    assert data.corpus_files("fake") == [cached]
    assert cached.read_bytes() == GOOD and server.hits == ["/a.txt"]
    assert files_in(isolated) == ["fake/a.txt"]


def test_corrupt_cache_and_bad_server(server: Server, isolated: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    server.replies["/a.txt"] = Reply(body=GOOD.upper())
    register(monkeypatch, a=(GOOD, server.url("/a.txt")))
    cached = isolated / "fake" / "a.txt"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(GOOD.lower())
    with pytest.raises(ChecksumMismatchError):
        data.load_corpus("fake")
    assert server.hits == ["/a.txt"]  # one new attempt, not a retry loop
    assert files_in(isolated) == []


@pytest.mark.parametrize(("corrupt", "error"), [
    (GOOD.upper(), ChecksumMismatchError), (GOOD + b"\n", SizeMismatchError)],
    ids=["content", "size"])
def test_corrupt_file_in_data_dir(corrupt: bytes, error: type[VerificationError],
                                  server: Server, tmp_path: Path, isolated: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    server.replies["/a.txt"] = Reply(body=GOOD)
    (file,) = register(monkeypatch, a=(GOOD, server.url("/a.txt"))).values()
    mine = tmp_path / "data" / "fake" / "a.txt"
    mine.parent.mkdir(parents=True)
    mine.write_bytes(corrupt)
    monkeypatch.setenv("LLMBOOK_DATA_DIR", str(tmp_path / "data"))
    with pytest.raises(error) as info:
        data.load_corpus("fake")
    message = str(info.value)
    assert str(mine) in message and file.url in message and "LLMBOOK_DATA_DIR" in message
    assert mine.read_bytes() == corrupt  # the user's file is never deleted
    assert server.hits == [] and files_in(isolated) == []


def test_data_dir_comes_before_cache(server: Server, tmp_path: Path, isolated: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    register(monkeypatch, a=(GOOD, server.url("/a.txt")))
    mine = tmp_path / "data" / "fake" / "a.txt"
    mine.parent.mkdir(parents=True)
    mine.write_bytes(GOOD)
    monkeypatch.setenv("LLMBOOK_DATA_DIR", str(tmp_path / "data"))
    assert data.corpus_files("fake") == [mine]
    assert server.hits == [] and not isolated.exists()


# --- Decoding, newlines and joining ---------------------------------------------------

def test_newlines_are_normalised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    content = b"one\r\ntwo\rthree\nfour\r\n\r\n"
    register(monkeypatch, a=(content, "http://127.0.0.1:9/unused"))
    (tmp_path / "data" / "fake").mkdir(parents=True)
    (tmp_path / "data" / "fake" / "a.txt").write_bytes(content)
    monkeypatch.setenv("LLMBOOK_DATA_DIR", str(tmp_path / "data"))
    assert data.load_corpus("fake") == "one\ntwo\nthree\nfour\n\n"  # one file: kept as is


def test_multi_file_join(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parts = {"b": "羅生門\r\n下人\r\n\r\n\r\n".encode("cp932"),  # registry order, not sorted
             "a": "蜘蛛の糸\r\n".encode("cp932"),
             "c": "桃太郎\r\n".encode("cp932")}
    register(monkeypatch, encoding="cp932",
             **{stem: (content, "http://127.0.0.1:9/unused") for stem, content in parts.items()})
    (tmp_path / "data" / "fake").mkdir(parents=True)
    for stem, content in parts.items():
        (tmp_path / "data" / "fake" / f"{stem}.txt").write_bytes(content)
    monkeypatch.setenv("LLMBOOK_DATA_DIR", str(tmp_path / "data"))
    assert data.load_corpus("fake") == "羅生門\n下人\n\n蜘蛛の糸\n\n桃太郎\n"


# --- The command line ------------------------------------------------------------------

def test_cli_status_and_fetch(server: Server, tmp_path: Path, isolated: Path,
                              monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    server.replies["/a.txt"] = Reply(body=GOOD)
    register(monkeypatch, a=(GOOD, server.url("/a.txt")), b=(GOOD, server.url("/b.txt")))
    (tmp_path / "data" / "fake").mkdir(parents=True)
    (tmp_path / "data" / "fake" / "b.txt").write_bytes(GOOD.upper())
    monkeypatch.setenv("LLMBOOK_DATA_DIR", str(tmp_path / "data"))
    assert data.main([]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"searched: {tmp_path / 'data'}, {isolated}"
    assert lines[1].endswith("missing")
    assert "CORRUPT" in lines[2] and "ChecksumMismatchError" in lines[2]
    assert server.hits == []  # the status never downloads

    monkeypatch.delenv("LLMBOOK_DATA_DIR")
    assert data.main(["fetch", "fake"]) == 1  # b.txt is not on the server (404)
    assert "HTTP status 404" in capsys.readouterr().err
    assert data.main([]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert f"ok       {isolated / 'fake' / 'a.txt'}" in lines[1] and lines[2].endswith("missing")
    assert data.main(["nonsense"]) == 2
