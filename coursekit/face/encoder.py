"""The face encoder f(x) of a Siamese network (lesson 4.3; Taigman et al., "DeepFace", 2014).

One ConvNet, shared by both branches of the Siamese pair, maps a face image to a
128-d encoding on the unit sphere, so d = ||f(x1) - f(x2)||^2 lies in [0, 4]. Four
conv-BN-ReLU stages (each halving the resolution) are followed by adaptive average pooling
to a small spatial grid, so any input size works, and a linear layer.

:func:`save_encoder` / :func:`load_encoder` store the constructor arguments and the weights
in one ``torch.save`` file of tensors and plain values, read back with
``torch.load(..., weights_only=True)`` (no pickled code).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from coursekit.files import atomic_write

__all__ = ["FaceEncoder", "load_encoder", "save_encoder"]

_FORMAT = "coursekit.FaceEncoder"
_VERSION = 1


class FaceEncoder(nn.Module):
    """A small ConvNet giving L2-normalised face encodings.

    Args:
        embedding_dim: size ``E`` of the encoding (128 in the lecture).
        in_channels: 1 for grey faces, 3 for colour.
        widths: channels of the four conv stages; each stage halves the resolution.
        pool_size: side of the adaptive average-pooling grid before the linear layer
            (keeps coarse layout: where the eyes are relative to the mouth).
        dropout: dropout before the linear layer (training only).
        input_size: images are first resized (area averaging) to ``input_size x input_size``
            (default 32: a quarter of the pixels of a 64 x 64 face); ``None`` keeps the size.
        standardize: subtract each image's mean and divide by its standard deviation first,
            so overall brightness and contrast do not change the encoding.

    Shape:
        - input: ``(B, C, H, W)``, any size (``H, W >= 16`` when ``input_size`` is ``None``).
        - output: ``(B, E)``, every row of L2 norm 1.

    Example:
        >>> enc = FaceEncoder(embedding_dim=16, widths=(4, 8, 8, 8))
        >>> z = enc(torch.rand(3, 1, 64, 64))
        >>> tuple(z.shape), [round(v, 4) for v in z.norm(dim=1).tolist()]
        ((3, 16), [1.0, 1.0, 1.0])
        >>> tuple(enc(torch.rand(2, 1, 50, 40)).shape)
        (2, 16)
    """

    def __init__(
        self,
        embedding_dim: int = 128,
        in_channels: int = 1,
        *,
        widths: tuple[int, ...] = (16, 32, 64, 128),
        pool_size: int = 2,
        dropout: float = 0.0,
        input_size: int | None = 32,
        standardize: bool = True,
    ) -> None:
        super().__init__()
        widths = tuple(int(w) for w in widths)
        bad_size = input_size is not None and input_size < 16
        if embedding_dim < 1 or in_channels < 1 or not widths or min(widths) < 1 or pool_size < 1 or bad_size:
            raise ValueError(
                f"invalid FaceEncoder config: embedding_dim={embedding_dim}, "
                f"in_channels={in_channels}, widths={widths}, pool_size={pool_size}, input_size={input_size}"
            )
        self.config = {"embedding_dim": int(embedding_dim), "in_channels": int(in_channels),
                       "widths": list(widths), "pool_size": int(pool_size), "dropout": float(dropout),
                       "input_size": None if input_size is None else int(input_size),
                       "standardize": bool(standardize)}
        layers: list[nn.Module] = []
        c = in_channels
        for w in widths:
            layers += [nn.Conv2d(c, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True),
                       nn.MaxPool2d(2)]
            c = w
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(pool_size)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(c * pool_size * pool_size, embedding_dim)
        # batch norm before the L2 normalisation spreads the encodings over the sphere and
        # keeps batch-hard training from collapsing every face onto one point
        self.norm = nn.BatchNorm1d(embedding_dim)

    @property
    def embedding_dim(self) -> int:
        return self.config["embedding_dim"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.config["in_channels"]:
            raise ValueError(f"expected images (B, {self.config['in_channels']}, H, W), "
                             f"got shape {tuple(x.shape)}")
        s = self.config["input_size"]
        if s is not None and tuple(x.shape[-2:]) != (s, s):
            x = F.interpolate(x, size=(s, s), mode="area" if min(x.shape[-2:]) >= s else "bilinear")
        if self.config["standardize"]:
            mean = x.mean(dim=(1, 2, 3), keepdim=True)
            x = (x - mean) / (x - mean).pow(2).mean(dim=(1, 2, 3), keepdim=True).add(1e-5).sqrt()
        z = self.pool(self.features(x)).flatten(1)  # (B, C * pool * pool)
        return F.normalize(self.norm(self.head(self.dropout(z))), dim=1)


def save_encoder(encoder: FaceEncoder, path: str | os.PathLike) -> Path:
    """Write the encoder's config and weights to ``path`` atomically (temporary file + rename).

    Returns:
        The path written.

    Example:
        >>> import tempfile
        >>> enc = FaceEncoder(embedding_dim=8, widths=(4, 4, 4, 4))
        >>> path = save_encoder(enc, f"{tempfile.mkdtemp()}/models/enc.pt")  # folders created
        >>> path.name, load_encoder(path).config == enc.config
        ('enc.pt', True)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in encoder.state_dict().items()}
    payload = {"format": _FORMAT, "version": _VERSION, "config": dict(encoder.config),
               "state_dict": state}
    with atomic_write(path, "wb") as f:
        torch.save(payload, f)
    return path


def load_encoder(path: str | os.PathLike, map_location=None) -> FaceEncoder:
    """Read an encoder written by :func:`save_encoder` (``weights_only=True``), in eval mode.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file is corrupt, not a torch file, or not a coursekit face encoder.

    Example:
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "enc.pt")
        >>> enc = FaceEncoder(embedding_dim=8, widths=(4, 4, 4, 4))
        >>> _ = save_encoder(enc, p)
        >>> load_encoder(p).embedding_dim
        8
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"encoder file not found: {path}")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except PermissionError:
        raise  # the error names the file
    except Exception as err:  # unpickling errors, truncated zip archives, foreign pickles
        # torch's own message advises weights_only=False (unsafe loading): never pass it on
        raise ValueError(f"{path}: not a coursekit encoder file, or the file is damaged "
                         f"({type(err).__name__})") from err
    if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
        raise ValueError(f"{path}: not a coursekit face encoder (expected format {_FORMAT!r})")
    if payload.get("version") != _VERSION:
        raise ValueError(f"{path}: encoder file version {payload.get('version')!r} is not supported")
    try:
        config = dict(payload["config"])
        config["widths"] = tuple(config["widths"])
        encoder = FaceEncoder(**config)
        encoder.load_state_dict(payload["state_dict"])
    except (KeyError, TypeError, RuntimeError) as err:
        raise ValueError(f"{path}: encoder file is damaged ({err})") from err
    if map_location is not None:
        encoder.to(map_location)
    return encoder.eval()
