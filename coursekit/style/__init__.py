"""Neural style transfer, lessons 4.6 and 4.8-4.10 (Gatys et al., 2015): VGG19 features on
real ImageNet weights, content/style/total costs, and the transfer loop.
"""

import importlib as _importlib
import pkgutil as _pkgutil

__all__: list[str] = []

# Re-export the public names (``__all__``) of every module in this package, so notebooks
# write ``from coursekit.style import name``. Modules are imported in name order.
for _info in sorted(_pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if _info.name.startswith("_"):
        continue
    _module = _importlib.import_module(f"{__name__}.{_info.name}")
    for _name in getattr(_module, "__all__", ()):
        globals()[_name] = getattr(_module, _name)
        __all__.append(_name)
