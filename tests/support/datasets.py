"""Where the shared datasets are: ``$ADHERENCE_DATASETS`` or ``<repo>/../shared/datasets``."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
"""The repository root."""


def datasets_dir() -> Path:
    """Folder of the shared datasets: ``$ADHERENCE_DATASETS`` or ``<repo>/../shared/datasets``."""
    env = os.environ.get("ADHERENCE_DATASETS")
    return Path(env) if env else REPO.parent / "shared" / "datasets"


def dataset_or_skip(*parts: str) -> Path:
    """The folder ``parts`` of the shared datasets; skips the test when it is absent."""
    import pytest

    folder = datasets_dir().joinpath(*parts)
    if not folder.is_dir():
        pytest.skip(f"dataset folder absent: {folder}")
    return folder
