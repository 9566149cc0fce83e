"""Where the pretrained dlib models live: the ``face_recognition_models`` package.

The package (PyPI ``face_recognition_models``, by Adam Geitgey) ships Davis King's trained dlib
models as data files. Only three are used here; its 68-point landmark model is never read (its
training data excludes commercial use). The package is located with
:func:`importlib.util.find_spec`, without importing it (its ``__init__`` needs
``pkg_resources``, which recent setuptools no longer has).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

__all__ = ["MODEL_FILES", "model_path"]

MODEL_FILES = {
    "encoder": "dlib_face_recognition_resnet_model_v1.dat",
    "detector": "mmod_human_face_detector.dat",
    "landmarks": "shape_predictor_5_face_landmarks.dat",
}


def model_path(model: str) -> Path:
    """The path of one of the pretrained model files.

    Args:
        model: ``"encoder"`` (the 128-d ResNet), ``"detector"`` (the MMOD CNN face detector) or
            ``"landmarks"`` (the 5-point shape predictor).

    Returns:
        The ``.dat`` file's path inside the installed ``face_recognition_models`` package.

    Raises:
        ValueError: ``model`` is not one of the three names.
        FileNotFoundError: the package is not installed, or lacks the file.

    Example:
        >>> model_path("encoder").name
        'dlib_face_recognition_resnet_model_v1.dat'
    """
    if model not in MODEL_FILES:
        raise ValueError(f"model must be one of {sorted(MODEL_FILES)}, got {model!r}")
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the pretrained face models need the 'face_recognition_models' package: "
            "pip install face_recognition_models")
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "models" / MODEL_FILES[model]
        if path.is_file():
            return path
    raise FileNotFoundError(f"{MODEL_FILES[model]} is missing from the installed face_recognition_models")
