"""Data sources and the preparation of images for training."""

from ganyard.data.prepare import PreparedSplit, prepare_images, split_stratified, summarize
from ganyard.data.sources import load_source

__all__ = ["PreparedSplit", "load_source", "prepare_images", "split_stratified", "summarize"]
