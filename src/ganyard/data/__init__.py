"""Data sources and the preparation of images for training.

The names below are imported on first use (PEP 562), so that ``ganyard.data.folder`` alone, which
check_params needs, does not pull in torch through ``ganyard.data.prepare``.
"""

import importlib

_MODULE_OF = {
    "DataError": "ganyard.io",
    "load_folder": "ganyard.data.folder",
    "read_image": "ganyard.data.folder",
    "scan_folder": "ganyard.data.folder",
    "PreparedData": "ganyard.data.prepare",
    "PreparedSplit": "ganyard.data.prepare",
    "prepare_data": "ganyard.data.prepare",
    "prepare_images": "ganyard.data.prepare",
    "split_stratified": "ganyard.data.prepare",
    "summarize": "ganyard.data.prepare",
    "RawData": "ganyard.data.sources",
    "load_source": "ganyard.data.sources",
}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str):
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'ganyard.data' has no attribute {name!r}")
    return getattr(importlib.import_module(_MODULE_OF[name]), name)


def __dir__() -> list[str]:
    return __all__
