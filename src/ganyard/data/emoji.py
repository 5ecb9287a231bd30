"""A folder of colour emoji pictures: the high-resolution example for ``data.source: folder``.

    python -m ganyard.data.emoji --out data/emoji [--size 128] [--font PATH]

Debian's ``fonts-noto-color-emoji`` ships the Noto Color Emoji font as colour bitmaps of 136 px. Each of its
single code points (about 1,450 that draw something: faces, animals, food, vehicles, symbols, letters in
boxes) becomes one PNG: the glyph cropped to what it draws, centred on a white square and resized to
``--size`` with Lanczos. Colour, detail and a few thousand images: the regime where the lesson's answers to
high resolution (progressive growing, MSG-GAN, StyleGAN) are meant to matter, made by nobody here. Nothing is
downloaded; without the font the command says how to install it. The default pipeline never uses it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from ganyard.io import write_folder_atomic
from ganyard.params import DataParams
from ganyard.progress import progress_bar

FONT = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
STRIKE = 109  # the one size of the font's bitmap strike (its glyphs are 136 px); other sizes fail to load
FIRST = 0xA0  # below: controls, space and ASCII (#, *, 0-9 are keycap bases), drawn as plain text glyphs
SIZES = DataParams.model_fields["image_size"].annotation.__args__  # what data.image_size allows


class FontMissing(FileNotFoundError):
    """The emoji font is not at the path given."""


def load_font(path: Path = FONT) -> ImageFont.FreeTypeFont:
    """The colour emoji font at its bitmap size. Raises FontMissing with how to install it."""
    if not Path(path).is_file():
        raise FontMissing(
            f"{path} does not exist: the emoji pictures are drawn from the Noto Color Emoji font; install Debian's "
            "fonts-noto-color-emoji (apt-get install fonts-noto-color-emoji), or give --font with the path of NotoColorEmoji.ttf"
        )
    # The basic layout: raqm's raised on some code points.
    return ImageFont.truetype(str(path), STRIKE, layout_engine=ImageFont.Layout.BASIC)


def code_points(path: Path = FONT) -> list[int]:
    """The font's single code points from U+00A0 on, ascending (its cmap, read with fontTools)."""
    from fontTools.ttLib import TTFont  # here: only this tool needs it (matplotlib installs it)

    return sorted(point for point in TTFont(str(path), lazy=True).getBestCmap() if point >= FIRST)


def draw_emoji(font: ImageFont.FreeTypeFont, point: int, size: int) -> Image.Image | None:
    """The glyph of ``point`` as an RGB ``size`` x ``size`` picture on white, or None where it draws nothing."""
    left, top, right, bottom = ImageDraw.Draw(Image.new("RGBA", (1, 1))).textbbox((0, 0), chr(point), font=font)
    if right <= left or bottom <= top:
        return None
    glyph = Image.new("RGBA", (right - left, bottom - top), (255, 255, 255, 0))
    ImageDraw.Draw(glyph).text((-left, -top), chr(point), font=font, embedded_color=True)
    box = glyph.getbbox()  # what is drawn, without the transparent margin
    if box is None:
        return None
    glyph = glyph.crop(box)
    side = max(glyph.size)
    square = Image.new("RGBA", (side, side), (255, 255, 255, 255))
    square.alpha_composite(glyph, ((side - glyph.width) // 2, (side - glyph.height) // 2))
    return square.convert("RGB").resize((size, size), Image.Resampling.LANCZOS)


def write_emoji_folder(out: Path, size: int = 128, font_path: Path = FONT, points: list[int] | None = None, progress: bool = True) -> int:
    """Write ``u<code point>.png`` for every emoji that draws something (of ``points``, default all of
    :func:`code_points`) into the folder ``out``, made whole in a temporary folder and then renamed into
    place. Returns how many."""
    font = load_font(font_path)
    points = code_points(font_path) if points is None else points
    written = 0

    def write(folder: Path) -> None:
        nonlocal written
        for point in progress_bar(points, desc="emoji", unit="picture", enabled=progress):
            picture = draw_emoji(font, point, size)
            if picture is not None:
                picture.save(folder / f"u{point:04x}.png", optimize=True)
                written += 1

    write_folder_atomic(out, write)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ganyard.data.emoji", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="a new or empty folder for the PNG files (then: dvc exp run -S data.source=folder -S data.path=OUT)")
    parser.add_argument("--size", type=int, default=128, choices=SIZES, help="side of the square pictures (default 128; data.image_size 64 downsizes them)")
    parser.add_argument("--font", type=Path, default=FONT, help=f"the Noto Color Emoji font file (default {FONT})")
    args = parser.parse_args(argv)
    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        parser.error(f"--out {out} {'is a file' if not out.is_dir() else 'is not empty'}; give a new or empty folder (nothing is overwritten)")
    try:
        count = write_emoji_folder(out, args.size, args.font)
    except FontMissing as error:
        print(f"ganyard.data.emoji: {error}", file=sys.stderr)
        return 2
    print(f"wrote {count} emoji pictures of {args.size}x{args.size} px to {out}/; train on them with: "
          f"dvc exp run -S data.source=folder -S data.path={out} -S data.image_size=64")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
