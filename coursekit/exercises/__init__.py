"""Self-checks for the notebooks' exercises: ``check_<name>(student_function)`` runs cases
built to expose the classic mistakes and prints one line.
"""

import importlib as _importlib
import pkgutil as _pkgutil

__all__: list[str] = []

# Re-export the public names (``__all__``) of every module in this package, so notebooks
# write ``from coursekit.exercises import name``. Modules are imported in name order.
for _info in sorted(_pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if _info.name.startswith("_"):
        continue
    _module = _importlib.import_module(f"{__name__}.{_info.name}")
    for _name in getattr(_module, "__all__", ()):
        globals()[_name] = getattr(_module, _name)
        __all__.append(_name)
