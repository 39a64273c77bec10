"""Where ``--model`` (and a scenario's ``model:``) comes from: a preset id or alias, a Hugging Face
``config.json`` (or a folder holding one), or a model YAML file in the presets' format."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ConfigDict, Field

from capacity.core.errors import InputError, UnknownIdError
from capacity.core.strict_numbers import InputModel
from capacity.core.yamlio import read_yaml
from capacity.data.catalog import find_image_model, load_image_models, load_models, load_record
from capacity.data.hf_config import preset_from_hf_config
from capacity.records.chip import Source
from capacity.records.model_spec import ModelFile, ModelPreset

if TYPE_CHECKING:
    from capacity.records.image_model import ImageModelPreset

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


def image_model_of(name: str, base_dir: Path | None = None) -> ImageModelPreset | None:
    """The image model ``name`` stands for — a preset id or alias, or a YAML file in the image presets'
    format (a mapping with a ``denoiser``) — else None (a language model, or nothing known)."""
    if not is_model_path(name, base_dir):
        if name in load_models():  # a language model: the image catalogue is not read
            return None
        return find_image_model(name)
    path = model_path(name, base_dir)
    if path.suffix.casefold() not in YAML_SUFFIXES or not path.is_file():
        return None
    doc = read_yaml(path)
    if not isinstance(doc, dict) or "denoiser" not in doc:
        return None
    from capacity.records.image_model import ImageModelPreset

    return load_record(path, ImageModelPreset)


def resolve_model(name: str, base_dir: Path | None = None) -> ModelPreset:
    """The model ``name`` stands for: a Hugging Face config (``*.json`` or a folder with ``config.json``),
    a model YAML (``*.yaml``/``*.yml``, validated as a preset but without the catalogue's id-matches-file-name
    rule), or else a catalogue id or alias. Relative paths are read from ``base_dir`` when given, else the
    current directory. Raises :class:`InputError` (``model file not found: …``) for a path that is not there,
    :class:`capacity.core.errors.UnknownIdError` for an unknown id."""
    if not is_model_path(name, base_dir):
        try:
            return load_models().get(name)
        except UnknownIdError as exc:
            raise _with_image_models(exc) from None
    path = model_path(name, base_dir)
    if not path.is_file():
        raise InputError(f"model file not found: {path}")
    if path.suffix.casefold() in YAML_SUFFIXES:
        return load_record(path, ModelFile)
    return preset_from_hf_config(path)


def _with_image_models(exc: UnknownIdError) -> InputError:
    """An unknown model id, with the image models' close matches added (``sdx`` means ``sdxl``); an image
    model's id where a language model is needed says so."""
    images = load_image_models()
    try:
        found = images.get(exc.name)
    except UnknownIdError as image_exc:
        suggestions = list(dict.fromkeys([*image_exc.suggestions, *exc.suggestions]))[:3]
        return UnknownIdError("model", exc.name, suggestions, exc.known + image_exc.known)
    return InputError(
        f"{exc.name!r} is an image model ({found.id}): capacity train and capacity serve take it; "
        "this needs a language model"
    )


class InlineModel(InputModel):
    """A model given by its numbers instead of a preset id; serving also needs the architecture."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    params: float = Field(gt=0, le=1e24, description="total parameters")
    active_params: float | None = Field(
        default=None, gt=0, le=1e24, description="MoE: parameters used per token"
    )
    layers: int | None = Field(default=None, gt=0)
    hidden_size: int | None = Field(default=None, gt=0)
    heads: int | None = Field(default=None, gt=0)
    kv_heads: int | None = Field(default=None, gt=0)
    head_dim: int | None = Field(default=None, gt=0)
    ffn_size: int | None = Field(default=None, gt=0)
    glu: bool = True
    vocab_size: int | None = Field(default=None, gt=0)
    context_length: int = Field(default=4096, gt=0)


def model_of(
    model: str | ModelPreset | InlineModel, name: str = "inline", base_dir: Path | None = None
) -> tuple[ModelPreset | None, InlineModel | None]:
    """(the preset, the inline numbers) a request's ``model`` stands for: a name or path is resolved
    (:func:`resolve_model`); inline numbers with the architecture (layers, hidden size, heads) also make a
    preset named ``name``, without it only the counts are known (training by 6·N·D; serving refuses)."""
    if isinstance(model, ModelPreset):
        return model, None
    if isinstance(model, str):
        return resolve_model(model, base_dir), None
    if model.layers and model.hidden_size and model.heads:
        preset = ModelPreset(
            id="inline",
            name=name,
            family="inline",
            organisation="scenario",
            year=2025,
            params=model.params,
            layers=model.layers,
            hidden_size=model.hidden_size,
            heads=model.heads,
            kv_heads=model.kv_heads or model.heads,
            head_dim=model.head_dim,
            ffn_size=model.ffn_size or 4 * model.hidden_size,
            glu=model.glu,
            vocab_size=model.vocab_size or 32_000,
            context_length=model.context_length,
            tied_embeddings=False,
            position_embedding="rope",
            sources=[Source(title=f"inline in scenario {name!r}")],
        )
        return preset, model
    return None, model
