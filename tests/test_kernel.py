"""llmbook.kernel: a chapter's kernel-wide settings, undone at its end."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib as mpl  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import llmbook.kernel as kernel  # noqa: E402
from llmbook.kernel import KernelSettings, chapter_settings  # noqa: E402
from llmbook.plots import use_book_style  # noqa: E402


@pytest.fixture(autouse=True)
def pristine_kernel():
    """Whatever a test does, the next one starts from the same state."""
    threads = torch.get_num_threads()
    with mpl.rc_context(), pd.option_context("display.max_colwidth", pd.get_option("display.max_colwidth")):
        yield
    torch.set_num_threads(threads)
    kernel._open_chapter = None


def other_thread_count() -> int:
    return 2 if torch.get_num_threads() == 1 else 1


def test_threads_are_set_and_restored() -> None:
    before, wanted = torch.get_num_threads(), other_thread_count()
    settings = KernelSettings(threads=wanted)
    assert torch.get_num_threads() == wanted
    settings.restore()
    assert torch.get_num_threads() == before


def test_every_matplotlib_setting_changed_after_the_snapshot_is_restored() -> None:
    before = dict(mpl.rcParams)
    settings = KernelSettings()
    use_book_style()
    mpl.rcParams["font.family"] = ["IPAexGothic", "sans-serif"]
    assert dict(mpl.rcParams) != before
    settings.restore()
    assert dict(mpl.rcParams) == before


def test_the_front_end_settings_are_left_alone() -> None:
    """Jupyter turns ``interactive`` on at a chapter's first figure; turning it
    off at the chapter's end would keep later cells from showing figures."""
    was = mpl.is_interactive()
    try:
        settings = KernelSettings()
        mpl.interactive(not was)
        settings.restore()
        assert mpl.is_interactive() == (not was)
    finally:
        mpl.interactive(was)


def test_pandas_options_are_set_and_restored() -> None:
    before = pd.get_option("display.max_colwidth")
    settings = KernelSettings(pandas={"display.max_colwidth": 7})
    assert pd.get_option("display.max_colwidth") == 7
    settings.apply(pandas={"display.max_colwidth": 9})  # a second change keeps the first snapshot
    settings.restore()
    assert pd.get_option("display.max_colwidth") == before


def test_hub_progress_bars_are_hidden_and_shown_again() -> None:
    hf_logging = pytest.importorskip("transformers.utils.logging")
    from huggingface_hub import utils as hub_utils

    before = (hf_logging.is_progress_bar_enabled(), hub_utils.are_progress_bars_disabled())
    settings = KernelSettings(hub_progress_bars=False)
    assert not hf_logging.is_progress_bar_enabled()
    assert hub_utils.are_progress_bars_disabled()
    settings.restore()
    assert (hf_logging.is_progress_bar_enabled(), hub_utils.are_progress_bars_disabled()) == before


def test_dataset_progress_bars_are_hidden_later_and_shown_again() -> None:
    datasets = pytest.importorskip("datasets")

    before = datasets.is_progress_bar_enabled()
    settings = KernelSettings()
    settings.apply(dataset_progress_bars=False)  # as a chapter does half-way, before trl
    assert not datasets.is_progress_bar_enabled()
    settings.apply(dataset_progress_bars=False)  # a second time: the snapshot stays the first one
    settings.restore()
    assert datasets.is_progress_bar_enabled() == before


def test_context_manager_restores_on_error() -> None:
    before = torch.get_num_threads()
    with pytest.raises(RuntimeError), KernelSettings(threads=other_thread_count()):
        raise RuntimeError("a failing cell")
    assert torch.get_num_threads() == before


def test_restore_twice_changes_nothing_the_second_time() -> None:
    settings = KernelSettings(threads=other_thread_count())
    settings.restore()
    torch.set_num_threads(3)  # the reader's own choice, after the chapter
    settings.restore()
    assert torch.get_num_threads() == 3


def test_chapter_settings_opened_twice_keep_the_state_the_chapter_found() -> None:
    before_threads, before_rc = torch.get_num_threads(), dict(mpl.rcParams)
    chapter_settings(threads=other_thread_count())
    use_book_style()
    settings = chapter_settings(threads=other_thread_count())  # the first cell run again
    use_book_style()
    settings.restore()
    assert torch.get_num_threads() == before_threads
    assert dict(mpl.rcParams) == before_rc


@pytest.mark.parametrize("threads", [0, -1, 1.5, True, "2"])
def test_bad_thread_counts_are_rejected(threads: object) -> None:
    with pytest.raises(ValueError, match="threads must be a positive integer"):
        KernelSettings(threads=threads)  # type: ignore[arg-type]


def test_unknown_pandas_option_is_an_error() -> None:
    with pytest.raises(pd.errors.OptionError):
        KernelSettings(pandas={"display.no_such_option": 1})


def test_cjk_font_is_set_again_after_a_restore() -> None:
    """``japanize_matplotlib`` sets the font only when first imported: a second
    chapter that needs Japanese must get it from ``use_cjk_font`` all the same."""
    from llmbook.attention_plots import use_cjk_font

    # Start from Matplotlib's own default, whatever earlier tests selected.
    with mpl.rc_context({"font.family": ["sans-serif"]}):
        default = list(mpl.rcParams["font.family"])
        for _ in range(2):
            with KernelSettings():
                try:
                    use_cjk_font()
                except RuntimeError:
                    pytest.skip("no font for Japanese text on this machine")
                assert mpl.rcParams["font.family"] != default
        assert list(mpl.rcParams["font.family"]) == default
