"""Face recognition, lessons 4.1-4.5: distances, triplet loss and miners, the encoder and its
training, verification, the face database, evaluation and detection.
"""

from coursekit.face.database import (
    FaceDatabase,
)
from coursekit.face.detect import (
    FaceBox,
    crop_face,
    detect_faces,
    prepare_face,
)
from coursekit.face.distances import (
    pairwise_distances,
)
from coursekit.face.encoder import (
    FaceEncoder,
    load_encoder,
    save_encoder,
)
from coursekit.face.evaluation import (
    all_pairs,
    best_threshold_kfold,
    equal_error_rate,
    identification_accuracy_vs_gallery,
    one_shot_accuracy,
    pair_distances,
    roc_auc,
    roc_curve_pairs,
    tar_at_far,
    threshold_at_far,
)
from coursekit.face.miners import (
    MINING_STRATEGIES,
    mine_triplets,
)
from coursekit.face.train import (
    PKSampler,
    TrainConfig,
    augment_faces,
    embed,
    train_encoder,
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
    "FaceDatabase",
    "FaceBox",
    "crop_face",
    "detect_faces",
    "prepare_face",
    "pairwise_distances",
    "FaceEncoder",
    "load_encoder",
    "save_encoder",
    "all_pairs",
    "best_threshold_kfold",
    "equal_error_rate",
    "identification_accuracy_vs_gallery",
    "one_shot_accuracy",
    "pair_distances",
    "roc_auc",
    "roc_curve_pairs",
    "tar_at_far",
    "threshold_at_far",
    "MINING_STRATEGIES",
    "mine_triplets",
    "PKSampler",
    "TrainConfig",
    "augment_faces",
    "embed",
    "train_encoder",
    "batch_hard_triplet_loss",
    "triplet_loss",
    "VerificationHead",
    "abs_features",
    "chi2_features",
    "make_pairs",
    "train_verification_head",
]
