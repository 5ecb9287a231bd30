from unittest import mock

import pytest
import torch

from ganyard.io import ArtifactError, save_torch
from ganyard.metrics.backbones import FIDInceptionV3, extract, load_backbones
from ganyard.models.evaluator import EvaluatorCNN
from ganyard.params import EvaluateParams


@pytest.fixture(scope="module")
def random_inception():
    torch.manual_seed(0)
    model = FIDInceptionV3().eval()
    for module in model.modules():  # non-trivial batch-norm statistics, so a wrong block order shows
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.normal_(0, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    return model


def test_inception_matches_pytorch_fid_on_the_same_weights(random_inception):
    import pytorch_fid.inception as reference_module

    state = random_inception.net.state_dict()
    with mock.patch.object(reference_module, "load_state_dict_from_url", lambda *args, **kwargs: state):
        reference = reference_module.InceptionV3([3], resize_input=True, normalize_input=True, use_fid_inception=True).eval()
    images = torch.rand(2, 1, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.no_grad():
        features, logits = random_inception(images)
        expected = reference((images.expand(-1, 3, -1, -1) + 1) / 2)[0].flatten(1)  # pytorch-fid takes [0, 1] RGB
    assert features.shape == (2, 2048) and logits.shape == (2, 1008)
    torch.testing.assert_close(features, expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(logits, features @ random_inception.net.fc.weight.T)  # IS logits have no bias


def test_inception_weights_file_is_loaded_and_used(random_inception, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    evaluator = EvaluatorCNN(1, 10, width=4, feature_dim=8)
    save_torch({"config": evaluator.config, "state_dict": evaluator.state_dict()}, "models/evaluator.pt")
    weights = save_torch(random_inception.net.state_dict(), tmp_path / "fid_inception.pth")
    loaded_evaluator, inception = load_backbones(EvaluateParams(backbone="inception", inception_weights=str(weights)))
    images = torch.rand(1, 1, 32, 32) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(inception(images)[0], random_inception(images)[0])
        torch.testing.assert_close(loaded_evaluator(images), evaluator.eval()(images))


def test_missing_or_wrong_inception_weights_say_what_to_do(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    evaluator = EvaluatorCNN(1, 10, width=4, feature_dim=8)
    save_torch({"config": evaluator.config, "state_dict": evaluator.state_dict()}, "models/evaluator.pt")
    with pytest.raises(ArtifactError) as caught:
        load_backbones(EvaluateParams(backbone="inception", inception_weights=str(tmp_path / "nope.pth")))
    message = str(caught.value)
    assert "nope.pth" in message and "pt_inception-2015-12-05-6726825d.pth" in message and "torch" in message
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(ArtifactError, match=r"hub.checkpoints.pt_inception-2015-12-05-6726825d.pth"):
        load_backbones(EvaluateParams(backbone="inception"))
    wrong = save_torch({"conv.weight": torch.zeros(1)}, tmp_path / "wrong.pth")
    with pytest.raises(ArtifactError, match="does not hold the FID Inception weights"):
        load_backbones(EvaluateParams(backbone="inception", inception_weights=str(wrong)))


def test_missing_evaluator_names_the_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(Exception, match="evaluator models/evaluator.pt does not exist"):
        load_backbones(EvaluateParams())


def test_extract_batches_give_the_same_features_and_probabilities_sum_to_one():
    evaluator = EvaluatorCNN(1, 10, width=4, feature_dim=8).eval()
    images = torch.rand(23, 1, 16, 16) * 2 - 1
    features, probabilities = extract(evaluator.features_and_logits, images, batch_size=5, progress=False)
    whole, _ = extract(evaluator.features_and_logits, images, batch_size=100, progress=False)
    assert features.shape == (23, 8) and probabilities.shape == (23, 10)
    torch.testing.assert_close(features, whole)
    torch.testing.assert_close(probabilities.sum(1), torch.ones(23, dtype=torch.float64))
