"""Data sources and the preparation of images for training."""

from ganyard.data.folder import load_folder, read_image, scan_folder
from ganyard.data.prepare import PreparedData, PreparedSplit, prepare_data, prepare_images, split_stratified, summarize
from ganyard.data.sources import RawData, load_source
from ganyard.io import DataError

__all__ = [
    "DataError",
    "PreparedData",
    "PreparedSplit",
    "RawData",
    "load_folder",
    "load_source",
    "prepare_data",
    "prepare_images",
    "read_image",
    "scan_folder",
    "split_stratified",
    "summarize",
]
