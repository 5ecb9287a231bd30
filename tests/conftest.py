import pytest
import torch

from ganyard.params import Params


@pytest.fixture(autouse=True)
def _single_thread_determinism():
    torch.manual_seed(0)
    yield


@pytest.fixture
def defaults() -> Params:
    return Params()
