"""1-D and 3-D convolutions, lesson 4.11: output shapes, a from-scratch ``convnd`` and small
1-D/3-D ConvNets.
"""

from coursekit.conv.classify import (
    predict_proba,
    train_volume_classifier,
)
from coursekit.conv.convnd import (
    ConvNd,
    convnd,
)
from coursekit.conv.models import (
    ECGPeakNet,
    VolumeNet,
    conv_layer,
)
from coursekit.conv.naive import (
    convnd_naive,
)
from coursekit.conv.peaks import (
    detect_r_peaks,
    normalize_ecg,
    peak_detection_scores,
    r_peak_targets,
    train_peak_detector,
)
from coursekit.conv.shapes import (
    IntOrTuple,
    as_tuple,
    check_conv_args,
    conv_output_shape,
)

__all__ = [
    "predict_proba",
    "train_volume_classifier",
    "ConvNd",
    "convnd",
    "ECGPeakNet",
    "VolumeNet",
    "conv_layer",
    "convnd_naive",
    "detect_r_peaks",
    "normalize_ecg",
    "peak_detection_scores",
    "r_peak_targets",
    "train_peak_detector",
    "IntOrTuple",
    "as_tuple",
    "check_conv_args",
    "conv_output_shape",
]
