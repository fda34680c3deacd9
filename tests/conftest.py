"""pytest set-up shared by all tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True, scope="session")
def _work_in_a_temporary_directory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Path]:
    """
    trial's C{mktemp()} makes paths relative to the working directory; trial
    itself runs in C{_trial_temp}, so under pytest do the same and keep the
    source tree clean.
    """
    folder = tmp_path_factory.mktemp("trial_temp")
    previous = os.getcwd()
    os.chdir(folder)
    yield folder
    os.chdir(previous)
