"""A model preset from a Hugging Face transformers ``config.json``, parameter counts computed from the shapes.

Each supported ``model_type`` maps its config keys to :class:`capacity.records.model_spec.ModelPreset`
fields. A key a config leaves out takes the default of its transformers configuration class
(``save_pretrained`` omits values equal to the class default), so each type has its own defaults, e.g.
``tie_word_embeddings``: GPT-2, MPT, Falcon and Gemma tie the output projection to the embedding, Llama,
Mistral, Qwen, DeepSeek, GPT-NeoX and Phi-3 do not. Sources: the ``configuration_<type>.py`` and
``modeling_<type>.py`` files of huggingface/transformers (v4.40-4.51), and MosaicML llm-foundry's
``configuration_mpt.py`` for MPT.

``params`` (and ``active_params`` for MoE) are not read from anywhere: they are counted from the architecture
by :mod:`capacity.formulas.params` (weights only; the biases of Qwen2's attention and GPT-2 are left out).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from capacity.core.errors import SpecFileError
from capacity.core.yamlio import read_small_text
from capacity.formulas.params import counted_preset
from capacity.records.chip import Source
from capacity.records.model_spec import MLA, ModelPreset, MoE

DEFAULT_YEAR = 2025


class _Config:
    """One config mapping with typed, file-named look-ups: every problem is one ``file: message`` line."""

    def __init__(self, path: Path, model_type: str, data: dict[str, Any], defaults: dict[str, Any]) -> None:
        self.path, self.model_type, self.data, self.defaults = path, model_type, data, defaults
        self.notes: list[str] = []  # what the preset's ``notes`` should say about the mapping

    def fail(self, message: str) -> SpecFileError:
        return SpecFileError([f"{self.path}: {message}"])

    def _raw(self, *keys: str) -> Any:
        """The first of ``keys`` present (and not null) in the file, else the first one's class default."""
        for key in keys:
            if self.data.get(key) is not None:
                return self.data[key]
        return self.defaults.get(keys[0])

    def need(self, *keys: str) -> int:
        """A required positive integer (``keys`` are alternative names, the first is the usual one)."""
        value = self._raw(*keys)
        if value is None:
            raise self.fail(f"{self.model_type} config lacks {keys[0]!r}")
        return self._positive(keys[0], value)

    def maybe(self, *keys: str) -> int | None:
        value = self._raw(*keys)
        return None if value is None else self._positive(keys[0], value)

    def number(self, key: str) -> float:
        value = self._raw(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise self.fail(
                f"{self.model_type} config field {key!r} must be a positive number, got {value!r}"
            )
        return float(value)

    def flag(self, key: str, default: bool) -> bool:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.fail(f"{self.model_type} config field {key!r} must be true or false, got {value!r}")
        return value

    def int_list(self, key: str) -> list[int]:
        value = self.data.get(key) or []
        if not isinstance(value, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        ):
            raise self.fail(f"{self.model_type} config field {key!r} must be a list of layer indices")
        return value

    def _positive(self, key: str, value: Any) -> int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise self.fail(
                f"{self.model_type} config field {key!r} must be a positive integer, got {value!r}"
            )
        if value > (MAX_CONTEXT if "position" in key or "seq" in key else MAX_CONFIG_INT):
            raise self.fail(
                f"{self.model_type} config field {key!r} is {value:.3g}: no published architecture has a "
                "dimension, layer count, vocabulary or context that large"
            )
        return value


MAX_CONFIG_INT = 10_000_000  # the largest published vocabularies are ~256k, widths ~50k, layers ~200
MAX_CONTEXT = 1_000_000_000  # context lengths run to 10M (Llama 4 Scout); training caps them at 8,192

Fields = dict[str, Any]


def _decoder(c: _Config, *, glu: bool, tied: bool) -> Fields:
    """The Llama-style keys most decoders share (``LlamaConfig``; ``head_dim`` where the config sets it)."""
    heads = c.need("num_attention_heads")
    return {
        "layers": c.need("num_hidden_layers"),
        "hidden_size": c.need("hidden_size"),
        "heads": heads,
        "kv_heads": c.maybe("num_key_value_heads") or heads,
        "head_dim": c.maybe("head_dim"),
        "ffn_size": c.need("intermediate_size"),
        "glu": glu,
        "vocab_size": c.need("vocab_size"),
        "context_length": c.need("max_position_embeddings"),
        "tied_embeddings": c.flag("tie_word_embeddings", tied),
        "position_embedding": "rope",
    }


def _llama_like(c: _Config) -> Fields:
    """Llama, Mistral, Qwen2/3, Gemma 1/2/3 and Phi-3: SwiGLU/GeGLU FFN, RoPE, GQA."""
    return _decoder(c, glu=True, tied=c.model_type.startswith("gemma"))


def _mixtral(c: _Config) -> Fields:
    """Mixtral: every layer's FFN is ``num_local_experts`` SwiGLU experts of ``intermediate_size``, top-k."""
    f = _decoder(c, glu=True, tied=False)
    f["moe"] = MoE(
        experts=c.need("num_local_experts"),
        top_k=c.need("num_experts_per_tok"),
        expert_ffn_size=f["ffn_size"],
    )
    return f


def _qwen_moe(c: _Config) -> Fields:
    """Qwen2-MoE / Qwen3-MoE: a layer i is sparse unless listed in ``mlp_only_layers``, when
    (i + 1) % ``decoder_sparse_step`` == 0 (``Qwen2MoeDecoderLayer``). Qwen2-MoE adds one always-on shared
    expert of ``shared_expert_intermediate_size``; it is written as the nearest whole number of routed-width
    experts, since a preset's shared experts have the routed width."""
    f = _decoder(c, glu=True, tied=False)
    layers, step, dense = f["layers"], c.need("decoder_sparse_step"), set(c.int_list("mlp_only_layers"))
    moe_layers = sum(1 for i in range(layers) if i not in dense and (i + 1) % step == 0)
    width = c.need("moe_intermediate_size")
    shared = 0
    if c.model_type == "qwen2_moe":
        shared_width = c.need("shared_expert_intermediate_size")
        shared = max(1, round(shared_width / width))
        if shared * width != shared_width:
            c.notes.append(
                f"the one shared expert ({shared_width} wide) is written as {shared} shared experts of the "
                f"routed width {width} ({shared * width} wide in all), so its size is approximate"
            )
        elif shared_width != width:
            c.notes.append(
                f"the one shared expert ({shared_width} wide) is written as {shared} shared experts of the "
                f"routed width {width} (the same number of weights)"
            )
    if moe_layers:
        f["moe"] = MoE(
            experts=c.need("num_experts"),
            top_k=c.need("num_experts_per_tok"),
            shared_experts=shared,
            expert_ffn_size=width,
            moe_layers=moe_layers if moe_layers < layers else None,
        )
    return f


def _deepseek(c: _Config) -> Fields:
    """DeepSeek-V2/V3: MLA attention (DeepSeek-V2 §2.1) and DeepSeekMoE. Layer i is MoE when
    i >= ``first_k_dense_replace`` and i % ``moe_layer_freq`` == 0; the shared experts are one MLP of
    ``moe_intermediate_size`` × ``n_shared_experts`` (``DeepseekV3MoE``): that many routed-width experts."""
    f = _decoder(c, glu=True, tied=False)
    f["kv_heads"] = f["heads"]  # MLA: every head has its own keys and values, decompressed from the latent
    first_dense, freq = c.maybe("first_k_dense_replace") or 0, c.need("moe_layer_freq")
    moe_layers = sum(1 for i in range(f["layers"]) if i >= first_dense and i % freq == 0)
    f["mla"] = MLA(
        q_lora_rank=c.maybe("q_lora_rank"),
        kv_lora_rank=c.need("kv_lora_rank"),
        qk_nope_head_dim=c.need("qk_nope_head_dim"),
        qk_rope_head_dim=c.need("qk_rope_head_dim"),
        v_head_dim=c.need("v_head_dim"),
    )
    if moe_layers:
        f["moe"] = MoE(
            experts=c.need("n_routed_experts"),
            top_k=c.need("num_experts_per_tok"),
            shared_experts=c.maybe("n_shared_experts") or 0,
            expert_ffn_size=c.need("moe_intermediate_size"),
            moe_layers=moe_layers if moe_layers < f["layers"] else None,
        )
    if c.maybe("num_nextn_predict_layers"):
        c.notes.append("the multi-token-prediction module is not counted")
    return f


def _gpt2(c: _Config) -> Fields:
    """GPT-2: learned positions, GeLU MLP of ``n_inner`` (default 4h), tied output (``GPT2Config``)."""
    hidden, heads = c.need("n_embd", "hidden_size"), c.need("n_head", "num_attention_heads")
    return {
        "layers": c.need("n_layer", "num_hidden_layers"),
        "hidden_size": hidden,
        "heads": heads,
        "kv_heads": heads,
        "ffn_size": c.maybe("n_inner") or 4 * hidden,
        "glu": False,
        "vocab_size": c.need("vocab_size"),
        "context_length": c.need("n_positions", "max_position_embeddings"),
        "tied_embeddings": c.flag("tie_word_embeddings", True),
        "position_embedding": "learned",
    }


def _gpt_neox(c: _Config) -> Fields:
    """GPT-NeoX / Pythia: GeLU MLP of ``intermediate_size`` (no GLU), rotary, untied (``GPTNeoXConfig``)."""
    return _decoder(c, glu=False, tied=False)


def _mpt(c: _Config) -> Fields:
    """MPT: ``d_model``, ``n_layers``, ``n_heads``, FFN = ``expansion_ratio`` × d; ``attn_config`` sets ALiBi
    and multi-query / grouped-query attention (``kv_n_heads``); the output projection reuses the embedding."""
    hidden, heads = c.need("d_model", "hidden_size"), c.need("n_heads", "num_attention_heads")
    attn = c.data.get("attn_config") or {}
    if not isinstance(attn, dict):
        raise c.fail("mpt config field 'attn_config' must be a mapping")
    kind = attn.get("attn_type", "multihead_attention")
    kv = 1 if kind == "multiquery_attention" else heads
    if kind == "grouped_query_attention":
        kv = _Config(c.path, "mpt attn_config", attn, {}).need("kv_n_heads")
    if attn.get("alibi"):
        position = "alibi"
    elif attn.get("rope"):
        position = "rope"
    else:
        position = "learned" if c.flag("learned_pos_emb", True) else "rope"
    return {
        "layers": c.need("n_layers", "num_hidden_layers"),
        "hidden_size": hidden,
        "heads": heads,
        "kv_heads": kv,
        "ffn_size": round(c.number("expansion_ratio") * hidden),
        "glu": False,
        "vocab_size": c.need("vocab_size"),
        "context_length": c.need("max_seq_len"),
        "tied_embeddings": c.flag("tie_word_embeddings", True),
        "position_embedding": position,
    }


def _falcon(c: _Config) -> Fields:
    """Falcon: ``new_decoder_architecture`` uses ``num_kv_heads`` groups, else ``multi_query`` (default) one
    KV head; GeLU MLP of ``ffn_hidden_size`` (default 4h); ALiBi if ``alibi`` else RoPE (``FalconConfig``)."""
    hidden, heads = c.need("hidden_size"), c.need("num_attention_heads", "n_head")
    if c.flag("new_decoder_architecture", False):
        kv = c.maybe("num_kv_heads", "n_head_kv") or heads
    else:
        kv = 1 if c.flag("multi_query", True) else heads
    return {
        "layers": c.need("num_hidden_layers", "n_layer"),
        "hidden_size": hidden,
        "heads": heads,
        "kv_heads": kv,
        "ffn_size": c.maybe("ffn_hidden_size") or 4 * hidden,
        "glu": False,
        "vocab_size": c.need("vocab_size"),
        "context_length": c.need("max_position_embeddings"),
        "tied_embeddings": c.flag("tie_word_embeddings", True),
        "position_embedding": "alibi" if c.flag("alibi", False) else "rope",
    }


_Builder = Callable[[_Config], Fields]

# model_type -> (builder, class defaults for keys a config may omit).
_TYPES: dict[str, tuple[_Builder, dict[str, Any]]] = {
    "llama": (_llama_like, {"max_position_embeddings": 2048}),
    "mistral": (_llama_like, {"max_position_embeddings": 4096 * 32}),
    "mixtral": (_mixtral, {"max_position_embeddings": 4096 * 32}),
    "qwen2": (_llama_like, {"max_position_embeddings": 32768}),
    "qwen2_moe": (_qwen_moe, {"max_position_embeddings": 32768, "decoder_sparse_step": 1}),
    "qwen3": (_llama_like, {"max_position_embeddings": 32768}),
    "qwen3_moe": (_qwen_moe, {"max_position_embeddings": 32768, "decoder_sparse_step": 1}),
    "deepseek_v2": (_deepseek, {"max_position_embeddings": 2048, "moe_layer_freq": 1}),
    "deepseek_v3": (_deepseek, {"max_position_embeddings": 4096, "moe_layer_freq": 1}),
    "gpt2": (_gpt2, {"n_positions": 1024}),
    "gpt_neox": (_gpt_neox, {"max_position_embeddings": 2048}),
    "mpt": (_mpt, {"expansion_ratio": 4, "max_seq_len": 2048}),
    "falcon": (_falcon, {"max_position_embeddings": 2048}),
    "gemma": (_llama_like, {"max_position_embeddings": 8192, "head_dim": 256}),
    "gemma2": (_llama_like, {"max_position_embeddings": 8192, "head_dim": 256}),
    # Gemma 3's multimodal configs keep the text model under text_config and often give only what differs
    # from Gemma3TextConfig's defaults (the 4B: sizes only), so those defaults are needed here.
    "gemma3_text": (
        _llama_like,
        {
            "max_position_embeddings": 131072,
            "head_dim": 256,
            "vocab_size": 262208,
            "num_attention_heads": 8,
            "num_key_value_heads": 4,
        },
    ),
    "phi3": (_llama_like, {"max_position_embeddings": 4096}),
}
SUPPORTED_TYPES = tuple(sorted([*_TYPES, "gemma3"]))


def read_config(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``; :class:`SpecFileError` (one line, with line:col for syntax) otherwise."""
    text = read_small_text(path, "JSON model config")

    def no_constants(name: str) -> Any:
        raise ValueError(f"{name} is not a JSON number")

    try:
        data = json.loads(text, parse_constant=no_constants)
    except json.JSONDecodeError as exc:
        raise SpecFileError([f"{path}:{exc.lineno}:{exc.colno}: JSON syntax error: {exc.msg}"]) from None
    except (ValueError, RecursionError) as exc:
        raise SpecFileError([f"{path}: invalid JSON: {exc}"]) from None
    if not isinstance(data, dict):
        raise SpecFileError([f"{path}:1:1: expected a JSON object (a Hugging Face config.json)"])
    return data


def preset_id(path: Path) -> str:
    """``hf-<name>``: the folder's name for ``…/<name>/config.json``, else the file's stem, as a ModelId."""
    name = path.parent.name if path.name == "config.json" else path.stem
    slug = re.sub(r"[^a-z0-9]+", lambda m: "." if m.group() == "." else "-", name.casefold()).strip(".-")
    return f"hf-{slug}" if slug else "hf-config"


def preset_from_hf_config(path: Path) -> ModelPreset:
    """The :class:`ModelPreset` a Hugging Face ``config.json`` describes, ``params`` counted from its shapes.

    Raises :class:`capacity.core.errors.SpecFileError` (an ``InputError``), one line naming the file: an
    unknown ``model_type``, a missing or malformed field, JSON syntax (with line:col), a file over 1 MB.
    """
    data = read_config(path)
    model_type = data.get("model_type")
    notes: list[str] = []
    if model_type == "gemma3":  # the multimodal wrapper: the language model is text_config
        text = data.get("text_config")
        if not isinstance(text, dict):
            raise SpecFileError([f"{path}: gemma3 config lacks 'text_config'"])
        data, model_type = {**text, "model_type": "gemma3_text"}, "gemma3_text"
        notes.append("the language model only (text_config); the vision encoder is not counted")
    if not isinstance(model_type, str) or model_type not in _TYPES:
        raise SpecFileError(
            [f"{path}: unsupported model_type {model_type!r}; supported: " + ", ".join(SUPPORTED_TYPES)]
        )
    builder, defaults = _TYPES[model_type]
    config = _Config(path, model_type, data, defaults)
    fields = builder(config)
    return _counted(fields, path, model_type, notes + config.notes)


def _counted(fields: Fields, path: Path, model_type: str, notes: list[str]) -> ModelPreset:
    """The preset with ``params``/``active_params`` counted from the shapes (capacity/formulas/params.py)."""
    name = path.parent.name if path.name == "config.json" and path.parent.name else path.stem
    notes.insert(0, f"From {path.name} (model_type {model_type}); parameters counted from the architecture")
    base = {
        "id": preset_id(path),
        "name": name,
        "family": model_type,
        "organisation": "Hugging Face config",
        "year": DEFAULT_YEAR,
        "sources": [Source(title=f"Hugging Face config {path}")],
        "notes": "; ".join(notes) + ".",
        **fields,
    }
    try:
        return counted_preset(**base)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in err["loc"]) or model_type
        raise SpecFileError(
            [
                f"{path}: {model_type} config does not describe a valid model: {where}: "
                f"{err['msg'].removeprefix('Value error, ')}"
            ]
        ) from None
