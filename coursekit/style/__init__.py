"""Neural style transfer, lessons 4.6 and 4.8-4.10 (Gatys et al., 2015): VGG19 features on
real ImageNet weights, content/style/total costs, and the transfer loop.

Modules: ``weights`` (VGG19's layout and pretrained weights), ``vgg`` (the feature extractor),
``costs`` (content, Gram, style, total variation), ``config`` (:class:`TransferConfig`),
``objective`` (:class:`TransferObjective`, the cost J(G) at one size), ``transfer`` (the
optimisation loop), ``lbfgs`` and ``graphed`` (L-BFGS without host round trips, recorded in a
CUDA graph on a GPU) and ``color`` (colour preservation).
"""

from coursekit.style.color import (
    match_luminance,
    rgb_to_yiq,
    yiq_to_rgb,
)
from coursekit.style.config import DEFAULT_STYLE_LAYERS, TransferConfig
from coursekit.style.costs import (
    GramTarget,
    content_cost,
    gram_matrix,
    gram_target,
    layer_style_cost,
    style_cost,
    total_cost,
    total_variation,
)
from coursekit.style.graphed import StepsReport, lbfgs_steps
from coursekit.style.lbfgs import CompactLBFGS
from coursekit.style.objective import TransferObjective
from coursekit.style.transfer import TransferResult, style_transfer
from coursekit.style.vgg import (
    VGG19Features,
    normalize_vgg19_weights,
    vgg19_features,
    vgg_min_size,
    vgg_preprocess,
)
from coursekit.style.weights import (
    IMAGENET_MEAN_RGB,
    IMAGENET_STD_RGB,
    VGG19_CONV_SHAPES,
    VGG19_LAYERS,
    VGG_MEAN_BGR,
    load_vgg19_weights,
)

__all__ = [
    "match_luminance",
    "rgb_to_yiq",
    "yiq_to_rgb",
    "GramTarget",
    "content_cost",
    "gram_matrix",
    "gram_target",
    "layer_style_cost",
    "style_cost",
    "total_cost",
    "total_variation",
    "DEFAULT_STYLE_LAYERS",
    "TransferConfig",
    "TransferObjective",
    "TransferResult",
    "style_transfer",
    "CompactLBFGS",
    "lbfgs_steps",
    "StepsReport",
    "IMAGENET_MEAN_RGB",
    "IMAGENET_STD_RGB",
    "VGG19Features",
    "VGG19_CONV_SHAPES",
    "VGG19_LAYERS",
    "VGG_MEAN_BGR",
    "load_vgg19_weights",
    "normalize_vgg19_weights",
    "vgg19_features",
    "vgg_min_size",
    "vgg_preprocess",
]
