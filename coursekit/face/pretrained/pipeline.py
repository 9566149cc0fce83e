"""The whole pretrained pipeline on a photo: detect, place landmarks, align, encode (lesson 4.1's
"face verification" pipeline with dlib's trained models, as ``face_recognition`` runs them).

:class:`PretrainedFacePipeline` holds the three models and runs them on one image:

* :meth:`~PretrainedFacePipeline.find_faces`: the CNN detector's boxes and scores;
* :meth:`~PretrainedFacePipeline.align`: 5-point landmarks in given boxes, then the aligned
  ``150 x 150`` chips;
* :meth:`~PretrainedFacePipeline.encode_faces`: all of it, one 128-d encoding per face found;
* :meth:`~PretrainedFacePipeline.encode_cropped`: photos that already show just one face (such
  as Olivetti's): the whole frame is the face box, no detector.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from coursekit.face.pretrained.alignment import face_chips
from coursekit.face.pretrained.detector import FaceDetector, load_face_detector
from coursekit.face.pretrained.encoder import PretrainedFaceEncoder, load_pretrained_encoder
from coursekit.face.pretrained.landmarks import ShapePredictor, load_shape_predictor, to_uint8_image

__all__ = ["FoundFaces", "PretrainedFacePipeline", "load_pretrained_pipeline"]


class FoundFaces(NamedTuple):
    """Faces found in one photo, best detection first (``N`` faces).

    Attributes:
        boxes: ``(N, 4)`` ``(left, top, right, bottom)`` pixel boxes (inclusive).
        scores: ``(N,)`` detector scores (above 0; higher is surer).
        landmarks: ``(N, 5, 2)`` eye corners and nose ``(x, y)``.
        chips: ``(N, 3, 150, 150)`` ``uint8`` aligned faces.
        encodings: ``(N, 128)`` encodings.
    """

    boxes: torch.Tensor
    scores: torch.Tensor
    landmarks: torch.Tensor
    chips: torch.Tensor
    encodings: torch.Tensor


class PretrainedFacePipeline(nn.Module):
    """dlib's detector, landmark predictor and encoder, run together on photos.

    Args:
        encoder: from :func:`~coursekit.face.pretrained.encoder.load_pretrained_encoder`.
        predictor: from :func:`~coursekit.face.pretrained.landmarks.load_shape_predictor`.
        detector: from :func:`~coursekit.face.pretrained.detector.load_face_detector`
            (``None``: only :meth:`encode_cropped` and :meth:`align` with given boxes work).

    Example:
        >>> from skimage import data
        >>> pipe = load_pretrained_pipeline()
        >>> photo = torch.from_numpy(data.astronaut()).permute(2, 0, 1)
        >>> faces = pipe.encode_faces(photo)
        >>> faces.boxes.tolist(), tuple(faces.encodings.shape)
        ([[168.0, 69.0, 263.0, 164.0]], (1, 128))
        >>> mirrored = pipe.encode_faces(photo.flip(-1)).encodings
        >>> bool((faces.encodings[0] - mirrored[0]).norm() < pipe.distance_threshold)  # same person
        True
    """

    def __init__(self, encoder: PretrainedFaceEncoder, predictor: ShapePredictor,
                 detector: FaceDetector | None = None) -> None:
        super().__init__()
        self.encoder, self.predictor, self.detector = encoder, predictor, detector

    @property
    def distance_threshold(self) -> float:
        """Encodings of one person are closer than this (0.6, from the encoder's file)."""
        return self.encoder.distance_threshold

    def find_faces(self, image: torch.Tensor, *, upsample: int = 0,
                   threshold: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
        """The detector's ``(boxes (N, 4), scores (N,))`` for a ``(3, H, W)`` image."""
        if self.detector is None:
            raise ValueError("this pipeline was built without a detector")
        return self.detector(image, upsample=upsample, threshold=threshold)

    def align(self, image: torch.Tensor, boxes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(landmarks (N, 5, 2), chips (N, 3, 150, 150))`` for faces in the given boxes."""
        rgb = to_uint8_image(image)
        boxes = torch.as_tensor(boxes).reshape(-1, 4)
        if len(boxes) == 0:
            dev = rgb.device
            empty = torch.zeros(0, 3, 150, 150, dtype=torch.uint8, device=dev)
            return torch.zeros(0, 5, 2, device=dev), empty
        points = self.predictor(rgb, boxes)
        return points, face_chips(rgb, points)

    def encode_faces(self, image: torch.Tensor, *, upsample: int = 0, threshold: float = 0.0,
                     num_jitters: int = 1, generator: torch.Generator | None = None) -> FoundFaces:
        """Detect, align and encode every face in one photo.

        Args:
            image: ``(3, H, W)`` (or grey) photo, ``uint8`` or float in [0, 1].
            upsample: enlarge the photo about 2x this many times first, to find faces smaller
                than about 80 pixels (each time ~4x slower).
            threshold: detector score above which a window is a face (dlib: 0).
            num_jitters: encode each face as the mean over this many randomly jittered copies
                of its chip (dlib's ``num_jitters``, :mod:`~coursekit.face.pretrained.jitter`;
                ``N`` times slower); 1: the chip itself.
            generator: the CPU random generator of the jitters.

        Returns:
            :class:`FoundFaces`, best detection first (empty tensors when no face is found).
        """
        boxes, scores = self.find_faces(image, upsample=upsample, threshold=threshold)
        points, chips = self.align(image, boxes)
        encodings = (self.encoder.encode(chips, num_jitters=num_jitters, generator=generator)
                     if len(chips) else torch.zeros(0, 128, device=boxes.device))
        return FoundFaces(boxes, scores, points, chips, encodings)

    def encode_cropped(self, images: torch.Tensor, *, batch_size: int = 64, num_jitters: int = 1,
                       generator: torch.Generator | None = None) -> torch.Tensor:
        """Encode photos that each show one face filling the frame (no detector).

        Args:
            images: ``(B, C, H, W)`` or one ``(C, H, W)`` image (``C`` = 3, or 1 for grey),
                ``uint8`` or float in [0, 1].
            batch_size: chips per encoder pass.
            num_jitters: as in :meth:`encode_faces`.
            generator: the CPU random generator of the jitters.

        Returns:
            ``(B, 128)`` encodings (or ``(128,)`` for one image).
        """
        single = images.dim() == 3
        batch = images[None] if single else images
        if batch.dim() != 4:
            raise ValueError(f"images must be (B, C, H, W) or (C, H, W), got {tuple(images.shape)}")
        chips = []
        for image in batch:
            h, w = image.shape[-2:]
            chips.append(self.align(image, torch.tensor([[0, 0, w - 1, h - 1]]))[1])
        chips = torch.cat(chips)
        out = self.encoder.encode(chips, num_jitters=num_jitters, generator=generator, batch_size=batch_size)
        return out[0] if single else out


def load_pretrained_pipeline(*, detector: bool = True, cache: bool = True) -> PretrainedFacePipeline:
    """The encoder, the 5-point predictor and (unless ``detector=False``) the detector, read from
    the installed ``face_recognition_models`` files, on the CPU (``cache``: through the course
    cache of converted models, :mod:`~coursekit.face.pretrained.model_cache`)."""
    return PretrainedFacePipeline(load_pretrained_encoder(cache=cache), load_shape_predictor(cache=cache),
                                  load_face_detector(cache=cache) if detector else None)
