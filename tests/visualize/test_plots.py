"""Plot helpers return Figures and draw what they are given."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
import torch
from matplotlib.figure import Figure
from torch import nn

from coursekit.style.vgg import vgg19_features
from coursekit.visualize.patches import top_activating_patches
from coursekit.visualize.plots import (
    GREY_CANVAS,
    first_layer_filters,
    image_grid,
    plot_filters,
    plot_top_patches,
)


def test_plot_top_patches_rgb_and_grey():
    net = nn.Sequential(nn.Conv2d(3, 5, 3), nn.ReLU(), nn.MaxPool2d(2))
    top = top_activating_patches(net, "2", torch.rand(12, 3, 16, 16), [0, 1, 4], progress=False)
    fig = plot_top_patches(top)
    assert isinstance(fig, Figure) and len(fig.axes[0].child_axes) == 3
    assert "receptive field 4x4" in fig.axes[0].get_title()
    grey = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU())
    top = top_activating_patches(grey, "1", torch.rand(9, 1, 10, 10), [1], k=4, progress=False)
    fig, ax = plt.subplots()
    assert plot_top_patches(top, ax=ax, title="grey") is fig
    assert ax.get_title() == "grey"


def test_plot_filters_and_first_layer():
    net = vgg19_features("random", device="cpu")
    w = first_layer_filters(net)
    assert w.shape == (64, 3, 3, 3)
    torch.testing.assert_close(w, net.convs["conv1_1"].weight.flip(1))  # BGR -> RGB
    fig = plot_filters(w, title="conv1_1")
    assert isinstance(fig, Figure)
    grey = first_layer_filters(nn.Sequential(nn.Conv2d(1, 6, 5)))
    fig, ax = plt.subplots()
    assert plot_filters(grey, ncols=3, ax=ax) is fig
    with pytest.raises(ValueError, match="filters"):
        plot_filters(torch.zeros(4, 2, 3, 3))
    with pytest.raises(ValueError, match="Conv2d"):
        first_layer_filters(nn.Sequential(nn.ReLU()))


def test_image_grid_places_tiles():
    tiles = torch.arange(4.0).view(4, 1, 1, 1).expand(4, 1, 2, 2)
    grid = image_grid(tiles, 2, pad=1, fill=-1.0)
    assert grid.shape == (1, 5, 5)
    assert grid[0, 0, 0] == 0 and grid[0, 0, 3] == 1 and grid[0, 3, 0] == 2 and grid[0, 4, 4] == 3
    assert grid[0, 2, 2] == -1


def test_plot_top_patches_canvas_colour_fit_and_single_unit():
    grey = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.Conv2d(2, 2, 3, padding=1),
                         nn.Conv2d(2, 2, 3, padding=1))  # 7x7 field on 4x4 images
    top = top_activating_patches(grey, "2", torch.rand(6, 1, 4, 4), [0, 1], k=4, progress=False)
    fig = plot_top_patches(top)
    shown = fig.axes[0].child_axes[0].get_images()[0].get_array()
    assert shown.shape[:2] == (9, 9) and shown.shape[2] == 3  # cut to 4x4 tiles, painted RGB
    assert "canvas cut to 4x4" in fig.axes[0].get_title()
    fig = plot_top_patches(top, fit=False)
    shown = fig.axes[0].child_axes[0].get_images()[0].get_array()
    assert shown.shape[:2] == (15, 15)  # 2 x 2 tiles of 7 px, 1 px apart
    assert any(tuple(px) == pytest.approx(GREY_CANVAS) for px in shown.reshape(-1, 3).tolist())
    assert "canvas cut" not in fig.axes[0].get_title()
    one = top.select([1])
    fig, ax = plt.subplots()
    assert plot_top_patches(one, ax=ax, fill=0.2) is fig
    assert not ax.child_axes and ax.get_title().startswith("2 unit 1: top 4")  # drawn in ax itself
    assert ax.get_images()[0].get_array().ndim == 2  # a grey level keeps the grey colormap
    plt.close("all")
