"""What deep ConvNets learn, lesson 4.7 (Zeiler & Fergus, 2013): receptive fields, top
activating patches, activation maximisation and their plots.
"""

from coursekit.visualize.activations import (
    ModuleOutputs,
    eval_mode,
    layer_activations,
    layer_fields,
    place_model,
)
from coursekit.visualize.maximize import (
    activation_maximization,
    fourier_image,
)
from coursekit.visualize.patches import (
    top_activating_patches,
    top_patches_by_layer,
)
from coursekit.visualize.plots import (
    GREY_CANVAS,
    first_layer_filters,
    image_grid,
    plot_filters,
    plot_top_patches,
)
from coursekit.visualize.receptive_fields import (
    LayerField,
    LayerSpec,
    layer_specs,
    named_layers,
    receptive_fields,
)
from coursekit.visualize.top_patches import TopPatches
from coursekit.visualize.vgg_fields import vgg19_layer_specs, vgg19_receptive_fields

__all__ = [
    "ModuleOutputs",
    "eval_mode",
    "layer_activations",
    "layer_fields",
    "place_model",
    "activation_maximization",
    "fourier_image",
    "TopPatches",
    "top_activating_patches",
    "top_patches_by_layer",
    "GREY_CANVAS",
    "first_layer_filters",
    "image_grid",
    "plot_filters",
    "plot_top_patches",
    "LayerField",
    "LayerSpec",
    "layer_specs",
    "named_layers",
    "receptive_fields",
    "vgg19_layer_specs",
    "vgg19_receptive_fields",
]
