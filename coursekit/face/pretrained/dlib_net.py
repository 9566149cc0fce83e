"""dlib's deep-network files (``dlib/dnn/core.h``, ``layers.h``, ``input.h``, ``loss.h``) as a
PyTorch module.

A dlib network is a C++ type, ``loss<layer<layer<... input>>>``, and its file is that nested
object serialised from the outside in: the loss (version, details), then each layer's version
number down to the input layer, then the input's and each layer's details on the way back out
(``add_layer``: version 2, or 3 right above the input; tags and skips: version 1, nothing else).
Every computing layer's details start with a tag such as ``"con_6"`` and carry its geometry and
weights, but tags, skips and ``add_prev`` carry no id: which ``tag1``/``skip1``/``add_prev2`` a
slot is comes from the network's C++ type. So :func:`read_dlib_network` takes that type as a
*spec*: the layer names from the output down to the input, as dlib prints them (``"fc"``,
``"relu"``, ``"add_prev1"``, ``"tag1"``, ``"skip1"``, ...), and checks every computing layer
against the file.

:class:`DlibNetwork` evaluates the layers from the input up, keeping the outputs of tag layers
for the skip and ``add_prev`` layers that use them. dlib's ``add_prev`` adds tensors of
different shapes as if the smaller were zero-padded at the end of each dimension
(``tt::add``), which the residual blocks use where a strided branch and a pooled shortcut
disagree by one row. ``affine`` layers right after a convolution are folded into its weights
(dlib's trained batch-norm layers are stored as, or converted to, ``affine``).
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from coursekit.face.pretrained.dlib_format import DlibFormatError, DlibReader

__all__ = ["DlibLayer", "DlibNetwork", "add_zero_padded", "read_dlib_network"]

_TAGGED = re.compile(r"^(tag|skip|add_prev)(\d+)$")
_COMPUTING = ("con", "affine", "relu", "max_pool", "avg_pool", "fc", "add_prev")


@dataclass
class DlibLayer:
    """One layer read from a dlib network file.

    Attributes:
        kind: ``"con"``, ``"affine"``, ``"relu"``, ``"max_pool"``, ``"avg_pool"``, ``"fc"``,
            ``"add_prev"``, ``"tag"``, ``"skip"``, an input (``"input_rgb_image_sized"``,
            ``"input_rgb_image_pyramid"``) or a loss (``"loss_metric"``, ``"loss_mmod"``).
        params: its settings and weights (tensors on the CPU).
    """

    kind: str
    params: dict = field(default_factory=dict)


# -- details of each layer type -----------------------------------------------------------------

def _con(r: DlibReader, version: str) -> dict:
    params = r.tensor("the con parameters")
    num_filters = r.int()
    nr, nc, stride_y, stride_x, pad_y, pad_x = (r.int() for _ in range(6))
    filters = r.alias_tensor("the con filters")
    r.alias_tensor("the con biases")
    for _ in range(4):  # learning-rate and weight-decay multipliers
        r.float()
    use_bias = r.bool() if version in ("con_5", "con_6") else True
    use_relu = r.bool() if version == "con_6" else False
    n_w = filters[0] * filters[1] * filters[2] * filters[3]
    if filters[0] != num_filters or filters[2:] != (nr, nc):
        raise r.error(f"con filters of shape {filters} do not match {num_filters} filters of {nr}x{nc}")
    flat = params.reshape(-1)
    if flat.numel() < n_w + (num_filters if use_bias else 0):
        raise r.error(f"con parameters hold {flat.numel()} values, fewer than its shape needs")
    return {
        "weight": flat[:n_w].reshape(filters).clone(),
        "bias": flat[n_w:n_w + num_filters].clone() if use_bias else None,
        "stride": (stride_y, stride_x), "padding": (pad_y, pad_x), "relu": use_relu,
    }


def _affine(r: DlibReader, version: str) -> dict:
    params = r.tensor("the affine parameters")
    g_shape = r.alias_tensor("the affine gamma")
    r.alias_tensor("the affine beta")
    mode = r.int()
    disabled = r.bool() if version == "affine_2" else False
    n = g_shape[0] * g_shape[1] * g_shape[2] * g_shape[3]
    flat = params.reshape(-1)
    if disabled:
        return {"gamma": None, "beta": None, "conv_mode": mode == 0}
    if flat.numel() != 2 * n:
        raise r.error(f"affine parameters hold {flat.numel()} values, expected {2 * n}")
    return {"gamma": flat[:n].reshape(g_shape[1:]).clone(), "beta": flat[n:].reshape(g_shape[1:]).clone(),
            "conv_mode": mode == 0}


def _bn(r: DlibReader, version: str) -> dict:
    """A batch-norm layer in inference form, converted as dlib's ``affine_(const bn_&)`` does:
    ``gamma / sqrt(running_var + eps)`` and ``beta - gamma' * running_mean`` (in float32)."""
    params = r.tensor("the bn parameters")
    g_shape = r.alias_tensor("the bn gamma")
    r.alias_tensor("the bn beta")
    for what in ("means", "invstds"):
        r.tensor(f"the bn {what}")
    running_means = r.tensor("the bn running means").reshape(-1)
    running_vars = r.tensor("the bn running variances").reshape(-1)
    r.int()  # num_updates
    r.int()  # running_stats_window_size
    for _ in range(4):
        r.float()
    eps = torch.tensor(r.float(), dtype=torch.float32)
    n = g_shape[0] * g_shape[1] * g_shape[2] * g_shape[3]
    flat = params.reshape(-1)
    gamma = flat[:n] / torch.sqrt(running_vars + eps)
    beta = flat[n:2 * n] - gamma * running_means
    return {"gamma": gamma.reshape(g_shape[1:]), "beta": beta.reshape(g_shape[1:]),
            "conv_mode": version == "bn_con2"}


def _relu(r: DlibReader, version: str) -> dict:
    return {"disabled": r.bool() if version == "relu_2" else False}


def _pool(r: DlibReader, version: str) -> dict:
    nr, nc, stride_y, stride_x, pad_y, pad_x = (r.int() for _ in range(6))
    return {"window": (nr, nc), "stride": (stride_y, stride_x), "padding": (pad_y, pad_x)}


def _fc(r: DlibReader, version: str) -> dict:
    num_outputs, num_inputs = r.int(), r.int()
    params = r.tensor("the fc parameters").reshape(-1)
    r.alias_tensor("the fc weights")
    r.alias_tensor("the fc biases")
    bias_mode = r.int()
    for _ in range(4):
        r.float()
    use_bias = (r.bool() if version == "fc_3" else True) and bias_mode == 0
    n_w = num_inputs * num_outputs
    if params.numel() < n_w + (num_outputs if use_bias else 0):
        raise r.error(f"fc parameters hold {params.numel()} values, fewer than {num_inputs}x{num_outputs}")
    return {"weight": params[:n_w].reshape(num_inputs, num_outputs).clone(),
            "bias": params[n_w:n_w + num_outputs].clone() if use_bias else None}


def _nothing(r: DlibReader, version: str) -> dict:
    return {}


_DETAILS = {
    "con": (("con_4", "con_5", "con_6"), _con),
    "affine": (("affine_", "affine_2", "bn_con2", "bn_fc2"), None),
    "relu": (("relu_", "relu_2"), _relu),
    "max_pool": (("max_pool_2",), _pool),
    "avg_pool": (("avg_pool_2",), _pool),
    "fc": (("fc_2", "fc_3"), _fc),
    "add_prev": (("add_prev_",), _nothing),
}


def _layer_details(r: DlibReader, kind: str) -> dict:
    tags, reader = _DETAILS[kind]
    version = r.expect_string(*tags, what=f"a {kind} layer")
    if kind == "affine":
        return _bn(r, version) if version.startswith("bn_") else _affine(r, version)
    return reader(r, version)


def _input_details(r: DlibReader) -> DlibLayer:
    version = r.expect_string("input_rgb_image_sized", "input_rgb_image_pyramid",
                              "input_rgb_image_pyramid2", what="an input layer")
    mean = tuple(r.float() for _ in range(3))
    if version == "input_rgb_image_sized":
        nr, nc = r.int(), r.int()
        return DlibLayer("input_rgb_image_sized", {"mean": mean, "size": (nr, nc)})
    padding, outer = (r.int(), r.int()) if version.endswith("2") else (10, 11)
    return DlibLayer("input_rgb_image_pyramid", {"mean": mean, "padding": padding, "outer_padding": outer})


def _loss_details(r: DlibReader) -> DlibLayer:
    version = r.expect_string("loss_metric_", "loss_metric_2", "loss_mmod_", what="a loss layer")
    if version == "loss_metric_":
        return DlibLayer("loss_metric", {"margin": 0.1, "distance_threshold": 0.75})
    if version == "loss_metric_2":
        return DlibLayer("loss_metric", {"margin": r.float(), "distance_threshold": r.float()})
    options_version = r.expect_int(1, 2, 3, 4, what="the mmod options version")
    windows = []
    if options_version == 1:
        windows.append((r.int(), r.int(), ""))
    else:
        for _ in range(r.int("the number of detector windows")):
            v = r.expect_int(1, 2, what="a detector window version")
            w, h = r.int(), r.int()
            windows.append((w, h, r.string() if v == 2 else ""))
    params = {"windows": windows}
    params["loss_per_false_alarm"] = r.float()
    params["loss_per_missed_target"] = r.float()
    params["truth_match_iou_threshold"] = r.float()
    params["nms_iou"], params["nms_covered"] = r.float(), r.float()
    r.float(), r.float()  # overlaps_ignore
    params["assume_image_pyramid"] = r.int() if options_version >= 3 else 1
    params["bbr"] = False
    if options_version >= 4:
        params["bbr"] = r.bool()
        r.float()
    return DlibLayer("loss_mmod", params)


def read_dlib_network(source: str | os.PathLike | bytes, spec: list[str], *,
                      cache: bool = False) -> list[DlibLayer]:
    """Read a dlib network file, checking it against the network's layer names.

    Args:
        source: the file's path, or its bytes.
        spec: the layers from the output down to (not including) the input, as dlib names
            them: the loss (``"loss_metric"`` / ``"loss_mmod"``), then ``"fc"``, ``"con"``,
            ``"affine"`` (also matches a stored batch-norm layer), ``"relu"``, ``"max_pool"``,
            ``"avg_pool"``, ``"add_prevN"``, ``"tagN"``, ``"skipN"``.
        cache: for a path, keep the layers read in the course cache and read them from there
            while the file is unchanged (:func:`~coursekit.face.pretrained.model_cache.cached_conversion`).

    Returns:
        The layers from the **input up to the loss**: the input layer first, the loss last.

    Raises:
        DlibFormatError: the file is truncated, not a dlib network, or a different network.

    Example:
        >>> from coursekit.face.pretrained.dlib_format import DlibFormatError
        >>> try:
        ...     read_dlib_network(b"GIF89a", ["loss_metric", "fc"])
        ... except DlibFormatError as e:
        ...     print(str(e).split(":")[0])
        <bytes>
    """
    if not spec or spec[0] not in ("loss_metric", "loss_mmod"):
        raise ValueError(f"spec must start with the loss layer, got {spec[:1]}")
    for token in spec[1:]:
        if token not in _COMPUTING and not _TAGGED.match(token):
            raise ValueError(f"unknown layer name {token!r} in spec")
    if spec[-1].startswith(("tag", "skip")):
        raise ValueError("the layer right above the input must be a computing layer")
    if cache and not isinstance(source, bytes | bytearray | DlibReader):
        from coursekit.face.pretrained.model_cache import cached_conversion

        what = "network-" + hashlib.sha256(" ".join(spec).encode()).hexdigest()[:8]
        stored = cached_conversion(source, what, lambda path: [
            (layer.kind, layer.params) for layer in read_dlib_network(path, spec)])
        return [DlibLayer(kind, params) for kind, params in stored]
    r = source if isinstance(source, DlibReader) else (
        DlibReader(source) if isinstance(source, bytes | bytearray) else DlibReader.from_file(source))
    r.expect_int(1, what="the loss layer's version (is this a dlib network file?)")
    loss = _loss_details(r)
    if loss.kind != spec[0]:
        raise r.error(f"the file holds a {loss.kind} network, expected {spec[0]}")
    chain = spec[1:]
    for token in chain[:-1]:  # versions, outside in
        wrapper = token.startswith(("tag", "skip"))
        r.expect_int(1 if wrapper else 2,
                     what=f"the version of layer {token!r} (is this the expected network?)")
    bottom_version = r.expect_int(2, 3, what=f"the version of the input-side layer {chain[-1]!r}")
    layers = [_input_details(r)]

    def computing(token: str) -> DlibLayer:
        m = _TAGGED.match(token)
        kind = m.group(1) if m else token
        layer = DlibLayer(kind, _layer_details(r, kind))
        if m:
            layer.params["id"] = int(m.group(2))
        for _ in range(3):  # setup-called, gradient-stale, output-disabled flags
            r.bool()
        for what in ("x_grad", "cached_output", "gradient"):
            r.tensor(f"the {what} of a {kind} layer")
        return layer

    layers.append(computing(chain[-1]))
    if bottom_version == 3:
        r.int("the sample expansion factor")
    for token in reversed(chain[:-1]):  # details, inside out
        m = _TAGGED.match(token)
        if m and m.group(1) in ("tag", "skip"):
            layers.append(DlibLayer(m.group(1), {"id": int(m.group(2))}))
        else:
            layers.append(computing(token))
    layers.append(loss)
    if not r.at_end():
        raise r.error(f"{len(r.data) - r.pos} unexpected bytes after the network")
    return layers


# -- the network as a module ----------------------------------------------------------------------

def add_zero_padded(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a + b`` where the smaller tensor counts as zero-padded at the end of each dimension
    (dlib's ``tt::add`` of tensors of different shapes).

    Example:
        >>> add_zero_padded(torch.ones(1, 2, 2, 2), torch.ones(1, 1, 3, 1))[0, :, :, 0]
        tensor([[2., 2., 1.],
                [1., 1., 0.]])
    """
    if a.shape == b.shape:
        return a + b
    shape = [max(x, y) for x, y in zip(a.shape, b.shape)]

    def pad(t: torch.Tensor) -> torch.Tensor:
        widths = []
        for size, target in zip(reversed(t.shape), reversed(shape)):
            widths += [0, target - size]
        return F.pad(t, widths)

    return pad(a) + pad(b)


class DlibNetwork(nn.Module):
    """The computing layers of a dlib network (no input conversion, no loss), in PyTorch.

    Args:
        layers: from :func:`read_dlib_network` (input and loss layers are skipped).

    Shape:
        - input: ``(B, 3, H, W)`` float, already converted as the dlib input layer does.
        - output: what the last layer gives: ``(B, E)`` after an ``fc`` layer, else ``(B, C, H', W')``.

    Example:
        >>> w = torch.ones(2, 1, 3, 3)
        >>> layers = [DlibLayer("con", {"weight": w, "bias": torch.zeros(2), "stride": (1, 1),
        ...                             "padding": (1, 1), "relu": False}),
        ...           DlibLayer("affine", {"gamma": torch.tensor([1., 2.]).reshape(2, 1, 1),
        ...                                "beta": torch.zeros(2, 1, 1), "conv_mode": True}),
        ...           DlibLayer("relu", {"disabled": False})]
        >>> DlibNetwork(layers)(torch.ones(1, 1, 3, 3))[0, :, 1, 1]
        tensor([ 9., 18.])
    """

    def __init__(self, layers: list[DlibLayer]) -> None:
        super().__init__()
        self.ops: list[tuple] = []
        n_params = 0
        layers = [x for x in layers if not x.kind.startswith(("input", "loss"))]
        i = 0
        while i < len(layers):
            layer, p = layers[i], layers[i].params
            if layer.kind == "con":
                weight = p["weight"]  # shared with the layer (folding makes new tensors)
                bias = p["bias"] if p["bias"] is not None else torch.zeros(weight.shape[0])
                nxt = layers[i + 1] if i + 1 < len(layers) else None
                if nxt is not None and nxt.kind == "affine" and nxt.params["conv_mode"] \
                        and nxt.params["gamma"] is not None and not p["relu"]:
                    gamma = nxt.params["gamma"].reshape(-1)
                    beta = nxt.params["beta"].reshape(-1)
                    weight = weight * gamma.reshape(-1, 1, 1, 1)
                    bias = bias * gamma + beta
                    i += 1
                w_name, b_name = f"w{n_params}", f"b{n_params}"
                n_params += 1
                self.register_buffer(w_name, weight)
                self.register_buffer(b_name, bias)
                self.ops.append(("con", w_name, b_name, p["stride"], p["padding"], p["relu"]))
            elif layer.kind == "affine":
                if p["gamma"] is not None:
                    g_name, b_name = f"g{n_params}", f"b{n_params}"
                    n_params += 1
                    shape = (1, -1, 1, 1) if p["conv_mode"] else (1, *p["gamma"].shape)
                    self.register_buffer(g_name, p["gamma"].reshape(shape))
                    self.register_buffer(b_name, p["beta"].reshape(shape))
                    self.ops.append(("affine", g_name, b_name))
            elif layer.kind == "relu":
                if not p["disabled"]:
                    self.ops.append(("relu",))
            elif layer.kind in ("max_pool", "avg_pool"):
                self.ops.append((layer.kind, p["window"], p["stride"], p["padding"]))
                if layer.kind == "avg_pool" and p["padding"] != (0, 0) and p["window"] != (0, 0):
                    raise DlibFormatError("avg_pool with padding is not supported")
            elif layer.kind == "fc":
                w_name, b_name = f"w{n_params}", f"b{n_params}"
                n_params += 1
                self.register_buffer(w_name, p["weight"].t().contiguous())  # (out, in)
                self.register_buffer(b_name, p["bias"] if p["bias"] is not None else None)
                self.ops.append(("fc", w_name, b_name))
            elif layer.kind in ("tag", "skip", "add_prev"):
                self.ops.append((layer.kind, p["id"]))
            else:
                raise DlibFormatError(f"unsupported layer kind {layer.kind!r}")
            i += 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tags: dict[int, torch.Tensor] = {}
        for op in self.ops:
            kind = op[0]
            if kind == "con":
                x = F.conv2d(x, getattr(self, op[1]), getattr(self, op[2]), stride=op[3], padding=op[4])
                if op[5]:
                    x = F.relu(x)
            elif kind == "affine":
                x = x * getattr(self, op[1]) + getattr(self, op[2])
            elif kind == "relu":
                x = F.relu(x)
            elif kind in ("max_pool", "avg_pool"):
                window, stride, padding = op[1], op[2], op[3]
                if window[0] == 0 or window[1] == 0:  # the whole image
                    window = (x.shape[2] if window[0] == 0 else window[0],
                              x.shape[3] if window[1] == 0 else window[1])
                if kind == "max_pool":
                    x = F.max_pool2d(x, window, stride, padding)
                else:
                    x = F.avg_pool2d(x, window, stride)
            elif kind == "fc":
                x = F.linear(x.flatten(1), getattr(self, op[1]), getattr(self, op[2]))
            elif kind == "tag":
                tags[op[1]] = x
            elif kind == "skip":
                x = tags[op[1]]
            else:  # add_prev
                x = add_zero_padded(x, tags[op[1]])
        return x
