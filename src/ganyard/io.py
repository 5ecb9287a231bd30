"""Reading and writing the pipeline's files: every output a stage writes goes through here (dvclive writes
its own staging folder, which ganyard.training_log publishes through here).

Every write goes to a temporary file beside the target and is renamed over it, so a crash leaves
either the old file or the new one, never half of one. Every torch load is ``weights_only=True``.
"""

from __future__ import annotations

import errno
import glob
import io
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

if TYPE_CHECKING:
    import torch


class ArtifactError(RuntimeError):
    """A file the pipeline needs is missing, unreadable or not what it should be."""


class DataError(ValueError):
    """The data a source names is missing, unreadable or laid out in a way ganyard cannot use."""


_WRITE_HINTS = {
    errno.ENOSPC: "the disk is full: free some space (`dvc gc` removes cache entries no commit or experiment uses) and run again",
    errno.EDQUOT: "the disk quota is used up: free some space and run again",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "no permission to write there",
    errno.EPERM: "no permission to write there",
}


def write_error_message(path: Path, error: OSError) -> str:
    """``cannot write <path>: <why>; <what to do>`` for an OSError met while writing ``path``."""
    blocking = next((parent for parent in reversed(path.parents) if parent.exists() and not parent.is_dir()), None)
    if blocking is not None:
        return f"cannot write {path}: {blocking} is a file, not a folder; move it away and run again"
    hint = _WRITE_HINTS.get(error.errno, "")
    return f"cannot write {path}: {error.strerror or error}{'; ' + hint if hint else ''} (any previous {path.name} is unchanged)"


def write_atomic(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(temporary_path)``, then rename the temporary file onto ``path``.

    An OSError (full disk, read-only or unwritable folder) becomes an ArtifactError that says which
    file and why; the temporary file is removed and the previous file is left as it was.
    """
    path = Path(path)
    prefix = f".{path.name}."
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for stale in path.parent.glob(f"{glob.escape(prefix)}*.tmp"):  # left by a writer that was killed
            if re.fullmatch(re.escape(prefix) + r"[a-z0-9_]{8}\.tmp", stale.name):  # mkstemp's names; not another file's ("x" vs "x.json")
                stale.unlink(missing_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=path.parent)
    except OSError as error:
        raise ArtifactError(write_error_message(path, error)) from None
    os.close(handle)
    try:
        write(Path(temporary))
        os.replace(temporary, path)
    except BaseException as error:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise ArtifactError(write_error_message(path, error)) from None
        raise
    return path


def write_folder_atomic(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(temporary_folder)``, then put that folder in the place of ``path`` (a folder of many files).

    The new folder is complete before it is renamed into place, so ``path`` is never half written; a
    failed write leaves the previous folder as it was. An OSError becomes an ArtifactError naming ``path``.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    except OSError as error:
        raise ArtifactError(write_error_message(path, error)) from None
    try:
        write(temporary)
        if path.exists():
            previous = path.with_name(f"{temporary.name}.old")
            os.replace(path, previous)
            os.replace(temporary, path)
            shutil.rmtree(previous)
        else:
            os.replace(temporary, path)
    except BaseException as error:
        shutil.rmtree(temporary, ignore_errors=True)
        if isinstance(error, OSError):
            raise ArtifactError(write_error_message(path, error)) from None
        raise
    return path


def save_torch(obj: object, path: str | Path) -> Path:
    """Save tensors / state dicts (plain containers of tensors, numbers and strings).

    Serialized in memory first: torch.save names the archive inside the file after the file, and
    the temporary name would make equal weights give different bytes (and needless DVC reruns).
    """
    import torch  # here and below, not at the top: check_params imports this module and needs no torch (2 s to import)

    buffer = io.BytesIO()
    torch.save(_canonical(obj), buffer)
    return write_atomic(path, lambda temporary: temporary.write_bytes(buffer.getvalue()))


def _canonical(obj: object) -> object:
    """``obj`` with its dicts, lists and tuples rebuilt and its strings interned: pickle writes a string
    once and refers back to it when the same object recurs, so without this, equal content (a resumed
    run's records, read back by torch.load, against an uninterrupted run's) could give other bytes."""
    if isinstance(obj, str):
        return sys.intern(obj)
    if type(obj) is dict:
        return {_canonical(key): _canonical(value) for key, value in obj.items()}
    if type(obj) in (list, tuple):
        return type(obj)(_canonical(value) for value in obj)
    return obj


def load_torch(path: str | Path, what: str = "file") -> dict:
    """Load a file written by ``save_torch``, refusing anything but tensors and plain data."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"{what} {path} does not exist; run the stage that writes it (dvc repro)")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for corrupt or unsafe files
        raise ArtifactError(f"{what} {path} cannot be loaded: {str(error).splitlines()[0]}") from None


def publish(staging: str | Path, target: str | Path, remove_others: bool = False, seen: dict | None = None) -> list[str]:
    """Copy every file under ``staging`` that is new or changed to the same place under ``target``, atomically.

    For writers that cannot be made atomic themselves (dvclive appends to its TSVs): they write to a
    staging folder, and only whole files reach ``target``. ``remove_others`` then deletes the files
    under ``target`` that are not in ``staging`` (a previous, longer run's). ``seen``, a dict the caller
    keeps between calls, remembers each staged file's size and modification time, so that files
    unchanged since the last call are not read again (a long run's hundreds of preview images).
    Returns the relative paths copied.
    """
    staging, target = Path(staging), Path(target)
    copied = []
    for source in sorted(path for path in staging.rglob("*") if path.is_file()):
        relative = source.relative_to(staging)
        destination = target / relative
        status = source.stat()
        if seen is not None:
            if seen.get(relative) == (status.st_size, status.st_mtime_ns) and destination.is_file():
                continue
            seen[relative] = (status.st_size, status.st_mtime_ns)
        content = source.read_bytes()
        if destination.is_file() and destination.read_bytes() == content:
            continue
        write_atomic(destination, lambda temporary: temporary.write_bytes(content))  # noqa: B023 (called at once)
        copied.append(relative.as_posix())
    if remove_others:
        for stale in [path for path in target.rglob("*") if path.is_file() and not (staging / path.relative_to(target)).is_file()]:
            stale.unlink()
    return copied


def save_json(obj: object, path: str | Path) -> Path:
    text = json.dumps(obj, indent=2, sort_keys=False) + "\n"
    return write_atomic(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))


def save_png(image: Image.Image, path: str | Path) -> Path:
    return write_atomic(path, lambda temporary: image.save(temporary, format="PNG"))


def write_text(text: str, path: str | Path) -> Path:
    return write_atomic(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))


SKIMAGE_PREFIX = "skimage:"
# Pictures that scikit-image ships inside its wheel (the others in skimage.data need a download).
SKIMAGE_OFFLINE = (
    "astronaut",
    "brick",
    "camera",
    "cat",
    "checkerboard",
    "chelsea",
    "clock",
    "coffee",
    "coins",
    "colorwheel",
    "grass",
    "gravel",
    "horse",
    "hubble_deep_field",
    "immunohistochemistry",
    "logo",
    "moon",
    "page",
    "retina",
    "rocket",
    "text",
)


def load_image(spec: str) -> torch.Tensor:
    """An RGB image (1, 3, H, W) float32 in [0, 1] from ``skimage:<name>`` or a file path.

    Raises ArtifactError naming the image when it is missing, unreadable or not a picture.
    """
    import numpy as np
    import torch

    if spec.startswith(SKIMAGE_PREFIX):
        name = spec[len(SKIMAGE_PREFIX) :]
        if name not in SKIMAGE_OFFLINE:
            raise ArtifactError(f"unknown image {spec!r}; the pictures bundled with scikit-image are: " + ", ".join(f"skimage:{n}" for n in SKIMAGE_OFFLINE))
        import skimage.data

        array = np.asarray(getattr(skimage.data, name)())
        if array.dtype == bool:
            array = array.astype(np.uint8) * 255
        picture = Image.fromarray(array)
    else:
        path = Path(spec).expanduser()
        if not path.is_file():
            raise ArtifactError(f"image {spec!r} does not exist (give a file path, or skimage:<name> for a bundled picture)")
        try:
            with Image.open(path) as opened:
                opened.load()
                picture = opened.copy()
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
            raise ArtifactError(f"image {spec!r} cannot be read as a picture: {error}") from None
    rgb = np.asarray(picture.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(rgb).permute(2, 0, 1).unsqueeze(0).contiguous()
