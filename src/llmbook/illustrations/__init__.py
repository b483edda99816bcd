"""Code written for one chapter's story, kept apart from the reusable library.

Nothing here is an idea the reader carries to the next chapter; each module
serves the figures or the toy data of one chapter:

- :mod:`~llmbook.illustrations.history`: the milestones of language modelling,
  with their sources and published sizes, and chapter 1's timeline and
  parameter-count figures;
- :mod:`~llmbook.illustrations.diagrams`: drawings of architectures (a
  fully connected network, an RNN encoder-decoder, the Transformer) for
  chapters 4, 9 and 10;
- :mod:`~llmbook.illustrations.dates`: chapter 10's translation task, dates
  written the way people write them into ISO form, with its two small
  character vocabularies.
"""
