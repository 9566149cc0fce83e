"""Datasets for the course, each loaded through one resolution order.

See :mod:`coursekit.data.sources`: ``COURSEKIT_DATA`` folder, then the real source, then an
announced synthetic fallback.
"""

from coursekit.data.sources import SOURCES, data_dir, local_file, offline, resolve

__all__ = ["SOURCES", "data_dir", "local_file", "offline", "resolve"]
