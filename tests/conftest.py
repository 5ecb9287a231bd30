import os

import pytest
import torch

from ganyard.params import Params

# Under pytest-xdist every worker (and every stage a worker's `dvc repro` starts) gets one thread: two
# workers of two threads each on two cores spend their time waiting for each other.
if "PYTEST_XDIST_WORKER" in os.environ:
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)

# The end-to-end modules, longest first. `make test` runs `--dist loadfile --no-loadscope-reorder`: each
# module stays in one worker (its tests share one repository) and the workers take modules in this order,
# so the two longest start at once and the short unit modules fill the gaps at the end.
LONGEST_FIRST = [
    "test_resume.py",
    "test_pipeline.py",
    "test_queue.py",
    "test_pipeline_folder.py",
    "test_distributed.py",
    "test_experiments.py",
    "test_pipeline_stacked.py",
]


def pytest_collection_modifyitems(items):
    if "PYTEST_XDIST_WORKER" in os.environ:  # a plain `pytest` keeps the quick unit tests first
        rank = {name: index for index, name in enumerate(LONGEST_FIRST)}
        items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the order within a module stays


@pytest.fixture(autouse=True)
def _single_thread_determinism():
    torch.manual_seed(0)
    yield


@pytest.fixture
def defaults() -> Params:
    return Params()
