"""`asr serve`: the recognition server (asr.serve.app) and its streaming state (asr.serve.stream)."""
