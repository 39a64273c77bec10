"""Where ``--model`` (and a scenario's ``model:``) comes from: a preset id or alias, a Hugging Face
``config.json`` (or a folder holding one), or a model YAML file in the presets' format."""

from __future__ import annotations

from pathlib import Path

from capacity.catalog import load_models, load_record
from capacity.errors import InputError
from capacity.hf_config import preset_from_hf_config
from capacity.model_spec import ModelPreset

JSON_SUFFIXES = (".json",)
YAML_SUFFIXES = (".yaml", ".yml")


def _anchored(name: str, base_dir: Path | None) -> Path:
    """``name`` as a path; a relative one is taken from ``base_dir`` (a scenario's folder), else the cwd."""
    path = Path(name).expanduser()
    return path if path.is_absolute() or base_dir is None else base_dir / path


def is_model_path(name: str, base_dir: Path | None = None) -> bool:
    """True when ``name`` names a file rather than a preset: it ends in ``.json``, ``.yaml`` or ``.yml``, or
    it is an existing folder that holds a ``config.json``."""
    if name.casefold().endswith(JSON_SUFFIXES + YAML_SUFFIXES):
        return True
    if not name.strip():
        return False
    try:
        folder = _anchored(name, base_dir)
        return folder.is_dir() and (folder / "config.json").is_file()
    except (OSError, ValueError):  # a name no file system accepts (a NUL byte, too long) is not a path
        return False


def model_path(name: str, base_dir: Path | None = None) -> Path:
    """The file a path-like ``name`` refers to (a folder's ``config.json``), anchored as :func:`_anchored`."""
    path = _anchored(name, base_dir)
    return path / "config.json" if path.is_dir() else path


def resolve_model(name: str, base_dir: Path | None = None) -> ModelPreset:
    """The model ``name`` stands for: a Hugging Face config (``*.json`` or a folder with ``config.json``),
    a model YAML (``*.yaml``/``*.yml``, validated as a preset but without the catalogue's id-matches-file-name
    rule), or else a catalogue id or alias. Relative paths are read from ``base_dir`` when given, else the
    current directory. Raises :class:`InputError` (``model file not found: …``) for a path that is not there,
    :class:`capacity.errors.UnknownIdError` for an unknown id."""
    if not is_model_path(name, base_dir):
        return load_models().get(name)
    path = model_path(name, base_dir)
    if not path.is_file():
        raise InputError(f"model file not found: {path}")
    if path.suffix.casefold() in YAML_SUFFIXES:
        return load_record(path, ModelPreset)
    return preset_from_hf_config(path)
