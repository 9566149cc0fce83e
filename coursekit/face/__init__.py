"""Face recognition, lessons 4.1-4.5: distances, triplet loss and miners, margin softmax losses,
the encoder, its sampler, augmentation and training, encoding, verification, the face database,
evaluation, identification and detection.
"""

from coursekit.face.augment import (
    augment_faces,
)
from coursekit.face.database import (
    FaceDatabase,
)
from coursekit.face.database_file import (
    read_database,
    write_database,
)
from coursekit.face.detect import (
    FaceBox,
    crop_face,
    detect_faces,
    prepare_face,
)
from coursekit.face.distances import (
    check_labels,
    label_masks,
    pairwise_distances,
)
from coursekit.face.embedding import (
    embed,
)
from coursekit.face.encoder import (
    FaceEncoder,
    load_encoder,
    save_encoder,
)
from coursekit.face.evaluation import (
    all_pairs,
    best_threshold_kfold,
    bootstrap_roc_auc,
    equal_error_rate,
    pair_distances,
    roc_auc,
    roc_curve_pairs,
    tar_at_far,
    threshold_at_far,
)
from coursekit.face.identification import (
    identification_accuracy_vs_gallery,
    one_shot_accuracy,
    predicted_identification_accuracy,
)
from coursekit.face.margin_softmax import (
    MARGIN_LOSSES,
    MarginSoftmaxLoss,
    cosine_logits,
    margin_softmax_loss,
)
from coursekit.face.miners import (
    MINING_STRATEGIES,
    mine_triplets,
)
from coursekit.face.pretrained import (
    FIVE_POINT_TEMPLATE,
    MODEL_FILES,
    DlibFormatError,
    DlibLayer,
    DlibNetwork,
    DlibReader,
    FaceDetector,
    FoundFaces,
    JitterDetails,
    PretrainedFaceEncoder,
    PretrainedFacePipeline,
    ShapePredictor,
    add_zero_padded,
    apply_jitter,
    cache_entry_path,
    cached_conversion,
    detector_spec,
    encoder_spec,
    extract_face_chips,
    face_chip_details,
    face_chips,
    floats_from_integers,
    jitter_details,
    jitter_face_chips,
    load_face_detector,
    load_pretrained_encoder,
    load_pretrained_pipeline,
    load_shape_predictor,
    model_path,
    read_dlib_network,
    sample_jitter_details,
    similarity_transform,
    tiled_pyramid_rects,
    to_uint8_image,
)
from coursekit.face.sampler import (
    PKSampler,
)
from coursekit.face.score_norm import (
    s_norm,
)
from coursekit.face.train import (
    train_encoder,
    train_step,
)
from coursekit.face.train_config import (
    TrainConfig,
)
from coursekit.face.triplet import (
    batch_hard_triplet_loss,
    triplet_loss,
)
from coursekit.face.verification import (
    VerificationHead,
    abs_features,
    chi2_features,
    make_pairs,
    train_verification_head,
)

__all__ = [
    "augment_faces",
    "FaceDatabase",
    "read_database",
    "write_database",
    "FaceBox",
    "crop_face",
    "detect_faces",
    "prepare_face",
    "check_labels",
    "label_masks",
    "pairwise_distances",
    "embed",
    "FaceEncoder",
    "load_encoder",
    "save_encoder",
    "all_pairs",
    "best_threshold_kfold",
    "bootstrap_roc_auc",
    "equal_error_rate",
    "pair_distances",
    "roc_auc",
    "roc_curve_pairs",
    "tar_at_far",
    "threshold_at_far",
    "identification_accuracy_vs_gallery",
    "one_shot_accuracy",
    "predicted_identification_accuracy",
    "MARGIN_LOSSES",
    "MarginSoftmaxLoss",
    "cosine_logits",
    "margin_softmax_loss",
    "MINING_STRATEGIES",
    "mine_triplets",
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
    "PKSampler",
    "s_norm",
    "TrainConfig",
    "train_encoder",
    "train_step",
    "batch_hard_triplet_loss",
    "triplet_loss",
    "VerificationHead",
    "abs_features",
    "chi2_features",
    "make_pairs",
    "train_verification_head",
]
