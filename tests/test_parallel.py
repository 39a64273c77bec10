"""Comparisons, sweeps and the steady-state check spread chips over forked workers
(capacity/core/parallel.py): the answers are the same as one after another, in the same order, and errors
come back as they were."""

from __future__ import annotations

import sys

import pytest

from capacity.core import parallel
from capacity.core.errors import InputError, UnknownIdError
from capacity.data.assumptions import load_assumptions, load_efficiency
from capacity.plans.scenario import Scenario
from capacity.plans.sweep import train_grid

forks = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers are forked on Linux only")


def _square_or_fail(x: int) -> int:
    if x == 5:
        raise ZeroDivisionError("boom at 5")
    if x == 7:
        raise UnknownIdError("chip", "nvidia-h7", ["h100-sxm5-80gb"], ["h100-sxm5-80gb"])
    return x * x


@pytest.mark.parametrize("jobs", ["1", "2", "3"])
def test_results_come_back_in_order(monkeypatch: pytest.MonkeyPatch, jobs: str) -> None:
    monkeypatch.setenv("CAPACITY_JOBS", jobs)
    assert parallel.ordered_map(_square_or_fail, [3, 1, 4, 1, 2, 6]) == [9, 1, 16, 1, 4, 36]
    assert parallel.ordered_map(_square_or_fail, []) == []


@forks
def test_the_workers_are_used_where_the_platform_forks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAPACITY_JOBS", "2")
    assert parallel.jobs(10) == 2 and parallel.jobs(1) == 1
    pids = parallel.ordered_map(lambda _: __import__("os").getpid(), range(8))
    assert __import__("os").getpid() not in pids  # a closure runs in the forked workers


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_an_error_in_a_worker_is_raised_as_the_serial_loop_raises_it(
    monkeypatch: pytest.MonkeyPatch, jobs: str
) -> None:
    monkeypatch.setenv("CAPACITY_JOBS", jobs)
    with pytest.raises(ZeroDivisionError, match="boom at 5"):
        parallel.ordered_map(_square_or_fail, [1, 5, 2])
    with pytest.raises(InputError, match="unknown chip 'nvidia-h7'; did you mean h100-sxm5-80gb"):
        parallel.ordered_map(_square_or_fail, [7, 2])  # its constructor takes 4 arguments: still exit 2


@forks
def test_a_parallel_sweep_equals_a_serial_one(monkeypatch: pytest.MonkeyPatch) -> None:
    sc = Scenario.model_validate(
        {"name": "p", "kind": "train", "model": "llama2-7b", "tokens": 1e12,
         "hardware": {"chip": "a100", "gpus": 8},
         "sweep": {"hardware.chip": ["a100", "h100", "910B", "v100", "h20"], "hardware.gpus": [8, 64, 512],
                   "tokens": [1e11, 1e12, 1e13]}}
    )  # fmt: skip
    grids = []
    for jobs in ("1", "2"):
        monkeypatch.setenv("CAPACITY_JOBS", jobs)
        grids.append(train_grid(sc, load_assumptions(), load_efficiency()))
    serial, forked = grids
    assert serial.notes == forked.notes and (serial.fits == forked.fits).all()
    for key, column in serial.columns.items():
        assert column.tolist() == forked.columns[key].tolist(), key


@forks
def test_a_parallel_comparison_equals_a_serial_one(cli: object, monkeypatch: pytest.MonkeyPatch) -> None:
    args = ["compare", "--chips", "a100,h100,910B,h20,v100", "--model", "llama2-13b", "--tokens", "1T",
            "--days", "20", "--format", "json"]  # fmt: skip
    outputs = []
    for jobs in ("1", "2"):
        monkeypatch.setenv("CAPACITY_JOBS", jobs)
        run = cli(*args)  # type: ignore[operator]
        assert run.exit_code == 0, run.stderr
        outputs.append(run.stdout)
    assert outputs[0] == outputs[1]
