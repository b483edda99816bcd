"""Milestones in the history of language models, as data for chapter 1's figures.

Every entry names the publication it comes from by its key in the book's
``references.bib``. Parameter counts are included only where the cited
paper itself publishes the number; ideas without a published headline size
(n-grams, LSTM, word2vec, ...) simply have none.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["FAMILIES", "Milestone", "ModelSize", "MILESTONES", "MODEL_SIZES"]

#: The families of ideas, in the order the book meets them.
FAMILIES: tuple[str, ...] = (
    "counting",
    "feed-forward neural",
    "recurrent",
    "attention",
    "pre-trained Transformer",
    "instruction-tuned",
)


@dataclass(frozen=True)
class ModelSize:
    """A published parameter count of one model.

    Attributes:
        name: the model's name as the paper calls it.
        year: year of first public release (preprint or paper).
        parameters: number of trainable parameters.
        source: ``references.bib`` key of the publication stating the number.
    """

    name: str
    year: int
    parameters: int
    source: str


@dataclass(frozen=True)
class Milestone:
    """One idea on the road from counting words to chat models.

    Attributes:
        year: year of first public release (preprint or paper).
        name: a short label for figures.
        description: one sentence on what changed.
        family: one of :data:`FAMILIES`.
        source: ``references.bib`` key of the publication.
        sizes: published parameter counts of the models it introduced.
    """

    year: int
    name: str
    description: str
    family: str
    source: str
    sizes: tuple[ModelSize, ...] = field(default=())

    @property
    def parameters(self) -> int | None:
        """The largest published parameter count, or ``None`` if there is none."""
        return max((s.parameters for s in self.sizes), default=None)


MILESTONES: tuple[Milestone, ...] = (
    Milestone(
        1948, "Shannon's n-grams",
        "Approximates English by drawing each letter or word according to the "
        "statistics of what follows the previous ones.",
        "counting", "shannon1948mathematical",
    ),
    Milestone(
        1983, "Statistical speech recognition",
        "n-gram language models become the standard way to score word "
        "sequences in speech recognisers (1970s-80s).",
        "counting", "bahl1983maximum",
    ),
    Milestone(
        1997, "LSTM",
        "A recurrent cell with gates and a memory cell that keeps information "
        "over long sequences.",
        "recurrent", "hochreiter1997long",
    ),
    Milestone(
        2003, "Neural language model",
        "Words become learned vectors; a neural network predicts the next word "
        "from the vectors of the previous ones.",
        "feed-forward neural", "bengio2003neural",
    ),
    Milestone(
        2010, "RNN language model",
        "A recurrent network with a hidden state carries the whole history "
        "instead of a fixed n-1 words.",
        "recurrent", "mikolov2010recurrent",
    ),
    Milestone(
        2013, "word2vec",
        "Cheap training of word vectors on billions of words; vector "
        "arithmetic such as king - man + woman = queen.",
        "feed-forward neural", "mikolov2013efficient",
    ),
    Milestone(
        2014, "Sequence to sequence",
        "An LSTM encoder reads a sentence into a vector, an LSTM decoder writes "
        "the translation.",
        "recurrent", "sutskever2014sequence",
        (ModelSize("seq2seq LSTM", 2014, 384_000_000, "sutskever2014sequence"),),
    ),
    Milestone(
        2014, "Attention",
        "The decoder looks back at every encoder state and takes a weighted "
        "average, instead of one fixed vector.",
        "attention", "bahdanau2015neural",
    ),
    Milestone(
        2017, "Transformer",
        "Attention only, no recurrence: every position is processed in "
        "parallel.",
        "attention", "vaswani2017attention",
        (
            ModelSize("Transformer base", 2017, 65_000_000, "vaswani2017attention"),
            ModelSize("Transformer big", 2017, 213_000_000, "vaswani2017attention"),
        ),
    ),
    Milestone(
        2018, "GPT",
        "A Transformer decoder pre-trained on next-token prediction, then "
        "fine-tuned for each task.",
        "pre-trained Transformer", "radford2018improving",
        # The GPT paper gives the architecture; the GPT-2 paper states its size.
        (ModelSize("GPT", 2018, 117_000_000, "radford2019language"),),
    ),
    Milestone(
        2018, "BERT",
        "A Transformer encoder pre-trained by filling in masked words, reading "
        "left and right context at once.",
        "pre-trained Transformer", "devlin2019bert",
        (
            ModelSize("BERT-base", 2018, 110_000_000, "devlin2019bert"),
            ModelSize("BERT-large", 2018, 340_000_000, "devlin2019bert"),
        ),
    ),
    Milestone(
        2019, "GPT-2",
        "The same recipe, more than ten times larger, on web text: fluent "
        "paragraphs and tasks solved without fine-tuning.",
        "pre-trained Transformer", "radford2019language",
        (ModelSize("GPT-2", 2019, 1_542_000_000, "radford2019language"),),
    ),
    Milestone(
        2020, "GPT-3",
        "Scaled to 175 billion parameters: new tasks learned from a few "
        "examples in the prompt.",
        "pre-trained Transformer", "brown2020language",
        (ModelSize("GPT-3", 2020, 175_000_000_000, "brown2020language"),),
    ),
    Milestone(
        2022, "InstructGPT / ChatGPT",
        "Language models fine-tuned on human demonstrations and preferences "
        "to follow instructions; ChatGPT released in November 2022.",
        "instruction-tuned", "ouyang2022training",
        (
            ModelSize("InstructGPT", 2022, 1_300_000_000, "ouyang2022training"),
            ModelSize("InstructGPT", 2022, 175_000_000_000, "ouyang2022training"),
        ),
    ),
)

#: Every published parameter count in :data:`MILESTONES`, oldest first.
MODEL_SIZES: tuple[ModelSize, ...] = tuple(
    size for milestone in MILESTONES for size in milestone.sizes
)
