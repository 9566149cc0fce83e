"""embed: batches, mode and device; test-time flip averaging against its formula."""

import pytest
import torch
import torch.nn.functional as F

from coursekit.face import FaceEncoder, embed


def test_embed_batches_mode_and_device():
    enc = FaceEncoder(embedding_dim=8, widths=(4, 4, 4, 4)).train()
    x = torch.rand(7, 1, 32, 32)
    z = embed(enc, x, batch_size=3)
    assert z.shape == (7, 8) and not z.requires_grad
    assert enc.training  # mode restored
    torch.testing.assert_close(z, enc.eval()(x).detach())
    assert embed(enc, x[0]).shape == (8,)
    assert embed(enc, x[:0]).shape == (0, 8)


def test_flip_averaging_matches_its_formula(device):
    torch.manual_seed(0)
    enc = FaceEncoder(embedding_dim=8, widths=(4, 4, 4, 4)).to(device).train()
    x = torch.rand(5, 1, 32, 32, device=device)
    z = embed(enc, x, batch_size=2, flip=True)
    assert enc.training and z.device.type == device.type  # mode restored
    enc.eval()
    with torch.no_grad():
        want = F.normalize(enc(x) + enc(torch.flip(x, dims=[3])), dim=1)
    torch.testing.assert_close(z, want)
    torch.testing.assert_close(z.norm(dim=1), torch.ones(5, device=device))
    torch.testing.assert_close(embed(enc, x.flip(-1), flip=True), z)  # mirror images agree
    assert embed(enc, x[0], flip=True).shape == (8,)


def test_flip_renormalises_an_unnormalised_encoder():
    enc = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3))
    x = torch.rand(4, 1, 4, 4)
    z = embed(enc, x, flip=True)
    with torch.no_grad():
        want = F.normalize(enc(x) + enc(x.flip(-1)), dim=1)
    torch.testing.assert_close(z, want)


def test_embed_rejects_bad_shapes():
    enc = FaceEncoder(embedding_dim=8, widths=(4, 4, 4, 4))
    with pytest.raises(ValueError, match="images must be"):
        embed(enc, torch.rand(32, 32), flip=True)
