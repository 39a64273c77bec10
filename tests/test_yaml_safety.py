"""Broken and hostile spec files: one clear file:line:col line each, fast, nothing constructed."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from capacity.core.errors import SpecFileError
from capacity.core.yamlio import MAX_YAML_BYTES, read_yaml
from capacity.data.catalog import load_chips, load_record
from capacity.records.chip import Chip
from conftest import FIXTURE_SPECS

GOOD = (FIXTURE_SPECS / "chips" / "tiny-gpu.yaml").read_text()


def _problems(tmp_path: Path, text: str | bytes, name: str = "chip.yaml") -> list[str]:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(SpecFileError) as info:
        load_record(path, Chip)
    return info.value.problems


def test_misspelt_field_names_file_line_and_suggests(tmp_path: Path) -> None:
    text = GOOD.replace("memory_bandwidth_gb_s: 2000", "memory_bandwith_gb_s: 2000")
    line = next(i for i, s in enumerate(text.splitlines(), 1) if s.startswith("memory_bandwith"))
    problems = _problems(tmp_path, text)
    assert f"chip.yaml:{line}:1: memory_bandwith_gb_s: unknown field;" in "\n".join(problems)
    assert "did you mean 'memory_bandwidth_gb_s'?" in "\n".join(problems)


def test_bad_value_points_at_the_value(tmp_path: Path) -> None:
    text = GOOD.replace("tdp_w: 500", "tdp_w: -5")
    line = next(i for i, s in enumerate(text.splitlines(), 1) if s.startswith("tdp_w"))
    problems = _problems(tmp_path, text)
    assert problems == [f"{tmp_path / 'chip.yaml'}:{line}:8: tdp_w: Input should be greater than 0"]


def test_nested_field_error(tmp_path: Path) -> None:
    text = GOOD.replace("direction: bidirectional", "direction: sideways")
    problems = _problems(tmp_path, text)
    assert any(": intra_node.direction: Input should be 'bidirectional'" in p for p in problems), problems


def test_unsupported_dtype_with_a_peak_is_rejected(tmp_path: Path) -> None:
    text = GOOD.replace("unsupported_dtypes: []", "unsupported_dtypes: [fp8]")
    assert "fp8 is listed in unsupported_dtypes but has a peak" in "\n".join(_problems(tmp_path, text))


def test_yaml_syntax_error_has_line(tmp_path: Path) -> None:
    problems = _problems(tmp_path, "id: x\nvendor: [unclosed\nname: y\n")
    assert len(problems) == 1 and "YAML syntax error" in problems[0]
    assert problems[0].startswith(f"{tmp_path / 'chip.yaml'}:3:")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", "the file is empty"),
        ("   \n# only a comment\n", "the file is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00binary", "binary file"),
        (b"id: \xff\xfe bad", "not UTF-8"),
        ("- just\n- a list\n", "expected a YAML mapping"),
        ("a: !!python/object/apply:os.system ['echo pwned']\n", "explicit YAML tag"),
        ("a: !custom 1\n", "explicit YAML tag"),
    ],
)
def test_broken_files_give_one_clear_line(tmp_path: Path, content: str | bytes, expected: str) -> None:
    problems = _problems(tmp_path, content)
    assert expected in problems[0]
    assert "Traceback" not in problems[0]


def test_billion_laughs_is_refused_quickly(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    start = time.monotonic()
    problems = _problems(tmp_path, "\n".join(lines) + "\n")
    assert "alias bomb" in problems[0]
    assert time.monotonic() - start < 5


@pytest.mark.parametrize(
    "content",
    [
        "[" * 10_000 + "]" * 10_000,  # took 4 s, then exit 4 (RecursionError), in the review's sweep
        "a: " + "{b: " * 3000 + "1" + "}" * 3000,
        "".join(f"{'  ' * i}k{i}:\n" for i in range(400)) + "  " * 400 + "1\n",  # block nesting, no brackets
    ],
)
def test_deep_nesting_is_refused_quickly(tmp_path: Path, cli: Any, content: str) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text(content)
    started = time.perf_counter()
    with pytest.raises(SpecFileError, match="nested too deeply"):
        read_yaml(path)
    assert time.perf_counter() - started < 1.0
    run = cli("check", str(path))
    assert run.exit_code == 2 and "nested too deeply" in run.stderr


def test_an_ordinary_nested_plan_still_reads(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    many = "".join(f"x{i}: [1]\n" for i in range(200))  # over 100 brackets, so the depth scan runs
    path.write_text("a: {b: [1, 2, {c: 'it''s [not] a bracket'}]}\nnotes: Meta's [model]\n" + many)
    assert read_yaml(path)["a"]["b"][2]["c"] == "it's [not] a bracket"


def test_oversized_file_is_refused_without_reading(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as f:
        f.truncate(MAX_YAML_BYTES + 1)
    with pytest.raises(SpecFileError, match="over the 1,000,000-byte limit"):
        read_yaml(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SpecFileError, match="no such file"):
        read_yaml(tmp_path / "nope.yaml")


def test_numbers_are_yaml_1_2(tmp_path: Path) -> None:
    path = tmp_path / "n.yaml"
    path.write_text("a: 1e15\nb: no\nc: 2025-01-01\n")
    assert read_yaml(path) == {"a": 1e15, "b": "no", "c": "2025-01-01"}


def test_broken_catalogue_file_is_reported_by_the_loader(tmp_path: Path) -> None:
    shutil.copytree(FIXTURE_SPECS, tmp_path / "specs")
    bad = tmp_path / "specs" / "chips" / "tiny-npu.yaml"
    bad.write_text(bad.read_text().replace("memory_gb: 64", "memory_gb: lots"))
    with pytest.raises(
        SpecFileError, match=r"tiny-npu.yaml:\d+:\d+: memory_gb: Input should be a valid number"
    ):
        load_chips(tmp_path / "specs")


def test_id_must_match_file_name(tmp_path: Path) -> None:
    shutil.copytree(FIXTURE_SPECS, tmp_path / "specs")
    (tmp_path / "specs" / "chips" / "tiny-npu.yaml").rename(tmp_path / "specs" / "chips" / "other.yaml")
    with pytest.raises(SpecFileError, match="must match the file name 'other'"):
        load_chips(tmp_path / "specs")


def test_edited_file_is_reparsed_not_served_from_cache(tmp_path: Path) -> None:
    shutil.copytree(FIXTURE_SPECS, tmp_path / "specs")
    assert load_chips(tmp_path / "specs").get("tiny-npu").memory_gb == 64
    path = tmp_path / "specs" / "chips" / "tiny-npu.yaml"
    path.write_text(path.read_text().replace("memory_gb: 64", "memory_gb: 32"))
    from capacity.data import catalog

    catalog._chips.cache_clear()
    assert load_chips(tmp_path / "specs").get("tiny-npu").memory_gb == 32


@pytest.mark.parametrize(
    "command",
    [
        ["run"],
        ["check"],
        ["train", "--model", "llama2-7b", "--tokens", "1T", "--chip", "h100", "--gpus", "8", "--calibration"],
    ],
)
def test_devices_and_pipes_are_refused_without_reading(cli: Any, tmp_path: Path, command: list[str]) -> None:
    # issue 15: /dev/zero grew to 8 GB, a FIFO hung; now a one-line refusal before any read
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    for path in ("/dev/zero", str(fifo)):
        run = cli(*command, path)
        assert run.exit_code == 2 and "not a regular file" in run.stderr, path


@pytest.mark.parametrize("content", ["[]", '"abc"', "null", None])
def test_a_broken_or_odd_parse_cache_is_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str | None
) -> None:
    # review: a cache holding [] made every command exit 4; a FIFO in its place hung every command
    from capacity.core import parse_cache

    monkeypatch.setenv("CAPACITY_CACHE_DIR", str(tmp_path))
    target = tmp_path / parse_cache._CACHE_NAME
    if content is None:
        os.mkfifo(target)
    else:
        target.write_text(content)
    assert parse_cache.ParsedYamlCache().entries == {}


def test_a_unions_branches_share_one_line(tmp_path: Path) -> None:
    """`model: null` failed both branches (a name, an inline mapping): two lines (hostile sweep)."""
    from capacity.core.errors import SpecFileError
    from capacity.plans.scenario import load_scenarios

    plan = tmp_path / "plan.yaml"
    plan.write_text("name: x\nkind: train\nmodel: null\ntokens: 3e11\n")
    with pytest.raises(SpecFileError) as info:
        load_scenarios(plan)
    assert len(info.value.problems) == 1
    assert "valid string" in info.value.problems[0] and "InlineModel" in info.value.problems[0]
