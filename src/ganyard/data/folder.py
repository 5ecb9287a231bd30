"""A folder of the user's own images as a data source.

Layout, as torchvision's ``ImageFolder`` reads it: class sub-folders (``path/cat/*.jpg``,
``path/dog/*.png``) give labelled data, the sub-folder names sorted are the classes; images directly
in ``path`` give unlabelled data. Files whose extension Pillow does not know (a README, .DS_Store) are
ignored; hidden files and folders too. Every image is decoded with Pillow (its decompression-bomb
guard on), converted to 1 or 3 channels, center-cropped to a square and resized with antialiasing.
Files that cannot be read are collected with the reason, not raised, so that all of them can be listed.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from ganyard.io import DataError
from ganyard.progress import progress_bar


def image_extensions() -> frozenset[str]:
    """Lower-case extensions (with the dot) of every format this Pillow can open."""
    Image.init()
    return frozenset(extension.lower() for extension, format_name in Image.registered_extensions().items() if format_name in Image.OPEN)


@dataclass(frozen=True)
class FolderLayout:
    """What is in an image folder, before any image is decoded.

    ``files`` sorted relative paths; ``labels`` the class index of each file, or None for a flat
    (unlabelled) folder; ``class_names`` the sorted sub-folder names; ``ignored`` files skipped for
    their extension.
    """

    root: Path
    files: list[str]
    labels: list[int] | None
    class_names: list[str] | None
    ignored: list[str] = field(default_factory=list)

    @property
    def labelled(self) -> bool:
        return self.class_names is not None


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def _files_below(folder: Path, root: Path, extensions: frozenset[str]) -> tuple[list[str], list[str]]:
    images, ignored = [], []
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or _hidden(path, root):
            continue
        relative = path.relative_to(root).as_posix()
        (images if path.suffix.lower() in extensions else ignored).append(relative)
    return images, ignored


def scan_folder(path: str | Path) -> FolderLayout:
    """List the images of a folder and their classes (no decoding). Raises DataError on a bad layout."""
    root = Path(path).expanduser()
    if not root.exists():
        raise DataError(f"data.path = {str(path)!r} does not exist")
    if not root.is_dir():
        raise DataError(f"data.path = {str(path)!r} is a file, not a folder of images")
    extensions = image_extensions()
    class_folders = sorted(child for child in root.iterdir() if child.is_dir() and not child.name.startswith("."))
    top_images, top_ignored = [], []
    for child in sorted(root.iterdir()):
        if child.is_file() and not child.name.startswith("."):
            (top_images if child.suffix.lower() in extensions else top_ignored).append(child.name)
    if not class_folders:
        if not top_images:
            raise DataError(f"data.path = {str(path)!r} holds no images (looked for {', '.join(sorted(extensions)[:12])}, ...)")
        return FolderLayout(root, top_images, None, None, top_ignored)
    if top_images:
        shown = ", ".join(top_images[:3]) + (" ..." if len(top_images) > 3 else "")
        raise DataError(
            f"data.path = {str(path)!r} has both class sub-folders ({', '.join(c.name for c in class_folders[:5])}) and "
            f"{len(top_images)} images at its top level ({shown}); move those into a class folder, or use a folder "
            "with images only (unlabelled) or with sub-folders only (one per class)"
        )
    files, labels, ignored = [], [], list(top_ignored)
    for index, folder in enumerate(class_folders):
        images, skipped = _files_below(folder, root, extensions)
        if not images:
            raise DataError(f"class folder {folder.name!r} in data.path = {str(path)!r} holds no images; remove it or add some")
        files += images
        labels += [index] * len(images)
        ignored += skipped
    return FolderLayout(root, files, labels, [folder.name for folder in class_folders], ignored)


def _to_rgb_or_grey(image: Image.Image, channels: int) -> Image.Image:
    """Any Pillow mode -> "L" (channels 1) or "RGB" (channels 3).

    16-bit and 32-bit grey are scaled to 8 bits (Pillow's own convert would clip them at 255);
    transparency is composited over black, so what is under transparent pixels never shows.
    """
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        array = np.asarray(image, dtype=np.float64)
        if image.mode != "F":
            array = array / 257.0  # 65535 -> 255
        image = Image.fromarray(np.clip(array + 0.5, 0, 255).astype(np.uint8), mode="L")
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, (0, 0, 0, 255)), rgba)
    if channels == 1:
        return image if image.mode == "L" else image.convert("RGB").convert("L")
    return image.convert("RGB")


def read_image(path: str | Path, channels: int, size: int) -> np.ndarray:
    """One image file -> uint8 array (channels, size, size).

    EXIF orientation is applied (phone photos stand upright), the image is converted to ``channels``,
    then the largest centred square is cropped and resized to ``size`` with Lanczos antialiasing.
    Raises whatever Pillow raises for an unreadable file; images above Pillow's decompression-bomb
    limit (``PIL.Image.MAX_IMAGE_PIXELS``) raise too, also between one and two times the limit, where
    Pillow by itself only warns.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(path) as image:
            image.draft("RGB" if channels == 3 else "L", (size, size))  # JPEG: decode at a reduced scale, still >= size
            image.load()
            image = ImageOps.exif_transpose(image)
            image = _to_rgb_or_grey(image, channels)
    square = ImageOps.fit(image, (size, size), method=Image.Resampling.LANCZOS, centering=(0.5, 0.5))
    array = np.asarray(square, dtype=np.uint8)
    return array[None] if channels == 1 else array.transpose(2, 0, 1)


def why_unreadable(path: Path, error: BaseException) -> str:
    """A short reason for a bad image file, for the list shown to the user."""
    if path.stat().st_size == 0:
        return "empty file (0 bytes)"
    if isinstance(error, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
        return f"too many pixels: {str(error).split(', could be')[0]} (Pillow's decompression-bomb guard)"
    if isinstance(error, Image.UnidentifiedImageError):
        return "not an image Pillow can read"
    message = str(error).splitlines()[0] if str(error) else type(error).__name__
    return f"cannot be decoded ({message})"


@dataclass
class FolderImages:
    """Decoded images uint8 (N, C, S, S), labels int64 (N,) or None, and the files left out."""

    images: np.ndarray
    labels: np.ndarray | None
    class_names: list[str] | None
    bad: list[tuple[str, str]]
    ignored: list[str]


def load_folder(path: str | Path, channels: int, size: int, on_bad_image: str = "skip", progress: bool = True) -> FolderImages:
    """Decode every image of a folder (see ``scan_folder`` for the layout).

    Bad files (truncated, not an image, empty, too many pixels) are skipped with ``on_bad_image =
    'skip'`` and listed in ``bad`` as (relative path, reason); with ``'fail'`` a DataError lists them
    all. Raises DataError too when no good image is left, or a class has none left.
    """
    layout = scan_folder(path)
    images = np.empty((len(layout.files), channels, size, size), dtype=np.uint8)
    good = np.zeros(len(layout.files), dtype=bool)
    bad: list[tuple[str, str]] = []
    for index, name in enumerate(progress_bar(layout.files, desc=f"reading {path}", unit="img", enabled=progress)):
        file = layout.root / name
        try:
            images[index] = read_image(file, channels, size)
            good[index] = True
        except Exception as error:  # any failure to decode a user's file makes it a bad file, listed with its reason
            bad.append((name, why_unreadable(file, error)))
    if bad and on_bad_image == "fail":
        raise DataError(
            f"{len(bad)} of {len(layout.files)} files in data.path = {str(path)!r} are not usable images "
            f"(data.on_bad_image = 'fail'; 'skip' leaves them out):\n" + format_bad(bad)
        )
    if not good.any():
        raise DataError(f"none of the {len(layout.files)} image files in data.path = {str(path)!r} can be read:\n" + format_bad(bad))
    labels = None
    if layout.labels is not None:
        labels = np.asarray(layout.labels, dtype=np.int64)[good]
        empty = [name for index, name in enumerate(layout.class_names) if not (labels == index).any()]
        if empty:
            raise DataError(f"class folders {empty} in data.path = {str(path)!r} hold no readable image:\n" + format_bad(bad))
    return FolderImages(images[good], labels, layout.class_names, bad, layout.ignored)


def format_bad(bad: list[tuple[str, str]], limit: int | None = None) -> str:
    """One ``  name: reason`` line per bad file (the first ``limit`` of them, then a count)."""
    shown = bad if limit is None else bad[:limit]
    lines = [f"  {name}: {reason}" for name, reason in shown]
    if len(shown) < len(bad):
        lines.append(f"  ... and {len(bad) - len(shown)} more")
    return "\n".join(lines)
