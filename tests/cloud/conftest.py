"""Fixtures for the cloud engine's tests: one fake Graph API per module, reset per
test, and a started engine."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.cloud.support import started
from tests.fakes.graph_api import (
    TOKEN,
    FakeGraphAPI,
)
from wacc.engines.cloud import CloudEngine


@pytest.fixture(scope="module")
async def fake() -> AsyncIterator[FakeGraphAPI]:
    api = FakeGraphAPI()
    async with api.serve():
        yield api


@pytest.fixture
def api(fake: FakeGraphAPI) -> FakeGraphAPI:
    fake.reset()
    fake.token = TOKEN
    return fake


@pytest.fixture
async def engine(api: FakeGraphAPI, tmp_path: Path) -> AsyncIterator[CloudEngine]:
    eng, _ = await started(api, tmp_path)
    yield eng
    await eng.stop()


