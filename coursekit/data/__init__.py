"""Datasets for the course, each loaded through one resolution order.

See :mod:`coursekit.data.sources`: the ``COURSEKIT_DATA`` folder, then the download cache, then a
checksummed download (:mod:`coursekit.data.registry`, :mod:`coursekit.data.download`), then an
announced synthetic fallback.
"""

from coursekit.data.art import (
    ARTWORKS,
    artworks,
)
from coursekit.data.collection import (
    COLLECTION_IMAGES,
    PatchCollection,
    patch_collection,
)
from coursekit.data.convert import (
    CONVERSIONS,
    convert_mitdb,
    convert_nifti,
    convert_olivetti,
    convert_painting,
    convert_scipy_ecg,
    convert_tiff_stack,
    copy_file,
    read_nifti,
)
from coursekit.data.download import (
    ChecksumError,
    cache_dir,
    cached_course_file,
    course_file_state,
    download_upstream,
    file_sha256,
    materialize,
    mirror_url,
    upstream_path,
)
from coursekit.data.ecg import (
    ECGRecord,
    load_ecg_208,
    load_mitdb_100,
    synthetic_ecg,
)
from coursekit.data.face_folder import (
    FACE_IMAGE_SUFFIXES,
    load_face_folder,
)
from coursekit.data.faces import (
    FaceDataset,
    load_olivetti,
    split_identities,
)
from coursekit.data.photos import (
    PHOTOS,
    ImageSet,
    sample_photos,
    select_names,
    synthetic_photo,
)
from coursekit.data.procedural_art import (
    SWIRL_PALETTES,
    kandinsky_shapes,
    stained_glass,
    starry_swirls,
)
from coursekit.data.registry import (
    REGISTRY,
    CourseFile,
    Upstream,
    by_path,
    select,
)
from coursekit.data.sources import (
    SOURCES,
    announce,
    data_dir,
    local_file,
    offline,
    resolve,
)
from coursekit.data.synthetic_faces import (
    synthetic_faces,
)
from coursekit.data.volumes import (
    MedMNIST3D,
    Volume,
    head_phantom,
    load_adrenalmnist3d,
    load_ct_head,
    load_mni152,
    synthetic_adrenal,
)
from coursekit.data.wfdb import (
    WFDBHeader,
    decode_212,
    parse_header,
    read_annotations,
)

__all__ = [
    "ARTWORKS",
    "artworks",
    "COLLECTION_IMAGES",
    "PatchCollection",
    "patch_collection",
    "CONVERSIONS",
    "convert_mitdb",
    "convert_nifti",
    "convert_olivetti",
    "convert_painting",
    "convert_scipy_ecg",
    "convert_tiff_stack",
    "copy_file",
    "read_nifti",
    "ChecksumError",
    "cache_dir",
    "cached_course_file",
    "course_file_state",
    "download_upstream",
    "file_sha256",
    "materialize",
    "mirror_url",
    "upstream_path",
    "ECGRecord",
    "load_ecg_208",
    "load_mitdb_100",
    "synthetic_ecg",
    "FACE_IMAGE_SUFFIXES",
    "load_face_folder",
    "FaceDataset",
    "load_olivetti",
    "split_identities",
    "PHOTOS",
    "ImageSet",
    "sample_photos",
    "select_names",
    "synthetic_photo",
    "SWIRL_PALETTES",
    "kandinsky_shapes",
    "stained_glass",
    "starry_swirls",
    "REGISTRY",
    "CourseFile",
    "Upstream",
    "by_path",
    "select",
    "SOURCES",
    "announce",
    "data_dir",
    "local_file",
    "offline",
    "resolve",
    "synthetic_faces",
    "MedMNIST3D",
    "Volume",
    "head_phantom",
    "load_adrenalmnist3d",
    "load_ct_head",
    "load_mni152",
    "synthetic_adrenal",
    "WFDBHeader",
    "decode_212",
    "parse_header",
    "read_annotations",
]
