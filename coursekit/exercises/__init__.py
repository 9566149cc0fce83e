"""Self-checks for the notebooks' exercises: ``check_<name>(student_function)`` runs cases
built to expose the classic mistakes and prints one line (or, with ``COURSEKIT_GRADING=1``,
raises ``AssertionError`` on a failure).

A new check is written with the machinery of :mod:`coursekit.exercises.framework`
(:class:`Case`, :class:`Mistake`, :func:`run_check`); student versions of the notebooks come
from :mod:`coursekit.exercises.student_version`.
"""

from coursekit.exercises.conv import (
    check_conv1d,
    check_conv_output_shape,
)
from coursekit.exercises.face import check_encoding_distance, check_verify, check_who_is_it
from coursekit.exercises.face_losses import check_chi2_features, check_triplet_loss
from coursekit.exercises.framework import (
    GRADING_ENV,
    NOT_IMPLEMENTED,
    Case,
    CheckResult,
    Mistake,
    floats,
    gen,
    grading_mode,
    rand,
    randn,
    run_check,
)
from coursekit.exercises.student_version import (
    StudentNotebook,
    exercise_names,
    nbgrader_metadata,
    read_notebook,
    strip_solutions,
    student_notebook,
    write_student_versions,
)
from coursekit.exercises.style import (
    check_content_cost,
    check_total_cost,
    check_vgg_preprocess,
)
from coursekit.exercises.style_cost import (
    check_gram_matrix,
    check_layer_style_cost,
    check_style_cost,
)
from coursekit.exercises.train_step import check_train_step
from coursekit.exercises.visualize import (
    check_receptive_field,
)

__all__ = [
    "check_conv1d",
    "check_conv_output_shape",
    "check_chi2_features",
    "check_encoding_distance",
    "check_triplet_loss",
    "check_verify",
    "check_who_is_it",
    "GRADING_ENV",
    "NOT_IMPLEMENTED",
    "Case",
    "CheckResult",
    "Mistake",
    "floats",
    "gen",
    "grading_mode",
    "rand",
    "randn",
    "run_check",
    "StudentNotebook",
    "exercise_names",
    "nbgrader_metadata",
    "read_notebook",
    "strip_solutions",
    "student_notebook",
    "write_student_versions",
    "check_content_cost",
    "check_gram_matrix",
    "check_layer_style_cost",
    "check_style_cost",
    "check_total_cost",
    "check_train_step",
    "check_vgg_preprocess",
    "check_receptive_field",
]
