"""Top activating patches against a brute-force sort of every activation."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from coursekit.style.vgg import vgg19_features
from coursekit.visualize.activations import layer_activations
from coursekit.visualize.patches import top_activating_patches, top_patches_by_layer
from coursekit.visualize.vgg_fields import vgg19_receptive_fields


def _net(inplace: bool = False) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(inplace=inplace),
                         nn.MaxPool2d(2), nn.Conv2d(6, 8, 3, stride=2, padding=1), nn.ReLU())


def _brute_force(acts: list[torch.Tensor], units, k):
    """acts: per image (C, h, w). Sort all (image, max) pairs per unit, keep the top k."""
    out = []
    for u in units:
        per_image = [(float(a[u].max()), i, divmod(int(a[u].flatten().argmax()), a.shape[-1]))
                     for i, a in enumerate(acts)]
        per_image.sort(key=lambda t: -t[0])
        out.append(per_image[:k])
    return out


@pytest.mark.parametrize("layer", ["2", "5"])
def test_topk_equals_brute_force(layer, device):
    net = _net().eval()
    images = torch.rand(23, 3, 20, 18, generator=torch.Generator().manual_seed(1))
    units, k = [0, 2, 5], 7
    top = top_activating_patches(net, layer, images, units, k, batch_size=5, device=device,
                                 progress=False)
    with torch.no_grad():
        acts = layer_activations(net.cpu(), images, [layer])[layer]
    expected = _brute_force(list(acts), units, k)
    field = top.field
    for u, rows in enumerate(expected):
        torch.testing.assert_close(top.values[u], torch.tensor([v for v, _, _ in rows]))
        assert top.image_indices[u].tolist() == [i for _, i, _ in rows]
        assert [tuple(p) for p in top.positions[u].tolist()] == [rc for _, _, rc in rows]
        for j, (_, i, (r, c)) in enumerate(rows):
            box = field.box(r, c, (20, 18))
            assert tuple(top.boxes[u, j].tolist()) == box
            torch.testing.assert_close(top.patches[u][j], images[i, :, box[0]:box[2], box[1]:box[3]])
    assert top.num_images == 23 and top.k == k and top.units == units
    sub = top.select([5, 0])
    assert sub.units == [5, 0] and torch.equal(sub.values, top.values[[2, 0]])
    assert sub.patches[0] is top.patches[2] and torch.equal(sub.boxes[1], top.boxes[0])
    with pytest.raises(ValueError, match="not analysed"):
        top.select([1])


def test_iterable_of_mixed_sizes_and_several_layers():
    net = _net().eval()
    g = torch.Generator().manual_seed(2)
    images = [torch.rand(3, 16, 16, generator=g) for _ in range(6)] + \
             [torch.rand(3, 24, 20, generator=g) for _ in range(5)]
    res = top_patches_by_layer(net, {"2": [1, 4], "5": [0, 7]}, iter(images), k=4, batch_size=4,
                               progress=False)
    for layer, units in (("2", [1, 4]), ("5", [0, 7])):
        with torch.no_grad():
            acts = [layer_activations(net, im[None], [layer])[layer][0] for im in images]
        expected = _brute_force(acts, units, 4)
        top = res[layer]
        for u, rows in enumerate(expected):
            assert top.image_indices[u].tolist() == [i for _, i, _ in rows]
            for j, (_, i, (r, c)) in enumerate(rows):
                box = top.field.box(r, c, tuple(images[i].shape[-2:]))
                assert tuple(top.boxes[u, j].tolist()) == box


def test_boxes_are_clipped_at_the_borders():
    net = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1, bias=False),
                        nn.Conv2d(1, 1, 3, padding=1, bias=False))
    with torch.no_grad():
        for conv in net:  # peaked kernel: a single bright pixel gives a unique maximum on it
            conv.weight.fill_(1.0)
            conv.weight[0, 0, 1, 1] = 2.0
    images = torch.zeros(3, 1, 12, 12)
    images[0, 0, 0, 0] = 1.0  # top-left corner: activation 7
    images[1, 0, 11, 11] = 2.0  # bottom-right corner: 14
    images[2, 0, 6, 6] = 0.5  # centre: 6
    top = top_activating_patches(net, "1", images, [0], k=3, progress=False)
    assert top.field.size == (5, 5)
    assert top.image_indices[0].tolist() == [1, 0, 2]
    torch.testing.assert_close(top.values[0], torch.tensor([14.0, 7.0, 6.0]))
    assert top.positions[0].tolist() == [[11, 11], [0, 0], [6, 6]]
    assert top.boxes[0].tolist() == [[9, 9, 12, 12], [0, 0, 3, 3], [4, 4, 9, 9]]
    assert [tuple(p.shape) for p in top.patches[0]] == [(1, 3, 3), (1, 3, 3), (1, 5, 5)]
    padded = top.padded(fill=-1.0)  # (U, k, C, 5, 5): the bright pixel is always at the centre
    assert padded.shape == (1, 3, 1, 5, 5)
    assert padded[0, :, 0, 2, 2].tolist() == [2.0, 1.0, 0.5]
    assert padded[0, 0, 0, 4, 4] == -1.0 and padded[0, 0, 0, 0, 0] == 0.0  # clipped below/right
    assert padded[0, 1, 0, 0, 0] == -1.0 and padded[0, 1, 0, 4, 4] == 0.0  # clipped above/left
    assert (padded[0, 2] >= 0).all()  # not clipped


def test_fit_cuts_a_field_larger_than_the_images():
    net = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.Conv2d(1, 1, 3, padding=1),
                        nn.Conv2d(1, 1, 3, padding=1))  # a 7x7 field
    images = torch.rand(5, 1, 4, 4) + 1.0  # every patch: a clipped part of a 4x4 image (all > 0)
    top = top_activating_patches(net, "2", images, [0], k=5, progress=False)
    assert top.field.size == (7, 7)
    full, fitted = top.padded(fill=-1.0), top.padded(fill=-1.0, fit=True)
    assert full.shape == (1, 5, 1, 7, 7) and fitted.shape == (1, 5, 1, 4, 4)
    for i, patch in enumerate(top.patches[0]):
        h, w = patch.shape[1:]
        # each patch appears unchanged on the cut canvas, the rest is fill
        assert (fitted[0, i] > 0).sum() == h * w == (full[0, i] > 0).sum()
        torch.testing.assert_close(fitted[0, i][fitted[0, i] > 0], full[0, i][full[0, i] > 0])
    # when the field fits in the images, fit changes nothing
    big = top_activating_patches(net, "2", torch.rand(5, 1, 16, 16), [0], k=5, progress=False)
    torch.testing.assert_close(big.padded(fit=True), big.padded())
    assert big.select([0]).image_sizes.tolist() == [[[16, 16]] * 5]


def test_vgg19_features_model():
    net = vgg19_features("random", device="cpu")
    images = torch.rand(7, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    res = top_patches_by_layer(net, {"relu1_1": [0, 5], "relu3_1": [10]}, images, k=3,
                               batch_size=3, progress=False)
    with torch.no_grad():
        acts = net(images, ["relu1_1", "relu3_1"])
    for layer, units in (("relu1_1", [0, 5]), ("relu3_1", [10])):
        expected = _brute_force(list(acts[layer]), units, 3)
        assert res[layer].field.size == vgg19_receptive_fields(32)[layer].size
        for u, rows in enumerate(expected):
            assert res[layer].image_indices[u].tolist() == [i for _, i, _ in rows]
            torch.testing.assert_close(res[layer].values[u], torch.tensor([v for v, _, _ in rows]))


def test_inplace_relu_does_not_corrupt_earlier_layers_and_mode_is_restored():
    net = _net(inplace=True).train()
    images = torch.randn(5, 3, 8, 8, generator=torch.Generator().manual_seed(4))
    top = top_activating_patches(net, "1", images, [0, 1], k=5, progress=False)
    assert net.training  # restored
    with torch.no_grad():
        bn = net[1].eval()(net[0](images))  # BatchNorm output, negative values included
    expected = bn[:, [0, 1]].flatten(2).amax(2).T.sort(dim=1, descending=True).values
    torch.testing.assert_close(top.values, expected)


def test_fewer_images_than_k_and_errors():
    net = _net().eval()
    top = top_activating_patches(net, "5", torch.rand(3, 3, 8, 8), [0], k=9, progress=False)
    assert top.values.shape == (1, 3)
    with pytest.raises(ValueError, match="has 8 units"):
        top_activating_patches(net, "5", torch.rand(3, 3, 8, 8), [8], progress=False)
    with pytest.raises(ValueError, match="unknown layer"):
        top_activating_patches(net, "relu1_1", torch.rand(3, 3, 8, 8), [0], progress=False)
    with pytest.raises(ValueError, match="no images"):
        top_activating_patches(net, "5", iter([]), [0], progress=False)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        top_activating_patches(net, "5", torch.rand(3, 8, 8), [0], progress=False)
    with pytest.raises(ValueError, match="fields="):
        top_activating_patches(lambda x, layers: {}, "a", torch.rand(1, 3, 8, 8), [0],
                               progress=False)


def test_at_most_one_patch_per_source():
    """Crops of one photograph share a source: a unit keeps at most one of them, the best."""
    from coursekit.visualize import top_patches_by_layer

    g = torch.Generator().manual_seed(0)
    images = torch.rand(12, 3, 10, 10, generator=g)
    photo = [i // 4 for i in range(12)]  # three photographs, four crops each
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 3), torch.nn.ReLU())
    plain = top_patches_by_layer(net, {"1": [0, 1]}, images, 5, batch_size=5, progress=False)["1"]
    top = top_patches_by_layer(net, {"1": [0, 1]}, images, 5, batch_size=5, sources=photo,
                               progress=False)["1"]
    assert tuple(top.values.shape) == (2, 3)  # only three sources
    for u in range(2):
        kept = [photo[i] for i in top.image_indices[u].tolist()]
        assert sorted(kept) == [0, 1, 2]
        assert bool((top.values[u, :-1] >= top.values[u, 1:]).all())
        assert top.values[u, 0] == plain.values[u, 0]  # the best image overall is kept
    with pytest.raises(ValueError, match="sources has 3 ids"):
        top_patches_by_layer(net, {"1": [0]}, images, 2, sources=[0, 1, 2], progress=False)
    with pytest.raises(ValueError, match="sources has 13 ids"):
        top_patches_by_layer(net, {"1": [0]}, images, 2, sources=list(range(13)), progress=False)


def test_module_outputs_probes_through_the_forward():
    """ModuleOutputs sees what the network's own forward feeds its layers (here: a resize)."""
    from torch import nn

    from coursekit.visualize import ModuleOutputs, layer_activations

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(inplace=True),
                                          nn.MaxPool2d(2))
            self.head = nn.Linear(2, 1)

        def forward(self, x):
            x = torch.nn.functional.interpolate(x, size=(8, 8), mode="area")
            return self.head(self.features(x).mean((2, 3)))

    net, x = Net(), torch.rand(2, 1, 16, 16)
    out = layer_activations(ModuleOutputs(net), x, ["features.1", "features.2"])
    small = torch.nn.functional.interpolate(x, size=(8, 8), mode="area")
    torch.testing.assert_close(out["features.1"], net.features[:2](small))
    assert tuple(out["features.2"].shape) == (2, 2, 4, 4)
    with pytest.raises(ValueError, match="unknown submodule"):
        ModuleOutputs(net)(x, ["nope"])
