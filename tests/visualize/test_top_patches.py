"""TopPatches on a hand-built result: select, padded (clipped patches in place), fit, errors."""

from __future__ import annotations

import pytest
import torch

from coursekit.visualize import LayerField, TopPatches


def _result(image_sizes=True):
    # one layer with a 4x4 field, jump 2, start -1 (the field reaches one pixel into the padding)
    field = LayerField("c", "conv", size=(4, 4), jump=(2, 2), start=(-1, -1), output_size=(3, 3))
    positions = torch.tensor([[[0, 0], [1, 1]], [[2, 2], [0, 1]]])  # (U=2, k=2, 2)
    boxes = torch.tensor([[[0, 0, 3, 3], [1, 1, 5, 5]],            # unit 0: clipped, whole
                          [[3, 3, 6, 6], [0, 1, 3, 5]]])            # unit 1: clipped, clipped
    patches = [[torch.full((1, b[2] - b[0], b[3] - b[1]), float(10 * u + i + 1))
                for i, b in enumerate(row.tolist())] for u, row in enumerate(boxes)]
    return TopPatches("c", [5, 7], torch.tensor([[3.0, 2.0], [9.0, 1.0]]),
                      torch.tensor([[0, 1], [2, 3]]), positions, boxes, patches, field, 4,
                      torch.full((2, 2, 2), 6) if image_sizes else None)


def test_padded_puts_each_clipped_patch_where_it_was_in_the_field():
    out = _result().padded(fill=-1.0)  # (U, k, C, 4, 4)
    assert out.shape == (2, 2, 1, 4, 4)
    want = torch.full((4, 4), -1.0)
    want[1:, 1:] = 1.0  # field rows -1..2: the image starts one pixel in
    torch.testing.assert_close(out[0, 0, 0], want)
    torch.testing.assert_close(out[0, 1, 0], torch.full((4, 4), 2.0))  # a whole patch
    want = torch.full((4, 4), -1.0)
    want[:3, :3] = 11.0  # field rows 3..6 of a 6-pixel image: the last row is outside
    torch.testing.assert_close(out[1, 0, 0], want)


def test_select_keeps_the_order_asked_and_refuses_unknown_units():
    res = _result()
    sub = res.select([7, 5])
    assert sub.units == [7, 5] and sub.k == 2
    torch.testing.assert_close(sub.values, res.values.flip(0))
    torch.testing.assert_close(sub.image_sizes, res.image_sizes)
    with pytest.raises(ValueError, match=r"unit\(s\) \[3\] not analysed"):
        res.select([3])


def test_fit_keeps_the_field_when_some_patch_is_inside_its_image():
    assert tuple(_result().padded(fit=True).shape) == (2, 2, 1, 4, 4)  # 6-px images, 4-px field
    with pytest.raises(ValueError, match="image sizes"):
        _result(image_sizes=False).padded(fit=True)
