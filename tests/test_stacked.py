import pytest
import torch

from ganyard.data.prepare import prepare_data
from ganyard.data.sources import load_mnist5k
from ganyard.data.stacked import MODE_NAMES, channel_digits, stack_digits, stacked_modes
from ganyard.evaluator import stacked_evaluator
from ganyard.metrics.evaluation import mode_scores
from ganyard.metrics.scores import mode_coverage
from ganyard.models.evaluator import EvaluatorCNN, mode_log_probabilities
from ganyard.params import DataParams, ParamsError, validate_params


def test_each_channel_is_one_of_the_digits_and_the_mode_reads_their_labels():
    digits = load_mnist5k()
    stacked, modes = stack_digits(digits.images, digits.labels, 2000, seed=3)
    assert stacked.shape == (2000, 3, 32, 32) and stacked.dtype == torch.uint8 and modes.dtype == torch.int64
    flat = digits.images.flatten(1)
    for index in (0, 1, 1999):
        for channel in range(3):
            matches = (flat == stacked[index, channel].flatten()).all(dim=1).nonzero().flatten()
            assert len(matches) >= 1  # this channel is one of the digits, pixel for pixel
            assert int(digits.labels[matches[0]]) == int(modes[index]) // 10 ** (2 - channel) % 10
    channel_labels = torch.stack([modes // 100, modes // 10 % 10, modes % 10], dim=1)
    assert stacked_modes(channel_labels.numpy()).tolist() == modes.tolist()
    covered, kl = mode_coverage(modes.numpy(), 1000)
    assert covered > 800 and kl < 0.6  # 2,000 uniform draws of 1,000 modes: about 865 seen, KL about 0.45


def test_stacking_is_seeded_and_uses_only_the_digits_given():
    digits = load_mnist5k()
    train = torch.arange(0, 5000, 2)  # a split: the other digits must never appear
    first = stack_digits(digits.images[train], digits.labels[train], 300, seed=7)
    again = stack_digits(digits.images[train], digits.labels[train], 300, seed=7)
    other = stack_digits(digits.images[train], digits.labels[train], 300, seed=8)
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1]) and not torch.equal(first[0], other[0])
    left_out = {bytes(image.numpy()) for image in digits.images[1::2, 0]} - {bytes(image.numpy()) for image in digits.images[train, 0]}
    assert not any(bytes(channel.numpy()) in left_out for image in first[0] for channel in image)


def test_stacking_refuses_colour_images_and_missing_labels():
    with pytest.raises(ValueError, match=r"single-channel digits \(N, 1, H, W\), got \(4, 3, 8, 8\)"):
        stack_digits(torch.zeros(4, 3, 8, 8, dtype=torch.uint8), torch.zeros(4, dtype=torch.int64), 2, 0)
    with pytest.raises(ValueError, match="4 digits, 3 labels"):
        stack_digits(torch.zeros(4, 1, 8, 8, dtype=torch.uint8), torch.zeros(3, dtype=torch.int64), 2, 0)


def test_channel_digits_inverts_stacked_modes():
    modes = torch.tensor([0, 7, 70, 700, 999, 123])
    assert channel_digits(modes).tolist() == [[0, 0, 0], [0, 0, 7], [0, 7, 0], [7, 0, 0], [9, 9, 9], [1, 2, 3]]
    assert stacked_modes(channel_digits(torch.arange(1000)).numpy()).tolist() == list(range(1000))
    assert MODE_NAMES[0] == "000" and MODE_NAMES[123] == "123" and len(MODE_NAMES) == 1000


@pytest.fixture(scope="module")
def stacked_data():
    return prepare_data(DataParams(source="stacked_mnist", image_size=16, stacked_train_images=300, stacked_test_images=200), progress=False)


def test_the_stacked_source_stacks_each_split_from_its_own_digits(stacked_data):
    train, test = stacked_data.splits["train"], stacked_data.splits["test"]
    assert train.images.shape == (300, 3, 16, 16) and test.images.shape == (200, 3, 16, 16)
    assert train.digits.shape == (4000, 1, 16, 16) and test.digits.shape == (1000, 1, 16, 16)
    assert train.class_names == test.class_names == MODE_NAMES
    for split, other in ((train, test), (test, train)):
        own = {bytes(digit.numpy()): int(label) for digit, label in zip(split.digits[:, 0], split.digit_labels)}
        others = {bytes(digit.numpy()) for digit in other.digits[:, 0]} - set(own)
        for image, mode in zip(split.images[:50], split.labels[:50]):
            channels = [bytes(channel.numpy()) for channel in image]
            assert not any(channel in others for channel in channels)  # never a digit of the other split
            assert [own[channel] for channel in channels] == channel_digits(mode).tolist()  # the mode reads the channels' digits
    summary = stacked_data.summary
    assert summary["classes"] == 1000 and summary["train"]["count"] == 300 and "per_class" not in summary["train"]
    assert 0 < summary["test"]["classes_present"] <= 200
    again = prepare_data(DataParams(source="stacked_mnist", image_size=16, stacked_train_images=300, stacked_test_images=200), progress=False)
    assert torch.equal(again.splits["train"].images, train.images)  # seeded by data.split_seed


def test_stacked_digits_in_one_channel_are_refused():
    with pytest.raises(ParamsError, match="data.channels = 1: its images are three digits in the three colour channels"):
        validate_params({"data": {"source": "stacked_mnist", "channels": 1}})


def test_mode_log_probabilities_add_the_channels_log_probabilities():
    # two channels of two digits: p = (0.9, 0.1) and (0.3, 0.7) -> modes 00, 01, 10, 11
    channels = torch.tensor([[[0.9, 0.1], [0.3, 0.7]]]).log()
    expected = torch.tensor([[0.27, 0.63, 0.03, 0.07]])
    torch.testing.assert_close(mode_log_probabilities(channels).exp(), expected)
    three = torch.randn(5, 3, 10).log_softmax(dim=2)
    modes = mode_log_probabilities(three)
    torch.testing.assert_close(modes.exp().sum(dim=1), torch.ones(5, dtype=modes.dtype))
    assert modes.argmax(dim=1).tolist() == stacked_modes(three.argmax(dim=2).numpy()).tolist()


def test_the_stacked_evaluator_reads_each_channel_with_the_digit_classifier():
    torch.manual_seed(0)
    digits = EvaluatorCNN(1, 10, width=4, feature_dim=8).eval()
    evaluator = stacked_evaluator(digits, channels=3)
    assert evaluator.task == "stacked" and evaluator.config["classes"] == 1000
    images = torch.rand(6, 3, 16, 16) * 2 - 1
    with torch.no_grad():
        features, logits = evaluator.features_and_logits(images)
        per_channel = [digits.features_and_logits(images[:, channel : channel + 1]) for channel in range(3)]
    torch.testing.assert_close(features, torch.cat([channel_features for channel_features, _ in per_channel], dim=1))
    channel_log_probabilities = torch.stack([channel_logits.log_softmax(dim=1) for _, channel_logits in per_channel], dim=1)
    torch.testing.assert_close(logits, mode_log_probabilities(channel_log_probabilities))
    # the most probable mode is the three most probable digits, red first
    assert logits.argmax(dim=1).tolist() == stacked_modes(channel_log_probabilities.argmax(dim=2).numpy()).tolist()
    with pytest.raises(ValueError, match="single-channel digits"):
        stacked_evaluator(EvaluatorCNN(3, 10, width=4, feature_dim=8), channels=3)


def one_hot(modes: list[int]) -> torch.Tensor:
    return torch.nn.functional.one_hot(torch.tensor(modes), 1000).double()


def test_mode_scores_count_the_modes_of_the_first_samples_beside_the_real_floor():
    import math

    samples = {"class_probabilities": one_hot([7] * 2000 + list(range(1000)))}  # collapsed in the first 2,000
    test = {"class_probabilities": one_hot(list(range(1000)) * 2 + [3] * 5)}  # every mode twice
    scores = mode_scores(samples, test, 2000)
    assert scores["modes"] == 1 and scores["mode_kl"] == pytest.approx(math.log(1000))
    assert scores["modes_real"] == 1000 and scores["mode_kl_real"] == pytest.approx(0.0, abs=1e-12)
    assert scores["mode_samples"] == 2000
    half = mode_scores({"class_probabilities": one_hot([0, 1] * 500)}, test, 1000)  # two modes, equally: KL = log(1000 / 2)
    assert half["modes"] == 2 and half["mode_kl"] == pytest.approx(math.log(500))
    with pytest.raises(ValueError, match="2005 given"):
        mode_scores(samples, test, 2500)


def test_stacked_mnist_needs_enough_samples_and_test_images_for_its_mode_count():
    with pytest.raises(ParamsError, match=r"evaluate.mode_samples = 26000 .* but sample.count = 5000; raise sample.count to at least 26000"):
        validate_params({"data": {"source": "stacked_mnist"}})
    with pytest.raises(ParamsError, match=r"data.stacked_test_images = 1000"):
        validate_params({"data": {"source": "stacked_mnist", "stacked_test_images": 1000}, "sample": {"count": 26000}})
    validate_params({"data": {"source": "stacked_mnist"}, "sample": {"count": 26000}})
    validate_params({"data": {"source": "stacked_mnist"}, "sample": {"count": 1000}, "evaluate": {"mode_samples": 1000}})
    validate_params({"sample": {"count": 1000}})  # other sources count no modes
    with pytest.raises(ParamsError, match="model.conditional = true with data.source: stacked_mnist would tell the generator"):
        validate_params({"data": {"source": "stacked_mnist"}, "sample": {"count": 26000}, "model": {"conditional": True}})
