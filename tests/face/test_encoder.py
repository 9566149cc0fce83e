"""FaceEncoder shapes, normalisation, devices; save/load round trip and bad files."""

import pytest
import torch

from coursekit.face import FaceEncoder, load_encoder, save_encoder

SMALL = {"widths": (4, 8, 8, 8)}


@pytest.mark.parametrize("b", [1, 2, 5])
@pytest.mark.parametrize("hw", [(64, 64), (32, 32), (48, 40), (100, 100)])
def test_shapes_and_unit_norm(b, hw):
    enc = FaceEncoder(embedding_dim=16, **SMALL).eval()
    z = enc(torch.rand(b, 1, *hw))
    assert z.shape == (b, 16)
    torch.testing.assert_close(z.norm(dim=1), torch.ones(b))


def test_colour_input_and_input_size():
    enc = FaceEncoder(embedding_dim=8, in_channels=3, input_size=32, **SMALL).eval()
    assert enc(torch.rand(2, 3, 80, 60)).shape == (2, 8)


def test_device(device):
    enc = FaceEncoder(embedding_dim=8, **SMALL).to(device).eval()
    z = enc(torch.rand(3, 1, 32, 32, device=device))
    assert z.device.type == device.type


def test_gradients_flow():
    enc = FaceEncoder(embedding_dim=8, **SMALL)
    enc(torch.rand(4, 1, 32, 32)).sum().backward()
    assert all(p.grad is not None for p in enc.parameters())


def test_bad_input_shape():
    enc = FaceEncoder(embedding_dim=8, **SMALL)
    with pytest.raises(ValueError, match=r"\(2, 3, 32, 32\)"):
        enc(torch.rand(2, 3, 32, 32))
    with pytest.raises(ValueError):
        FaceEncoder(embedding_dim=0)


def test_save_load_round_trip(tmp_path):
    enc = FaceEncoder(embedding_dim=8, input_size=32, **SMALL).eval()
    with torch.no_grad():
        for p in enc.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    path = save_encoder(enc, tmp_path / "sub" / "enc.pt")
    assert not [f for f in path.parent.iterdir() if f.name.endswith(".tmp")]
    loaded = load_encoder(path)
    assert not loaded.training and loaded.config == enc.config
    x = torch.rand(3, 1, 64, 64)
    torch.testing.assert_close(loaded(x), enc(x))
    # the file holds only tensors and plain values: weights_only loading works
    payload = torch.load(path, weights_only=True)
    assert payload["format"] == "coursekit.FaceEncoder"


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_encoder(tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a torch file at all")
    with pytest.raises(ValueError, match="junk.pt"):
        load_encoder(junk)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(ValueError, match="not a coursekit face encoder"):
        load_encoder(foreign)
    good = save_encoder(FaceEncoder(embedding_dim=8, **SMALL), tmp_path / "good.pt")
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[:200])
    with pytest.raises(ValueError, match="truncated.pt"):
        load_encoder(truncated)
    damaged = tmp_path / "damaged.pt"
    payload = torch.load(good, weights_only=True)
    payload["state_dict"].pop("head.weight")
    torch.save(payload, damaged)
    with pytest.raises(ValueError, match="damaged"):
        load_encoder(damaged)
