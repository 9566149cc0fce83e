"""Reading a hand-written dlib network (every layer type) and running it in PyTorch."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from coursekit.face.pretrained.dlib_format import DlibFormatError
from coursekit.face.pretrained.dlib_net import DlibNetwork, add_zero_padded, read_dlib_network

FLAGS = b"100"  # setup called, gradient stale, output disabled


def _empty(b):
    return b.tensor([], (0, 0, 0, 0))


def _con(b, w, bias, stride, pad):
    f, k, nr, nc = w.shape
    return (b.string("con_6") + b.tensor(torch.cat([w.flatten(), bias]).tolist())
            + b.int(f) + b.int(nr) + b.int(nc) + b.int(stride) + b.int(stride) + b.int(pad) + b.int(pad)
            + b.alias((f, k, nr, nc)) + b.alias((1, f, 1, 1)) + b.floats([1, 1, 1, 0])
            + b.bool(True) + b.bool(False))


def _affine(b, gamma, beta):
    k = len(gamma)
    return (b.string("affine_2") + b.tensor(torch.cat([gamma, beta]).tolist())
            + b.alias((1, k, 1, 1)) + b.alias((1, k, 1, 1)) + b.int(0) + b.bool(False))


def _bn(b, gamma, beta, mean, var, eps):
    k = len(gamma)
    return (b.string("bn_con2") + b.tensor(torch.cat([gamma, beta]).tolist())
            + b.alias((1, k, 1, 1)) + b.alias((1, k, 1, 1)) + _empty(b) + _empty(b)
            + b.tensor(mean.tolist()) + b.tensor(var.tolist()) + b.int(100) + b.int(100)
            + b.floats([1, 1, 1, 0]) + b.float(eps))


def _pool(b, tag, n, stride):
    return b.string(tag) + b.int(n) + b.int(n) + b.int(stride) + b.int(stride) + b.int(0) + b.int(0)


def _fc(b, w):  # w: (num_inputs, num_outputs), no bias
    n_in, n_out = w.shape
    return (b.string("fc_3") + b.int(n_out) + b.int(n_in) + b.tensor(w.flatten().tolist())
            + b.alias((n_in, n_out, 1, 1)) + b.alias((1, n_out, 1, 1)) + b.int(1)
            + b.floats([1, 1, 1, 0]) + b.bool(False))


def _network(b, chain, loss, input_layer):
    """dlib's nesting: loss, versions outside-in, input, details inside-out."""
    out = b.int(1) + loss
    for token, _ in chain[:-1]:
        out += b.int(1 if token.startswith(("tag", "skip")) else 2)
    out += b.int(3) + input_layer + chain[-1][1] + FLAGS + _empty(b) * 3 + b.int(1)
    for token, details in reversed(chain[:-1]):
        if not token.startswith(("tag", "skip")):
            out += details + FLAGS + _empty(b) * 3
    return out


@pytest.fixture
def tiny(dlib_bytes):
    """A net with every layer type, its spec, its weights and a reference forward."""
    b = dlib_bytes
    g = torch.Generator().manual_seed(0)
    w1, b1 = torch.randn(4, 3, 3, 3, generator=g), torch.randn(4, generator=g)
    g1, be1 = torch.rand(4, generator=g) + 0.5, torch.randn(4, generator=g)
    gb, bb = torch.rand(4, generator=g) + 0.5, torch.randn(4, generator=g)
    mb, vb = torch.randn(4, generator=g), torch.rand(4, generator=g) + 0.1
    w2, b2 = torch.randn(6, 4, 3, 3, generator=g), torch.randn(6, generator=g)
    wf = torch.randn(6, 5, generator=g)
    chain = [
        ("fc", _fc(b, wf)),
        ("avg_pool", _pool(b, "avg_pool_2", 0, 1)),
        ("relu", b.string("relu_2") + b.bool(False)),
        ("add_prev2", b.string("add_prev_")),
        ("avg_pool", _pool(b, "avg_pool_2", 2, 2)),
        ("skip1", None),
        ("tag2", None),
        ("con", _con(b, w2, b2, 2, 0)),
        ("tag1", None),
        ("relu", b.string("relu_") + b""),
        ("affine", _bn(b, gb, bb, mb, vb, 1e-5)),
        ("max_pool", _pool(b, "max_pool_2", 3, 2)),
        ("affine", _affine(b, g1, be1)),
        ("con", _con(b, w1, b1, 1, 1)),
    ]
    loss = b.string("loss_metric_2") + b.float(0.04) + b.float(0.6)
    mean = (122.782, 117.001, 104.298)
    input_layer = b.string("input_rgb_image_sized") + b.floats(mean) + b.int(19) + b.int(19)
    data = _network(b, chain, loss, input_layer)
    spec = ["loss_metric"] + [t for t, _ in chain]

    def reference(x):
        x = F.conv2d(x, w1, b1, padding=1) * g1.reshape(1, -1, 1, 1) + be1.reshape(1, -1, 1, 1)
        x = F.max_pool2d(x, 3, 2)
        scale = gb / torch.sqrt(vb + 1e-5)
        x = F.relu(x * scale.reshape(1, -1, 1, 1) + (bb - scale * mb).reshape(1, -1, 1, 1))
        branch = F.conv2d(x, w2, b2, stride=2)  # (B, 6, 4, 4) from 9x9
        short = F.avg_pool2d(x, 2, 2)  # (B, 4, 4, 4)
        x = F.relu(branch + F.pad(short, (0, 0, 0, 0, 0, 2)))
        return x.mean(dim=(2, 3)) @ wf

    return data, spec, reference


def test_every_layer_type(tiny):
    data, spec, reference = tiny
    layers = read_dlib_network(data, spec)
    assert [x.kind for x in layers] == ["input_rgb_image_sized", "con", "affine", "max_pool", "affine",
                                        "relu", "tag", "con", "tag", "skip", "avg_pool", "add_prev",
                                        "relu", "avg_pool", "fc", "loss_metric"]
    assert layers[0].params["size"] == (19, 19)
    assert layers[-1].params["distance_threshold"] == pytest.approx(0.6)
    x = torch.randn(2, 3, 19, 19, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(DlibNetwork(layers)(x), reference(x), rtol=1e-4, atol=1e-4)


def test_network_follows_the_input_device(tiny, device):
    data, spec, reference = tiny
    net = DlibNetwork(read_dlib_network(data, spec)).to(device)
    x = torch.randn(1, 3, 19, 19)
    out = net(x.to(device))
    assert out.device.type == device.type
    torch.testing.assert_close(out.cpu(), reference(x), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("cut", [1, 10, 200, 600])
def test_truncated_network(tiny, cut):
    data, spec, _ = tiny
    with pytest.raises(DlibFormatError):
        read_dlib_network(data[:-cut], spec)


def test_trailing_bytes(tiny):
    data, spec, _ = tiny
    with pytest.raises(DlibFormatError, match="unexpected bytes"):
        read_dlib_network(data + b"\x00", spec)


@pytest.mark.parametrize("data", [b"", b"\x89PNG\r\n\x1a\n", b"PK\x03\x04", b"\x01\x01\x01\x05hello"])
def test_foreign_files(data):
    with pytest.raises(DlibFormatError):
        read_dlib_network(data, ["loss_metric", "fc"])


def test_another_network_is_named(tiny):
    data, spec, _ = tiny
    wrong = spec.copy()
    wrong[-1] = "fc"
    with pytest.raises(DlibFormatError, match="fc layer"):
        read_dlib_network(data, wrong)
    with pytest.raises(DlibFormatError, match="loss_metric network, expected loss_mmod"):
        read_dlib_network(data, ["loss_mmod", *spec[1:]])


def test_bad_spec():
    with pytest.raises(ValueError, match="loss"):
        read_dlib_network(b"", ["fc"])
    with pytest.raises(ValueError, match="unknown layer"):
        read_dlib_network(b"", ["loss_metric", "conv2d"])


def test_add_zero_padded():
    a, b = torch.ones(1, 2, 3, 3), torch.ones(1, 3, 2, 3)
    out = add_zero_padded(a, b)
    assert out.shape == (1, 3, 3, 3)
    assert out[0, 0].sum() == 2 * 6 + 3 and out[0, 2].sum() == 6
