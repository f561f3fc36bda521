"""Checkpoints: one safetensors file, written atomically, read without unpickling."""

import json
import os
import pickle

import pytest
import torch
from torch import nn

from qrnnc import checkpoint


def _trained_pair():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    for _ in range(3):
        loss = net(torch.randn(5, 3)).pow(2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net, opt


def test_round_trip_restores_weights_optimizer_rng_and_meta(tmp_path):
    net, opt = _trained_pair()
    rng = torch.get_rng_state()
    path = checkpoint.save(
        tmp_path / "last.safetensors",
        model=net.state_dict(),
        optimizer=opt.state_dict(),
        meta={"position": {"step": 3}, "config": {"lr": 0.01}},
        rng={"torch": rng},
    )
    ck = checkpoint.load(path)
    assert ck.meta["position"] == {"step": 3} and ck.meta["config"] == {"lr": 0.01}
    assert torch.equal(ck.rng["torch"], rng)
    for k, v in net.state_dict().items():
        assert torch.equal(ck.model[k], v)

    # A fresh optimizer given the loaded state continues exactly like the original.
    net2, _ = _trained_pair()
    net2.load_state_dict(ck.model)
    opt2 = torch.optim.Adam(net2.parameters(), lr=0.01)
    opt2.load_state_dict(ck.optimizer)
    x = torch.randn(5, 3)
    for n, o in ((net, opt), (net2, opt2)):
        loss = n(x).pow(2).sum()
        o.zero_grad()
        loss.backward()
        o.step()
    for a, b in zip(net.parameters(), net2.parameters(), strict=True):
        assert torch.equal(a, b)
    readable = json.loads((tmp_path / "last.json").read_text())
    assert readable["position"]["step"] == 3 and readable["format"] == checkpoint.FORMAT


def test_a_failed_write_leaves_the_old_checkpoint_and_no_temp_files(tmp_path, monkeypatch):
    net, _ = _trained_pair()
    path = tmp_path / "last.safetensors"
    checkpoint.save(path, model=net.state_dict(), meta={"n": 1})
    before = path.read_bytes()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint, "save_file", boom)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.save(path, model=net.state_dict(), meta={"n": 2})
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.json", "last.safetensors"]


@pytest.mark.parametrize("content", [b"", b"garbage" * 10, b"\x08" + b"\x00" * 7 + b"{}"])
def test_a_file_that_is_not_a_checkpoint_is_refused_clearly(tmp_path, content):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"not a qrnnc checkpoint|without qrnnc metadata"):
        checkpoint.load(path)


def test_a_pickle_is_never_loaded(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.mkdir, (str(marker),))

    path = tmp_path / "evil.safetensors"
    path.write_bytes(pickle.dumps({"model": Evil()}))
    with pytest.raises(ValueError):
        checkpoint.load(path)
    assert not marker.exists()


def test_a_plain_safetensors_file_without_metadata_is_refused(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(2)}, path)
    with pytest.raises(ValueError, match="without qrnnc metadata"):
        checkpoint.load(path)
