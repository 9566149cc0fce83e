"""embed: batches, mode and device; test-time flip and shift averaging against their formulas."""

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


def _shifted(x, dy, dx):
    """x moved by (dy, dx) pixels, edges repeated: pixel (i, j) of the result is x's
    (clamp(i - dy), clamp(j - dx)), written as an index loop."""
    H, W = x.shape[-2:]
    rows = [min(max(i - dy, 0), H - 1) for i in range(H)]
    cols = [min(max(j - dx, 0), W - 1) for j in range(W)]
    return x[..., rows, :][..., cols]


@pytest.mark.parametrize("flip", [False, True])
def test_shift_averaging_matches_a_loop_over_the_nine_offsets(flip):
    torch.manual_seed(0)
    enc = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(30, 4))  # position-sensitive
    x = torch.rand(3, 1, 5, 6)
    z = embed(enc, x, flip=flip, shift=2)
    views = [_shifted(x, dy, dx) for dy in (-2, 0, 2) for dx in (-2, 0, 2)]
    if flip:
        views += [v.flip(-1) for v in views]
    with torch.no_grad():
        want = F.normalize(sum(enc(v) for v in views), dim=1)
    torch.testing.assert_close(z, want)
    assert not torch.allclose(z, embed(enc, x, flip=flip))  # the shifts do change the result


def test_shift_zero_is_the_plain_encoding_and_bad_shifts_are_refused():
    enc = FaceEncoder(embedding_dim=8, widths=(4, 4, 4, 4))
    x = torch.rand(2, 1, 32, 32)
    torch.testing.assert_close(embed(enc, x, shift=0), embed(enc, x))
    for bad in (-1, 32, 1.5):
        with pytest.raises(ValueError, match="shift must be"):
            embed(enc, x, shift=bad)


def test_embed_rejects_bad_shapes():
    enc = FaceEncoder(embedding_dim=8, widths=(4, 4, 4, 4))
    with pytest.raises(ValueError, match="images must be"):
        embed(enc, torch.rand(32, 32), flip=True)
