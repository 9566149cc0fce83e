"""coursekit: an executable course on face recognition and neural style transfer.

Lessons 4.1-4.11 of a convolutional-networks course, as tested PyTorch code that
the notebooks in ``notebooks/`` import.

Shape letters used in every docstring:
``B`` batch, ``C`` channels, ``L`` length, ``D`` depth, ``H`` height, ``W`` width,
``E`` embedding size, ``N``/``M`` numbers of items being compared.

Subpackages: :mod:`coursekit.runtime`, :mod:`coursekit.images`, :mod:`coursekit.data`,
:mod:`coursekit.face`, :mod:`coursekit.style`, :mod:`coursekit.visualize`,
:mod:`coursekit.conv`, :mod:`coursekit.exercises`, :mod:`coursekit.cli`.
"""

from coursekit.runtime import Budget, get_budget, get_device, seed_everything

__all__ = ["Budget", "get_budget", "get_device", "seed_everything", "__version__"]
__version__ = "0.1.0"
