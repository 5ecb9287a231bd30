"""ganyard.data.emoji: the colour emoji folder for high-resolution experiments. The tests that draw need Debian's
fonts-noto-color-emoji and are skipped without it; the message for a missing font is tested everywhere."""

import numpy as np
import pytest
from PIL import Image

from ganyard.data import prepare_data
from ganyard.data.emoji import FONT, code_points, main, write_emoji_folder
from ganyard.params import DataParams

needs_font = pytest.mark.skipif(not FONT.is_file(), reason=f"{FONT} is not installed (apt-get install fonts-noto-color-emoji)")


def test_without_the_font_the_command_says_how_to_install_it_and_writes_nothing(tmp_path, capsys):
    assert main(["--out", str(tmp_path / "emoji"), "--font", str(tmp_path / "NotoColorEmoji.ttf")]) == 2
    message = capsys.readouterr().err
    assert "NotoColorEmoji.ttf does not exist" in message and "apt-get install fonts-noto-color-emoji" in message and "--font" in message
    assert not (tmp_path / "emoji").exists()


def test_a_folder_with_files_or_a_size_the_data_cannot_take_is_refused(tmp_path, capsys):
    (tmp_path / "kept.png").write_bytes(b"x")
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path)])
    assert "is not empty; give a new or empty folder" in capsys.readouterr().err and (tmp_path / "kept.png").read_bytes() == b"x"
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path / "new"), "--size", "100"])
    assert "invalid choice: 100 (choose from 16, 32, 64, 128)" in capsys.readouterr().err


@needs_font
def test_each_emoji_is_a_colour_picture_centred_on_white_and_the_folder_source_reads_them(tmp_path):
    points = code_points()
    assert len(points) > 1400  # the font's single code points from U+00A0 on
    count = write_emoji_folder(tmp_path / "emoji", size=32, points=points[::36], progress=False)  # 41 across the font
    files = sorted((tmp_path / "emoji").iterdir())
    assert 35 <= count == len(files) <= 41 and all(file.name.startswith("u") and file.suffix == ".png" for file in files)
    pictures = np.stack([np.asarray(Image.open(file)) for file in files])
    assert pictures.shape == (count, 32, 32, 3)
    corners = pictures[:, [0, 0, -1, -1], [0, -1, 0, -1]]
    assert (corners > 200).all(axis=(1, 2)).mean() > 0.6  # drawn on white (square glyphs, boxed letters, fill theirs)
    centre = pictures[:, 12:20, 12:20].astype(int)
    assert (centre.min(axis=(1, 2, 3)) < 200).mean() > 0.9  # something drawn in the middle of nearly every one
    assert (np.abs(centre[..., 0] - centre[..., 2]).max(axis=(1, 2)) > 60).mean() > 0.5  # in colour, not grey
    prepared = prepare_data(DataParams(source="folder", path=str(tmp_path / "emoji"), image_size=16), progress=False)
    assert prepared.summary["train"]["count"] + prepared.summary["test"]["count"] == count
    assert prepared.summary["image_shape"] == [3, 16, 16] and not prepared.summary["labelled"]
