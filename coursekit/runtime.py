"""Devices, seeding and the compute budget shared by every notebook and command.

* :func:`get_device` picks cuda, then mps, then cpu (``"auto"``), or checks an explicit choice.
* :func:`module_device` says which device a model's tensors are on, :func:`total_memory` how
  much memory a device has.
* :func:`seed_everything` seeds ``random``, NumPy and torch and returns a ``torch.Generator``.
* :func:`get_budget` says how much work a notebook may do: ``"cpu"`` sizes keep each notebook
  within 90 s on a 2-core CPU; ``"gpu"`` sizes are used automatically on an accelerator.
  ``COURSEKIT_BUDGET=cpu|gpu`` overrides the choice.
* :func:`native_bfloat16` says whether a device computes in bfloat16 natively (the fast path of
  ``TransferConfig(precision="bfloat16")``).
* :func:`precision_policy` reports the float32 precision torch uses on CUDA.

**TF32 policy.** coursekit never changes torch's global precision switches (as it never changes
any global state). With torch's defaults on an Ampere-or-later GPU, cuDNN *convolutions* in
float32 may run in TF32 (10-bit mantissa, relative error about 1e-3), while float32 *matrix
products* stay IEEE float32. So on CUDA a float32 convolution agrees with the CPU's to about
1e-3 relative, not 1e-6; the library's results (costs, encodings, accuracies) are insensitive to
that. A user who wants IEEE float32 everywhere sets ``torch.backends.cudnn.allow_tf32 = False``;
the test suite does so for its exact comparisons (``tests/conftest.py``).
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch

__all__ = ["Budget", "get_budget", "get_device", "module_device", "native_bfloat16", "precision_policy",
           "seed_everything", "total_memory"]

T = TypeVar("T")
_BUDGETS = ("cpu", "gpu")


def get_device(device: str | torch.device | None = "auto") -> torch.device:
    """Resolve a device name.

    Args:
        device: ``"auto"`` or ``None`` (cuda, then mps, then cpu), or an explicit name such as
            ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or ``"mps"``, or a ``torch.device``.

    Returns:
        The ``torch.device`` to use.

    Raises:
        ValueError: the name is not a device, or names an accelerator that is not available.

    Example:
        >>> get_device("cpu")
        device(type='cpu')
    """
    if device is None or (isinstance(device, str) and device.lower() == "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(
            f"unknown device {device!r}; expected 'auto', 'cpu', 'cuda[:N]' or 'mps'"
        ) from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was asked for but CUDA is not available here")
    if dev.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ValueError(f"device {device!r} was asked for but MPS is not available here")
    return dev


def module_device(model: object, default: torch.device | None = None) -> torch.device | None:
    """The device of ``model``'s first parameter or buffer: where a model runs.

    Args:
        model: an ``nn.Module`` (anything else, e.g. a plain function, has no device).
        default: returned when ``model`` holds no tensors.

    Example:
        >>> module_device(torch.nn.Linear(2, 2))
        device(type='cpu')
        >>> module_device(torch.nn.ReLU(), default=torch.device("cpu"))
        device(type='cpu')
        >>> module_device(len) is None
        True
    """
    if isinstance(model, torch.nn.Module):
        for tensor in (*model.parameters(), *model.buffers()):
            return tensor.device
    return default


def total_memory(device: str | torch.device | None = None) -> int | None:
    """Bytes of memory ``device`` has in all: the GPU's memory, or the machine's RAM for the
    CPU; ``None`` where it cannot be read (mps, a system without ``sysconf``).

    Example:
        >>> total_memory("cpu") is None or total_memory("cpu") > 2**20
        True
    """
    dev = get_device(device)
    if dev.type == "cuda":
        return int(torch.cuda.get_device_properties(dev).total_memory)
    if dev.type != "cpu":
        return None
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def seed_everything(seed: int = 0) -> torch.Generator:
    """Seed Python's ``random``, NumPy and torch (all devices) with ``seed``.

    It does not switch on deterministic algorithms globally; that stays the caller's choice.

    Args:
        seed: a non-negative integer.

    Returns:
        A CPU ``torch.Generator`` seeded with ``seed``, to pass as ``generator=`` to
        sampling functions.

    Example:
        >>> g = seed_everything(0)
        >>> a = torch.rand(2, generator=g)
        >>> b = torch.rand(2, generator=seed_everything(0))
        >>> bool(torch.equal(a, b))
        True
    """
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    g = torch.Generator()
    g.manual_seed(seed)
    return g


@dataclass(frozen=True)
class Budget:
    """How much compute a notebook or command may spend.

    Attributes:
        name: ``"cpu"`` (small sizes: each notebook within 90 s on 2 CPU cores) or ``"gpu"``.

    Example:
        >>> b = Budget("cpu")
        >>> b.pick(cpu=128, gpu=512)
        128
        >>> Budget("gpu").pick(cpu=128, gpu=512)
        512
    """

    name: str

    def __post_init__(self) -> None:
        if self.name not in _BUDGETS:
            raise ValueError(f"budget must be one of {_BUDGETS}, got {self.name!r}")

    @property
    def is_gpu(self) -> bool:
        """True for the larger accelerator settings."""
        return self.name == "gpu"

    def pick(self, *, cpu: T, gpu: T) -> T:
        """Return ``cpu`` or ``gpu`` according to this budget."""
        return gpu if self.is_gpu else cpu


def get_budget(device: str | torch.device | None = None) -> Budget:
    """The compute budget for ``device``: ``COURSEKIT_BUDGET`` if set, else by device type.

    Args:
        device: the device the work runs on (``None`` means :func:`get_device` ``("auto")``).
            Any accelerator (cuda, mps) gets the ``"gpu"`` budget.

    Raises:
        ValueError: ``COURSEKIT_BUDGET`` holds something other than ``cpu`` or ``gpu``.

    Example:
        >>> get_budget("cpu").name in ("cpu", "gpu")
        True
    """
    env = os.environ.get("COURSEKIT_BUDGET", "").strip().lower()
    if env:
        if env not in _BUDGETS:
            raise ValueError(f"COURSEKIT_BUDGET must be 'cpu' or 'gpu', got {env!r}")
        return Budget(env)
    dev = get_device(device)
    return Budget("cpu" if dev.type == "cpu" else "gpu")


def native_bfloat16(device: str | torch.device | None = None, *, cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether ``device`` multiplies bfloat16 in hardware: CUDA with bfloat16 support, or a CPU
    whose flags list AVX512-BF16 or AMX-BF16 (read from ``cpuinfo`` on Linux; other systems:
    ``False``). Elsewhere bfloat16 runs emulated, slower than float32.

    Args:
        device: as for :func:`get_device`.
        cpuinfo: the file listing the CPU flags (a parameter for tests).

    Example:
        >>> native_bfloat16("cpu", cpuinfo="/no/such/file")
        False
    """
    dev = get_device(device)
    if dev.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if dev.type != "cpu":
        return False
    try:
        with open(cpuinfo) as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def precision_policy() -> dict[str, bool | str]:
    """The float32 precision torch uses now on CUDA (see the module's TF32 policy).

    Returns:
        ``{"cudnn_conv_tf32": bool, "matmul_tf32": bool, "float32_matmul_precision": str}``:
        whether cuDNN convolutions and cuBLAS matrix products may use TF32 for float32 inputs,
        and torch's float32 matrix-product precision (``"highest"`` = IEEE float32). coursekit
        reads these switches and never sets them.

    Example:
        >>> policy = precision_policy()
        >>> sorted(policy)
        ['cudnn_conv_tf32', 'float32_matmul_precision', 'matmul_tf32']
    """
    return {
        "cudnn_conv_tf32": bool(torch.backends.cudnn.allow_tf32),
        "matmul_tf32": bool(torch.backends.cuda.matmul.allow_tf32),
        "float32_matmul_precision": torch.get_float32_matmul_precision(),
    }
