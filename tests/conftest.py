"""Shared fixtures: the tiny catalogue, a CLI runner, a private cache per test session, and the CUDA
benchmark compiled once into it."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from typer.testing import CliRunner

from capacity import microbench
from capacity.cli import app

FIXTURE_SPECS = Path(__file__).parent / "fixtures" / "specs"

# CI draws the same examples every run (a red build must be reproducible); a local run explores new ones.
# No per-example deadline: speed is measured in benchmarks/, not by timing tests on a shared machine (an
# infeasible plan also searches for the chip count that fits, several layout searches).
settings.register_profile("local", deadline=None)
settings.register_profile("ci", derandomize=True, database=None, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "local")


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A cache of this test run's own, not the user's: under pytest-xdist one for all the workers (the
    parse cache is written by rename, so a worker reads either an older or a newer whole file), so the
    specs are parsed once per run rather than once per worker."""
    mp = pytest.MonkeyPatch()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        cache = tmp_path_factory.getbasetemp().parent / "shared-cache"
        cache.mkdir(exist_ok=True)
        mp.setenv("CAPACITY_JOBS", "1")  # the cores are the test workers': no pools of pools (test_parallel)
    else:
        cache = tmp_path_factory.mktemp("cache")
    mp.setenv("CAPACITY_CACHE_DIR", str(cache))
    mp.delenv("CAPACITY_SPECS_DIR", raising=False)
    yield
    mp.undo()


@pytest.fixture(scope="session")
def capbench(_private_cache: None) -> Path:
    """The CUDA benchmark, compiled once per test run (an nvcc build takes several seconds).

    It is built into the session's private ``$CAPACITY_CACHE_DIR``, the cache ``capacity bench`` itself
    reads, so the CLI's bench tests find the same binary instead of compiling a second copy elsewhere.
    """
    if microbench.find_nvcc() is None:
        pytest.skip("nvcc not found: compile-only tests skipped")
    return microbench.build()


@pytest.fixture
def tiny_specs(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the CLI and the default loaders at the tiny fixture catalogue."""
    monkeypatch.setenv("CAPACITY_SPECS_DIR", str(FIXTURE_SPECS))
    return FIXTURE_SPECS


class Run:
    def __init__(self, exit_code: int, stdout: str, stderr: str) -> None:
        self.exit_code, self.stdout, self.stderr = exit_code, stdout, stderr

    def json(self) -> Any:
        return json.loads(self.stdout)


@pytest.fixture
def cli() -> Any:
    """Invoke the app in-process; stdout and stderr kept apart."""

    def invoke(*args: str) -> Run:
        result = CliRunner().invoke(app, list(args))
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Run(result.exit_code, result.stdout, result.stderr)

    return invoke
