"""Load the data catalogues in ``specs/`` (chips, model presets, runs) and resolve ids and aliases.

Where the data is found, in order: the ``specs_dir`` argument; ``$CAPACITY_SPECS_DIR``; the copy
shipped inside the installed package (``capacity/specs``, put there by the wheel build); the
``specs/`` folder of a source checkout.
"""

from __future__ import annotations

import difflib
import os
import unicodedata
from collections.abc import Iterator
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from capacity.core.errors import SpecFileError, UnknownIdError
from capacity.core.parse_cache import ParsedYamlCache
from capacity.core.suggest import without_vendor
from capacity.core.yamlio import locate, read_yaml, validation_problems
from capacity.records.chip import Chip
from capacity.records.cluster import Cluster
from capacity.records.model_spec import ModelPreset
from capacity.records.run_spec import PublishedRun

if TYPE_CHECKING:
    from capacity.data.steady_spec import SteadyRun
    from capacity.records.image_model import ImageModelPreset

T = TypeVar("T", bound=BaseModel)
R = TypeVar("R", bound="_Record")


class _Record(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def aliases(self) -> list[str]: ...


def default_specs_dir() -> Path:
    """The catalogue folder an installed package or a checkout uses when none is given."""
    env = os.environ.get("CAPACITY_SPECS_DIR")
    return Path(env) if env else _shipped_specs_dir()


@lru_cache(maxsize=1)
def _shipped_specs_dir() -> Path:
    """Looked up once a process: every load asks, and ``importlib.resources`` takes ~0.2 ms a time."""
    packaged = Path(str(resources.files("capacity"))) / "specs"
    if packaged.is_dir():
        return packaged.resolve()
    return Path(__file__).resolve().parents[2] / "specs"  # a checkout: capacity/data/catalog.py -> specs/


def normalise(name: str) -> str:
    """Case-, width- and separator-insensitive key: ``'Ａ100 sxm'`` and ``'a100-SXM'`` match."""
    folded = unicodedata.normalize("NFKC", name).casefold()
    return "".join(ch for ch in folded if not ch.isspace() and ch not in "-_")


class Catalog(Generic[R]):
    """Records of one kind keyed by id, with aliases resolved case- and width-insensitively."""

    def __init__(self, kind: str, records: list[R]) -> None:
        self.kind: str = kind
        self.by_id: dict[str, R] = {}
        self._index: dict[str, str] = {}
        for record in records:
            if record.id in self.by_id:
                raise SpecFileError([f"{kind} id {record.id!r} is defined twice"])
            self.by_id[record.id] = record
        for rec in records:
            for name in [rec.id, *rec.aliases]:
                owner = self._index.setdefault(normalise(name), rec.id)
                if owner != rec.id:
                    raise SpecFileError([f"{kind} alias {name!r} names both {owner!r} and {rec.id!r}"])

    def __contains__(self, name: object) -> bool:
        """Whether ``name`` is an id or alias (case-, width- and separator-insensitive, as :meth:`get`)."""
        return isinstance(name, str) and normalise(name) in self._index

    def __iter__(self) -> Iterator[R]:
        return iter(self.by_id.values())

    def __len__(self) -> int:
        return len(self.by_id)

    def get(self, name: str) -> R:
        """The record whose id or alias is ``name``; :class:`UnknownIdError` with close matches otherwise."""
        key = normalise(name)
        if key in self._index:
            return self.by_id[self._index[key]]
        vendorless = normalise(without_vendor(name))  # "nvidia-h100" means h100
        first = [self._index[vendorless]] if vendorless in self._index else []
        close = difflib.get_close_matches(key, list(self._index), n=3, cutoff=0.6)
        suggestions = list(dict.fromkeys([*first, *(self._index[c] for c in close)]))[:3]
        raise UnknownIdError(self.kind, name, suggestions, sorted(self.by_id))


def _validated(path: Path, model: type[T], cache: ParsedYamlCache) -> T:
    data = cache.load(path)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        doc = read_yaml(path)  # re-read with line and column information for the message
        raise SpecFileError(validation_problems(exc, doc, str(path), model)) from None


def load_record(path: Path, model: type[T]) -> T:
    """Read and validate one spec file; errors carry ``file:line:col: field: message``."""
    cache = ParsedYamlCache.shared()
    try:
        return _validated(path, model, cache)
    finally:
        cache.save()


@lru_cache(maxsize=16)
def _cached_record(path: Path, model: type[BaseModel]) -> BaseModel:
    return load_record(path, model)


def load_spec_file(name: str, model: type[T], specs_dir: Path | None = None) -> T:
    """One top-level file of the catalogue (``specs/<name>``), read and validated once per process."""
    record = _cached_record(((specs_dir or default_specs_dir()) / name).resolve(), model)
    assert isinstance(record, model)
    return record


def _load_dir(folder: Path, model: type[T], key: str = "id") -> list[T]:
    """Every ``*.yaml`` in ``folder``, each record's ``key`` field checked against its file name."""
    if not folder.is_dir():
        raise SpecFileError([f"{folder}: catalogue folder not found (set CAPACITY_SPECS_DIR or reinstall)"])
    cache = ParsedYamlCache.shared()
    records = []
    try:
        for path in sorted(folder.glob("*.yaml")):
            record = _validated(path, model, cache)
            value = getattr(record, key)
            if value != path.stem:
                line, col = locate(read_yaml(path), (key,))
                problem = f"{key}: {value!r} must match the file name {path.stem!r}"
                raise SpecFileError([f"{path}:{line}:{col}: {problem}"])
            records.append(record)
    finally:
        cache.save()  # once per folder, not once per file
    return records


@lru_cache(maxsize=8)
def _chips(folder: Path) -> Catalog[Chip]:
    return Catalog("chip", _load_dir(folder / "chips", Chip))


@lru_cache(maxsize=8)
def _models(folder: Path) -> Catalog[ModelPreset]:
    return Catalog("model", _load_dir(folder / "models", ModelPreset))


def load_chips(specs_dir: Path | None = None) -> Catalog[Chip]:
    """The accelerator catalogue (``specs/chips/*.yaml``)."""
    return _chips((specs_dir or default_specs_dir()).resolve())


def load_models(specs_dir: Path | None = None) -> Catalog[ModelPreset]:
    """The model presets (``specs/models/*.yaml``)."""
    return _models((specs_dir or default_specs_dir()).resolve())


@lru_cache(maxsize=8)
def _image_models(folder: Path) -> Catalog[ImageModelPreset]:
    from capacity.records.image_model import ImageModelPreset  # here: start-up never needs it (~18 ms)

    return Catalog("image model", _load_dir(folder / "image_models", ImageModelPreset))


def load_image_models(specs_dir: Path | None = None) -> Catalog[ImageModelPreset]:
    """The image-generation presets (``specs/image_models/*.yaml``)."""
    return _image_models((specs_dir or default_specs_dir()).resolve())


def find_image_model(name: str, specs_dir: Path | None = None) -> ImageModelPreset | None:
    """The image-model preset ``name`` names (id or alias), or None: callers then look among the LLMs."""
    try:
        return load_image_models(specs_dir).get(name)
    except UnknownIdError:
        return None


@lru_cache(maxsize=8)
def _clusters(folder: Path) -> Catalog[Cluster]:
    return Catalog("cluster", _load_dir(folder / "clusters", Cluster))


def load_clusters(specs_dir: Path | None = None) -> Catalog[Cluster]:
    """Named clusters and data centres (``specs/clusters/*.yaml``)."""
    return _clusters((specs_dir or default_specs_dir()).resolve())


@lru_cache(maxsize=8)
def _runs(folder: Path) -> tuple[PublishedRun, ...]:
    return tuple(_load_dir(folder / "runs", PublishedRun))


def load_runs(specs_dir: Path | None = None) -> tuple[PublishedRun, ...]:
    """Published training runs (``specs/runs/*.yaml``)."""
    return _runs((specs_dir or default_specs_dir()).resolve())


@lru_cache(maxsize=8)
def _steady_runs(folder: Path) -> tuple[SteadyRun, ...]:
    from capacity.data.steady_spec import SteadyRunFile  # here: only validation needs it (start-up time)

    runs: list[SteadyRun] = []
    seen: dict[str, Path] = {}
    for group in _load_dir(folder / "steady_state", SteadyRunFile, key="source_group"):
        path = folder / "steady_state" / f"{group.source_group}.yaml"
        for i, run in enumerate(group.runs):
            if run.id in seen:
                line, col = locate(read_yaml(path), ("runs", i, "id"))
                raise SpecFileError(
                    [f"{path}:{line}:{col}: runs.{i}.id: {run.id!r} is also defined in {seen[run.id]}"]
                )
            seen[run.id] = path
            runs.append(run)
    return tuple(runs)


@lru_cache(maxsize=8)
def _serving_heldout(folder: Path) -> tuple[BaseModel, ...]:
    from capacity.data.assumptions import ServingBenchmarkFile

    return tuple(_load_dir(folder / "serving_heldout", ServingBenchmarkFile, key="source_group"))


def load_serving_heldout(specs_dir: Path | None = None) -> tuple[BaseModel, ...]:
    """Held-out published serving throughputs (``specs/serving_heldout/*.yaml``, one per source group)."""
    return _serving_heldout((specs_dir or default_specs_dir()).resolve())


def load_steady_runs(specs_dir: Path | None = None) -> tuple[SteadyRun, ...]:
    """Published steady-state training throughputs (``specs/steady_state/*.yaml``, one per source group)."""
    return _steady_runs((specs_dir or default_specs_dir()).resolve())
