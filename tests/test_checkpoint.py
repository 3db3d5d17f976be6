import pytest
import torch

from asr.checkpoint import load_checkpoint
from asr.errors import UserError


class Exploit:
    def __reduce__(self):
        import os

        return (os.system, ("touch PWNED_MARKER",))


def test_pickle_bearing_file_is_refused_without_running_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pt"
    torch.save({"format": "asr-ctc", "version": 1, "payload": Exploit()}, path)
    with pytest.raises(UserError, match="refused"):
        load_checkpoint(path)
    assert not (tmp_path / "PWNED_MARKER").exists()


def test_other_files_and_versions(tmp_path):
    with pytest.raises(UserError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a model")
    with pytest.raises(UserError, match="not a readable model file"):
        load_checkpoint(junk)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    with pytest.raises(UserError, match="not an asr model"):
        load_checkpoint(other)
    future = tmp_path / "future.pt"
    torch.save({"format": "asr-ctc", "version": 99}, future)
    with pytest.raises(UserError, match="version 99"):
        load_checkpoint(future)
