"""asr: CTC speech recognition with a deep bidirectional LSTM."""

__version__ = "0.1.0"
