"""Builders of small image folders and dataset files for the data tests (written by the tests, never shipped)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image


def png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG whose header claims width x height pixels, with (almost) no pixel data: a decompression bomb's shape."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b""))


def truncated(path: Path, image: Image.Image, fmt: str) -> None:
    """``image`` saved as ``fmt``, then cut to 60 % of its bytes."""
    image.save(path, format=fmt)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.6)])


def colour_image(rgb: tuple[int, int, int], size: tuple[int, int] = (40, 40)) -> Image.Image:
    return Image.new("RGB", size, rgb)


def every_kind_of_good_image(folder: Path) -> dict[str, tuple[int, int, int]]:
    """Write one image per tricky mode into ``folder``; returns file name -> the RGB it should read as."""
    folder.mkdir(parents=True, exist_ok=True)
    expected = {}
    colour_image((200, 30, 40)).save(folder / "rgb.jpg", quality=98)
    expected["rgb.jpg"] = (200, 30, 40)
    rgba = Image.new("RGBA", (40, 40), (0, 255, 0, 255))
    rgba.save(folder / "rgba_opaque.png")
    expected["rgba_opaque.png"] = (0, 255, 0)
    Image.new("RGBA", (40, 40), (255, 0, 0, 0)).save(folder / "rgba_transparent.png")  # red under full transparency
    expected["rgba_transparent.png"] = (0, 0, 0)
    Image.new("CMYK", (40, 40), (0, 255, 255, 0)).save(folder / "cmyk.tiff")  # no cyan, full magenta and yellow: red
    expected["cmyk.tiff"] = (255, 0, 0)
    Image.fromarray(np.full((40, 40), 257 * 100, dtype=np.uint16)).save(folder / "grey16.png")  # 16-bit grey 25700 -> 100
    expected["grey16.png"] = (100, 100, 100)
    palette = Image.new("P", (40, 40), 1)
    palette.putpalette([0, 0, 0, 10, 200, 30] + [0] * (256 * 3 - 6))
    palette.save(folder / "palette.png")
    expected["palette.png"] = (10, 200, 30)
    Image.new("L", (40, 40), 77).save(folder / "grey.bmp")
    expected["grey.bmp"] = (77, 77, 77)
    Image.new("RGB", (40, 40), (0, 0, 255)).save(folder / "blue.gif")
    expected["blue.gif"] = (0, 0, 255)
    return expected


def every_kind_of_bad_file(folder: Path) -> dict[str, str]:
    """Write one unusable file per failure into ``folder``; returns file name -> a word its reason contains."""
    folder.mkdir(parents=True, exist_ok=True)
    truncated(folder / "truncated.jpg", Image.effect_noise((64, 64), 60).convert("RGB"), "JPEG")
    truncated(folder / "truncated.png", Image.effect_noise((64, 64), 60), "PNG")
    (folder / "notes.png").write_text("this is text, not a picture\n")
    (folder / "empty.jpg").write_bytes(b"")
    png_header_only(folder / "bomb.png", 100_000, 100_000)  # 10^10 pixels: over twice Pillow's limit, an error
    png_header_only(folder / "big.png", 10_000, 10_000)  # 10^8 pixels: between one and two limits, Pillow only warns
    return {
        "truncated.jpg": "decoded",
        "truncated.png": "decoded",
        "notes.png": "not an image",
        "empty.jpg": "empty",
        "bomb.png": "pixels",
        "big.png": "pixels",
    }


def write_idx(path: Path, array: np.ndarray) -> None:
    """An IDX file (the MNIST format) of unsigned bytes: magic 0x0000 08 <ndim>, big-endian sizes, data."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def mnist_raw_files(root: Path, folder: str = "MNIST", train: int = 60, test: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The four unpacked MNIST files as torchvision reads them offline, in ``root/folder/raw/``.

    Returns all images (train then test, (N, 28, 28) uint8) and labels (N,), each class equally often.
    """
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(train + test, 28, 28), dtype=np.uint8)
    labels = (np.arange(train + test) % 10).astype(np.uint8)
    raw = root / folder / "raw"
    write_idx(raw / "train-images-idx3-ubyte", images[:train])
    write_idx(raw / "train-labels-idx1-ubyte", labels[:train])
    write_idx(raw / "t10k-images-idx3-ubyte", images[train:])
    write_idx(raw / "t10k-labels-idx1-ubyte", labels[train:])
    return images, labels
