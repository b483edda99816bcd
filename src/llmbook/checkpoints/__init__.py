"""Trained weights shipped with the book (data files, no code).

``aesop_word_lstm_eNNN.npz``: the course's word-level LSTM on Aesop's Fables after NNN
epochs, written by ``tools/train_checkpoints.py`` and read with
:func:`llmbook.models.rnn.load_word_checkpoint` (float16 weights, the
vocabulary and the loss history; about 3.4 MB each).
"""
