"""dlib's pretrained 128-d face encoder (``dlib_face_recognition_resnet_model_v1``) in PyTorch.

Davis King's network (dlib-models' README; the type is in dlib's
``tools/python/src/face_recognition.cpp``): a ResNet with 29 convolutions, a version of
ResNet-34 (He et al., "Deep Residual Learning for Image Recognition", 2016) with fewer layers
and half the filters, trained with a pairwise hinge metric loss on about 3 million faces of
7485 people, so that two photos of one person lie within Euclidean distance 0.6. It reads a
``150 x 150`` RGB chip aligned by :func:`~coursekit.face.pretrained.alignment.face_chips` and
returns a 128-d encoding, not normalised (its norm is close to 1).

dlib's input layer maps each 8-bit channel value ``v`` to ``(v - mean_c) / 256`` with the
channel means stored in the file (122.782, 117.001, 104.298 for R, G, B).
"""

from __future__ import annotations

import os

import torch
from torch import nn

from coursekit.face.pretrained.dlib_net import DlibNetwork, read_dlib_network
from coursekit.face.pretrained.model_files import model_path

__all__ = ["PretrainedFaceEncoder", "encoder_spec", "load_pretrained_encoder"]

CHIP_SIZE = 150


def _block(n: int, stride: int) -> list[str]:
    # block<N, affine, stride> = affine<con<N,3,3,1,1, relu<affine<con<N,3,3,stride,stride, ...>>>>>
    del n, stride  # the geometry is read from the file and checked there
    return ["affine", "con", "relu", "affine", "con"]


def _ares(n: int) -> list[str]:
    # relu<add_prev1<block<N,1, tag1<...>>>>
    return ["relu", "add_prev1", *_block(n, 1), "tag1"]


def _ares_down(n: int) -> list[str]:
    # relu<add_prev2<avg_pool<2,2,2,2, skip1<tag2<block<N,2, tag1<...>>>>>>>
    return ["relu", "add_prev2", "avg_pool", "skip1", "tag2", *_block(n, 2), "tag1"]


def encoder_spec() -> list[str]:
    """The encoder's layer names from the loss down to the first convolution (dlib's
    ``anet_type``: ``loss_metric<fc_no_bias<128, avg_pool_everything<alevel0<...alevel4<
    max_pool<3,3,2,2, relu<affine<con<32,7,7,2,2, input_rgb_image_sized<150>>>>>>>>>>>``).

    Example:
        >>> spec = encoder_spec()
        >>> spec[:3], spec[-4:], spec.count("con")
        (['loss_metric', 'fc', 'avg_pool'], ['max_pool', 'relu', 'affine', 'con'], 29)
    """
    levels = (
        _ares_down(256)
        + _ares(256) + _ares(256) + _ares_down(256)
        + _ares(128) + _ares(128) + _ares_down(128)
        + _ares(64) + _ares(64) + _ares(64) + _ares_down(64)
        + _ares(32) + _ares(32) + _ares(32)
    )
    return ["loss_metric", "fc", "avg_pool", *levels, "max_pool", "relu", "affine", "con"]


class PretrainedFaceEncoder(nn.Module):
    """dlib's ResNet face encoder: aligned ``150 x 150`` RGB chips -> 128-d encodings.

    Build it with :func:`load_pretrained_encoder`. Its weights are buffers that follow
    ``.to(device)``; it has no trainable parameters and is in ``eval`` mode.

    Args:
        layers: the layers read by :func:`~coursekit.face.pretrained.dlib_net.read_dlib_network`.

    Shape:
        - input: ``(B, 3, 150, 150)`` chips, ``uint8`` (0..255) or float in [0, 1].
        - output: ``(B, 128)`` float32 encodings (two faces of one person: distance < 0.6).

    Example:
        >>> enc = load_pretrained_encoder()
        >>> chips = torch.rand(2, 3, 150, 150)
        >>> tuple(enc(chips).shape)
        (2, 128)
    """

    def __init__(self, layers) -> None:
        super().__init__()
        if layers[0].kind != "input_rgb_image_sized" or tuple(layers[0].params["size"]) != (CHIP_SIZE,) * 2:
            raise ValueError(f"expected a network on {CHIP_SIZE}x{CHIP_SIZE} RGB chips, got {layers[0]}")
        mean = torch.tensor(layers[0].params["mean"], dtype=torch.float32)
        self.register_buffer("mean", mean.reshape(1, 3, 1, 1))
        self.distance_threshold = float(layers[-1].params["distance_threshold"])
        self.net = DlibNetwork(layers)
        self.eval()

    def forward(self, chips: torch.Tensor) -> torch.Tensor:
        _check_chips(chips)
        x = chips.float() if chips.dtype == torch.uint8 else chips.float() * 255.0
        x = (x - self.mean.to(x.device)) / 256.0
        with torch.inference_mode():
            return self.net(x)

    def encode(self, chips: torch.Tensor, *, num_jitters: int = 1,
               generator: torch.Generator | None = None, batch_size: int = 64) -> torch.Tensor:
        """Encodings of chips, each the mean over ``num_jitters`` randomly jittered copies (dlib's
        ``compute_face_descriptor(..., num_jitters=N)``; see :mod:`~coursekit.face.pretrained.jitter`).

        Args:
            chips: ``(B, 3, 150, 150)`` aligned chips, ``uint8`` or float in [0, 1].
            num_jitters: copies per chip (``N``); 1 (the default) encodes the chips as they are,
                as dlib does for ``N <= 1``.
            generator: the CPU random generator of the jitters (``None``: torch's global one).
            batch_size: chips per forward pass.

        Returns:
            ``(B, 128)`` float32 encodings.

        Example:
            >>> enc = load_pretrained_encoder()
            >>> chips = torch.randint(0, 256, (2, 3, 150, 150), dtype=torch.uint8)
            >>> torch.equal(enc.encode(chips), enc(chips))
            True
            >>> z = enc.encode(chips, num_jitters=3, generator=torch.Generator().manual_seed(0))
            >>> tuple(z.shape)
            (2, 128)
        """
        from coursekit.face.pretrained.jitter import jitter_face_chips

        _check_chips(chips)
        if isinstance(num_jitters, bool) or not isinstance(num_jitters, int) or num_jitters < 1:
            raise ValueError(f"num_jitters must be an integer >= 1, got {num_jitters!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if num_jitters == 1:
            parts = [self(chips[i:i + batch_size]) for i in range(0, len(chips), batch_size)]
            return torch.cat(parts) if parts else self(chips)
        out = []
        for chip in chips:  # (3, 150, 150): the mean encoding of its N copies, batch by batch
            total = None
            for start in range(0, num_jitters, batch_size):
                count = min(batch_size, num_jitters - start)
                copies = jitter_face_chips(chip[None], count, generator=generator)[0]  # (n, 3, 150, 150)
                z = self(copies).sum(0)
                total = z if total is None else total + z
            out.append(total / num_jitters)
        return torch.stack(out) if out else self(chips)


def _check_chips(chips: torch.Tensor) -> None:
    if chips.dim() != 4 or tuple(chips.shape[1:]) != (3, CHIP_SIZE, CHIP_SIZE):
        raise ValueError(f"chips must be (B, 3, {CHIP_SIZE}, {CHIP_SIZE}), got {tuple(chips.shape)}")


def load_pretrained_encoder(path: str | os.PathLike | None = None, *,
                            cache: bool = True) -> PretrainedFaceEncoder:
    """Read dlib's face encoder from its ``.dat`` file.

    Args:
        path: the file (default: ``dlib_face_recognition_resnet_model_v1.dat`` from the
            installed ``face_recognition_models`` package).
        cache: keep the converted network in the course cache and read it from there while
            the file is unchanged (:mod:`~coursekit.face.pretrained.model_cache`); ``False``
            always decodes the file.

    Returns:
        The encoder on the CPU, in ``eval`` mode.

    Raises:
        DlibFormatError: the file is not this network (truncated, foreign, another net).
        FileNotFoundError: no path given and the models package is not installed.
    """
    path = path if path is not None else model_path("encoder")
    return PretrainedFaceEncoder(read_dlib_network(path, encoder_spec(), cache=cache))
