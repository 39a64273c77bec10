"""Shared fixtures: the tiny catalogue, a CLI runner, a private cache per test session, and the CUDA
benchmark compiled once into it."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
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


def pytest_configure(config: pytest.Config) -> None:
    """A cache of this test run's own, not the user's, set before the test modules load the catalogue, so
    the specs parsed then are the ones every test reads. Under pytest-xdist the workers inherit it from the
    controller and share it (the parse cache is written by rename: a worker reads an older or a newer
    whole file)."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        cache = tempfile.mkdtemp(prefix="capacity-test-cache-")
        config.stash[_CACHE] = cache
        os.environ["CAPACITY_CACHE_DIR"] = cache


def pytest_unconfigure(config: pytest.Config) -> None:
    cache = config.stash.get(_CACHE, None)
    if cache is not None:
        shutil.rmtree(cache, ignore_errors=True)


_CACHE = pytest.StashKey[str]()


@pytest.fixture(autouse=True, scope="session")
def _private_cache() -> Iterator[None]:
    """No user catalogue; under pytest-xdist the cores are the test workers', so no pools of pools
    (tests/test_parallel.py sets its own)."""
    mp = pytest.MonkeyPatch()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        mp.setenv("CAPACITY_JOBS", "1")
    mp.delenv("CAPACITY_SPECS_DIR", raising=False)
    yield
    mp.undo()


@pytest.fixture(scope="session")
def capbench(_private_cache: None) -> Path:
    """The CUDA benchmark, compiled once per test run (an nvcc build takes several seconds).

    It is built into the test run's private ``$CAPACITY_CACHE_DIR``, the cache ``capacity bench`` itself
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
