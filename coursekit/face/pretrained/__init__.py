"""Pretrained face models in pure PyTorch: dlib's trained networks and regression trees, read
from the ``face_recognition_models`` files without dlib (lessons 4.1-4.4, "try your own photo").

* :mod:`~coursekit.face.pretrained.dlib_format`: dlib's serialisation format;
* :mod:`~coursekit.face.pretrained.dlib_net`: dlib's deep-network files as a PyTorch module;
* :mod:`~coursekit.face.pretrained.encoder`: the 128-d ResNet face encoder;
* :mod:`~coursekit.face.pretrained.landmarks`: the 5-point landmark predictor (regression trees);
* :mod:`~coursekit.face.pretrained.alignment`: dlib's aligned 150 x 150 face chips;
* :mod:`~coursekit.face.pretrained.jitter`: dlib's ``num_jitters`` (randomly jittered chips);
* :mod:`~coursekit.face.pretrained.detector`: the MMOD CNN face detector;
* :mod:`~coursekit.face.pretrained.pipeline`: all of them on a photo;
* :mod:`~coursekit.face.pretrained.model_files`: where the model files are;
* :mod:`~coursekit.face.pretrained.model_cache`: the converted models, cached.

Shape letters: ``B`` batch, ``H``/``W`` image height and width, ``E`` encoding size (128).
"""

from coursekit.face.pretrained.alignment import (
    FIVE_POINT_TEMPLATE,
    extract_face_chips,
    face_chip_details,
    face_chips,
)
from coursekit.face.pretrained.detector import (
    FaceDetector,
    detector_spec,
    load_face_detector,
    tiled_pyramid_rects,
)
from coursekit.face.pretrained.dlib_format import (
    DlibFormatError,
    DlibReader,
    floats_from_integers,
)
from coursekit.face.pretrained.dlib_net import (
    DlibLayer,
    DlibNetwork,
    add_zero_padded,
    read_dlib_network,
)
from coursekit.face.pretrained.encoder import (
    PretrainedFaceEncoder,
    encoder_spec,
    load_pretrained_encoder,
)
from coursekit.face.pretrained.jitter import (
    JitterDetails,
    apply_jitter,
    jitter_details,
    jitter_face_chips,
    sample_jitter_details,
)
from coursekit.face.pretrained.landmarks import (
    ShapePredictor,
    load_shape_predictor,
    similarity_transform,
    to_uint8_image,
)
from coursekit.face.pretrained.model_cache import (
    cache_entry_path,
    cached_conversion,
)
from coursekit.face.pretrained.model_files import (
    MODEL_FILES,
    model_path,
)
from coursekit.face.pretrained.pipeline import (
    FoundFaces,
    PretrainedFacePipeline,
    load_pretrained_pipeline,
)

__all__ = [
    "FIVE_POINT_TEMPLATE",
    "extract_face_chips",
    "face_chip_details",
    "face_chips",
    "FaceDetector",
    "detector_spec",
    "load_face_detector",
    "tiled_pyramid_rects",
    "DlibFormatError",
    "DlibReader",
    "floats_from_integers",
    "DlibLayer",
    "DlibNetwork",
    "add_zero_padded",
    "read_dlib_network",
    "PretrainedFaceEncoder",
    "encoder_spec",
    "load_pretrained_encoder",
    "JitterDetails",
    "apply_jitter",
    "jitter_details",
    "jitter_face_chips",
    "sample_jitter_details",
    "ShapePredictor",
    "load_shape_predictor",
    "similarity_transform",
    "to_uint8_image",
    "cache_entry_path",
    "cached_conversion",
    "MODEL_FILES",
    "model_path",
    "FoundFaces",
    "PretrainedFacePipeline",
    "load_pretrained_pipeline",
]
