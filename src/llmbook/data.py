"""The corpora of the book: where they live, how they are fetched and checked.

Every corpus is a handful of plain-text files whose exact bytes are pinned in
the registry below (download URL at a fixed commit, size, sha256, encoding).
A file is looked for, in this order:

1. ``$LLMBOOK_DATA_DIR/<corpus>/<file>`` -- a directory you prepared by hand
   (for example on a machine without internet);
2. the user cache, ``$LLMBOOK_CACHE_DIR`` or
   ``platformdirs.user_cache_dir("llmbook")/corpora``, with the same layout;
3. otherwise it is downloaded into the cache.

Every file is verified (size, then sha256) each time it is used, so a
corrupt or truncated file is never silently turned into a wrong result.
Downloads go to a temporary ``.part`` file next to the destination and are
moved into place only once verified: a failed download leaves nothing behind,
and the ``.part`` file of a download that was killed is swept away later.
A download has a total deadline as well as a per-read timeout, so a server
that sends a byte now and then cannot hold a cell forever.

Run ``python -m llmbook.data`` to see which corpora are available here, and
``python -m llmbook.data fetch NAME`` to download one into the cache.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import platformdirs

__all__ = [
    "CORPORA", "Corpus", "CorpusFile", "CorpusError", "UnknownCorpusError",
    "VerificationError", "SizeMismatchError", "ChecksumMismatchError",
    "DownloadError", "CorpusNotFoundError", "CacheWriteError", "list_corpora", "get_corpus",
    "data_dirs", "cache_dir", "corpus_files", "load_corpus", "download", "verify", "file_sha256",
]


@dataclass(frozen=True)
class CorpusFile:
    """One file of a corpus: its relative path, pinned URL and expected bytes."""

    path: str    # relative path, the same in every directory: "aesop/aesop_fables.txt"
    url: str     # raw file at a fixed commit, so the bytes never change
    size: int    # in bytes
    sha256: str  # hex digest of the exact bytes


@dataclass(frozen=True)
class Corpus:
    """A named text corpus made of one or more files in a known encoding."""

    name: str
    description: str
    encoding: str
    files: tuple[CorpusFile, ...]


_AKUTAGAWA = ("https://raw.githubusercontent.com/Mellokun614/LSTM-Akutagawa/"
              "85fbd53e511b4a73d23e96eb5d850e86f055cdf6/")

CORPORA: dict[str, Corpus] = {c.name: c for c in [
    Corpus("aesop", "Aesop's Fables, a new translation by V. S. Vernon Jones, 1912 (Project "
           "Gutenberg eBook #11339), body text only; CRLF line endings. Public domain.", "cp1252", (
        CorpusFile("aesop/aesop_fables.txt",
                   "https://raw.githubusercontent.com/joshstephenson/gutenberg-topic-modeling/"
                   "03cadbc2fbba82ea847938eea8db56382e9f3738/aesop_fables.txt", 202435,
                   "03dc4d03a332db6e399e97d3e84ac8974b9d217870559dff6a061345617e23f4"),
    )),
    Corpus("tinyshakespeare", "Tiny Shakespeare (about 40,000 lines of Shakespeare's "
           "plays), the standard character-level benchmark. Public domain.", "utf-8", (
        CorpusFile("tinyshakespeare/input.txt",
                   "https://raw.githubusercontent.com/karpathy/char-rnn/"
                   "6f9487a6fe5b420b7ca9afb0d7c078e37c1d1b4e/data/tinyshakespeare/input.txt",
                   1115394, "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"),
    )),
    Corpus("sherlock", "The Adventures of Sherlock Holmes by Arthur Conan Doyle (Project "
           "Gutenberg #1661), without the Gutenberg header. Public domain in the US.", "utf-8", (
        CorpusFile("sherlock/1661-0.txt",
                   "https://raw.githubusercontent.com/gutenbergbooks/1661/"
                   "4583fe51c670727bf1edf51b41e7b67b7736224a/1661-0.txt", 575796,
                   "e21895308fe6da6919abc53e2cf77d81f914887897546153cc5d49b2eadefe50"),
    )),
    Corpus("akutagawa", "Five works by Akutagawa Ryunosuke (Rashomon, The Spider's Thread, "
           "Hell Screen, A Fool's Life, Momotaro) from Aozora Bunko, ruby mostly removed; "
           "Shift_JIS (cp932), CRLF line endings. Public domain.", "cp932", (
        CorpusFile("akutagawa/rashomon.txt", _AKUTAGAWA + "rashomon.txt", 11521,
                   "16ab3f25fd681e32d1885000e240315bc0ef126ccf017ecb7d5e41e660786283"),
        CorpusFile("akutagawa/kumono_ito.txt", _AKUTAGAWA + "kumono_ito.txt", 5790,
                   "bc89754c849e2a5883f1e454e7a514c7a36fda8fe4456e29456441ab2b63ffe4"),
        CorpusFile("akutagawa/jigokuhen_shinji.txt", _AKUTAGAWA + "jigokuhen_shinji.txt", 53168,
                   "9f935c8cb1509521f40ef481c9f65f4426462a79f23bcdb9d7e1dac7f9900312"),
        CorpusFile("akutagawa/aru_ahono_issho.txt", _AKUTAGAWA + "aru_ahono_issho.txt", 25940,
                   "55a8417fd525f892e97e48046c2588519f67280db3b0010936b428b5ce06b930"),
        CorpusFile("akutagawa/momotaro.txt", _AKUTAGAWA + "momotaro.txt", 12777,
                   "da683c0eff9b3b1ffc7fcd10a4ae92e67675e858188f13a0527d544181007e97"),
    )),
]}


# --- Errors: each message says what happened and how to fix it. ---------------

class CorpusError(Exception):
    """Base class of every error raised by ``llmbook.data``."""


class UnknownCorpusError(CorpusError, ValueError):
    """The corpus name is not in the registry."""


class VerificationError(CorpusError):
    """A file exists but its bytes are not the registered ones."""


class SizeMismatchError(VerificationError):
    """A file (local or downloaded) has the wrong number of bytes, e.g. truncated."""


class ChecksumMismatchError(VerificationError):
    """A file has the right size but the wrong sha256: its content differs."""


class DownloadError(CorpusError):
    """A download failed; ``status`` is the HTTP status code, if there was one."""

    def __init__(self, message: str, *, url: str, status: int | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.status = status


class CorpusNotFoundError(DownloadError):
    """The file is not on disk and the server could not be reached (or was too slow)."""


class CacheWriteError(CorpusError, OSError):
    """A downloaded file cannot be written to the cache (not writable, disk full...)."""


def _how_to_supply(file: CorpusFile, dest: Path) -> str:
    hint = (f"To supply the file by hand, download\n  {file.url}\nand save it as\n  {dest}\n"
            f"or save it as <dir>/{file.path} and set the environment variable "
            f"LLMBOOK_DATA_DIR=<dir>.")
    if os.environ.get("LLMBOOK_DATA_DIR"):
        hint += f" (LLMBOOK_DATA_DIR is currently {os.environ['LLMBOOK_DATA_DIR']}.)"
    return hint


# --- Where files are looked for. -----------------------------------------------

def list_corpora() -> list[str]:
    """Return the names of the registered corpora, sorted."""
    return sorted(CORPORA)


def get_corpus(name: str) -> Corpus:
    """Return the registry entry of corpus ``name`` (raises UnknownCorpusError)."""
    try:
        return CORPORA[name]
    except KeyError:
        raise UnknownCorpusError(f"Unknown corpus {name!r}. Use one of: "
                                 f"{', '.join(list_corpora())}.") from None


def cache_dir() -> Path:
    """The user cache of corpora: ``$LLMBOOK_CACHE_DIR`` or the platform's cache dir."""
    if os.environ.get("LLMBOOK_CACHE_DIR"):
        return Path(os.environ["LLMBOOK_CACHE_DIR"]).expanduser()
    return Path(platformdirs.user_cache_dir("llmbook")) / "corpora"


def data_dirs() -> list[Path]:
    """The directories searched for corpus files, in order: $LLMBOOK_DATA_DIR, the cache."""
    dirs = [cache_dir()]
    if os.environ.get("LLMBOOK_DATA_DIR"):
        dirs.insert(0, Path(os.environ["LLMBOOK_DATA_DIR"]).expanduser())
    return dirs


# --- Verifying and downloading. ------------------------------------------------

def _check(file: CorpusFile, size: int, sha256: str, what: str, fix: str) -> None:
    """Raise unless ``size`` and ``sha256`` are the registered ones for ``file``."""
    if size != file.size:
        raise SizeMismatchError(f"{what} has {size:,} bytes, but {file.path} should have "
                                f"{file.size:,} (truncated or a different file). {fix}")
    if sha256 != file.sha256:
        raise ChecksumMismatchError(f"{what} has sha256 {sha256}, but {file.path} should "
                                    f"have sha256 {file.sha256}. {fix}")


def file_sha256(path: Path) -> str:
    """The sha256 of the file at ``path`` (hex), read in blocks so big files fit in memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(file: CorpusFile, path: Path) -> None:
    """Check that ``path`` holds exactly the registered bytes of ``file``.

    The size is compared first (cheap, and it catches truncated files), then
    the sha256 of the content. Raises SizeMismatchError or ChecksumMismatchError.
    """
    size = path.stat().st_size
    sha256 = file_sha256(path) if size == file.size else ""
    _check(file, size, sha256, f"The file {path}",
           f"Delete it and save a fresh copy of {file.url} there.")


#: A ``.part`` file untouched for this many seconds belongs to a download that was
#: killed: a live one writes at least once per ``timeout`` and stops at its deadline.
STALE_PART_SECONDS = 600.0


def _part_files(dest: Path) -> list[Path]:
    """The temporary files of downloads of ``dest``, live or left behind."""
    return list(dest.parent.glob(f".{dest.name}.*.part"))


def _sweep_stale_parts(dest: Path) -> None:
    """Delete the ``.part`` files of killed downloads of ``dest`` (not those of live ones)."""
    now = time.time()
    for part in _part_files(dest):
        try:
            if now - part.stat().st_mtime > STALE_PART_SECONDS:
                part.unlink(missing_ok=True)
        except OSError:
            pass  # removed meanwhile, or not ours to remove: leave it


def _cache_write_error(dest: Path, error: OSError) -> CacheWriteError:
    """The error for a cache that cannot be written, saying what to do instead."""
    return CacheWriteError(
        f"Cannot write {dest.name} to the folder {dest.parent} ({type(error).__name__}: "
        f"{error.strerror or error}). Set the environment variable LLMBOOK_CACHE_DIR to a "
        "folder you can write to (with enough free space), or save the corpus files as "
        "<dir>/<corpus>/<file> and set LLMBOOK_DATA_DIR=<dir>.")


def download(file: CorpusFile, dest: Path, *, timeout: float = 30.0,
             deadline: float = 300.0) -> Path:
    """Download ``file`` to ``dest`` atomically and return ``dest``.

    The bytes are streamed into a temporary ``.part`` file (a unique name) in
    ``dest``'s directory and checked (size, sha256); only a verified file is
    renamed to ``dest`` (``os.replace`` is atomic). On any failure the
    temporary file is deleted, ``dest`` is left as it was, and the error is
    raised. ``timeout`` bounds the wait for each read, ``deadline`` the whole
    body (seconds).

    Raises:
        CacheWriteError: if ``dest``'s folder cannot be written.
        DownloadError: for an HTTP error status; CorpusNotFoundError when the
            server cannot be reached, times out or misses the deadline.
        VerificationError: if the bytes received are not the registered ones.
    """
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        _sweep_stale_parts(dest)
        tmp = tempfile.NamedTemporaryFile(delete=False, dir=dest.parent,
                                          prefix=f".{dest.name}.", suffix=".part")
    except OSError as e:
        raise _cache_write_error(dest, e) from e
    try:
        with tmp:
            size, sha256 = _stream(file, dest, tmp, timeout, deadline)
        _check(file, size, sha256, f"The download of {file.url}", _how_to_supply(file, dest))
        try:
            os.replace(tmp.name, dest)
        except OSError as e:
            raise _cache_write_error(dest, e) from e
    except BaseException:
        Path(tmp.name).unlink(missing_ok=True)
        raise
    return dest


def _stream(file: CorpusFile, dest: Path, out: BinaryIO, timeout: float,
            deadline: float) -> tuple[int, str]:
    """Copy the body at ``file.url`` into ``out``; return (bytes received, sha256).

    Each read returns what has arrived (``read1``), so the deadline is checked
    however slowly the bytes trickle in.
    """
    digest, size = hashlib.sha256(), 0
    give_up = time.monotonic() + deadline
    try:
        with urllib.request.urlopen(file.url, timeout=timeout) as response:
            while size <= file.size:            # stop early if the server sends too much
                if time.monotonic() > give_up:
                    raise TimeoutError(f"the download did not finish within {deadline:g} s; "
                                       f"{size:,} of {file.size:,} bytes arrived")
                chunk = response.read1(64 * 1024)
                if not chunk:
                    break
                try:
                    out.write(chunk)
                except OSError as e:
                    raise _cache_write_error(dest, e) from e
                digest.update(chunk)
                size += len(chunk)
    except urllib.error.HTTPError as e:
        raise DownloadError(f"Downloading {file.url} failed with HTTP status {e.code} "
                            f"({e.reason}). {_how_to_supply(file, dest)}",
                            url=file.url, status=e.code) from e
    except http.client.IncompleteRead as e:
        size += len(e.partial)                  # the connection closed too early
    except (urllib.error.URLError, TimeoutError, ConnectionError,
            http.client.HTTPException) as e:
        raise CorpusNotFoundError(f"{file.path} is not available locally and downloading "
                                  f"{file.url} failed ({e}). {_how_to_supply(file, dest)}",
                                  url=file.url) from e
    return size, digest.hexdigest()


# --- Finding and loading corpora. ----------------------------------------------

def _local_file(file: CorpusFile) -> Path:
    """Return a verified local path of ``file``, downloading it if needed."""
    if os.environ.get("LLMBOOK_DATA_DIR"):
        path = Path(os.environ["LLMBOOK_DATA_DIR"]).expanduser() / file.path
        if path.is_file():
            try:
                verify(file, path)   # you pointed us here: a bad file is an error
            except VerificationError as e:
                raise type(e)(f"{e} (Or unset LLMBOOK_DATA_DIR to use the cache.)") from None
            return path
    cached = cache_dir() / file.path
    _sweep_stale_parts(cached)
    if cached.is_file():
        try:
            verify(file, cached)
            return cached
        except (VerificationError, FileNotFoundError):
            # Corrupt (or just removed by another process): drop it and download once
            # more. Another process may drop it at the same moment: not an error.
            try:
                cached.unlink(missing_ok=True)
            except OSError as e:
                raise _cache_write_error(cached, e) from e
    return download(file, cached)


def corpus_files(name: str) -> list[Path]:
    """Return verified local paths of every file of corpus ``name``, in registry order.

    Each file comes from ``$LLMBOOK_DATA_DIR`` if it is there, else from the
    cache, else it is downloaded into the cache.
    """
    return [_local_file(file) for file in get_corpus(name).files]


def load_corpus(name: str) -> str:
    """Return the text of corpus ``name`` with LF line endings.

    Each file is decoded with the corpus's registered encoding and its line
    endings (CRLF or CR) are normalised to LF. A one-file corpus is returned
    exactly as its file reads. Several files are joined in registry order,
    each separated from the next by one blank line: the trailing newlines of
    a file are stripped and ``"\\n\\n"`` is put before the next file.
    """
    corpus = get_corpus(name)
    texts = [path.read_bytes().decode(corpus.encoding) for path in corpus_files(name)]
    texts = [t.replace("\r\n", "\n").replace("\r", "\n") for t in texts]
    text = texts[0]
    for more in texts[1:]:
        text = text.rstrip("\n") + "\n\n" + more
    return text


# --- python -m llmbook.data [fetch NAME] ---------------------------------------

def _status(file: CorpusFile) -> str:
    """Where ``file`` is found locally and whether it verifies (never downloads)."""
    for directory in data_dirs():
        path = directory / file.path
        if path.is_file():
            try:
                verify(file, path)
                return f"ok       {path}"
            except VerificationError as e:
                return f"CORRUPT  {path} ({type(e).__name__})"
    return "missing"


def main(argv: list[str] | None = None) -> int:
    """Print where each corpus file is found and whether it verifies; or fetch one."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) == 2 and args[0] == "fetch":
        try:
            for path in corpus_files(args[1]):
                print(path)
        except CorpusError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        return 0
    if args:
        print("usage: python -m llmbook.data [fetch NAME]", file=sys.stderr)
        return 2
    print("searched: " + ", ".join(str(d) for d in data_dirs()))
    for name in list_corpora():
        for file in CORPORA[name].files:
            print(f"{name:16} {file.size:>10,} bytes  {_status(file)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
