"""Convert the reference file of published steady-state training throughputs into ``specs/steady_state/``.

Reads the reference YAML (358 records), keeps the rows whose chip is in the catalogue and that carry enough
to give tokens/s per GPU, and writes one file per source group plus ``EXCLUDED.md`` (every dropped
reference id with its reason). tokens/s per GPU is taken as published where a record has it; else from the
step time (global batch tokens / (step time x chips)); else from the published TFLOP/s per GPU divided by
the FLOPs per token of *that source's* definition (``capacity.data.steady_spec.source_flops_per_token``).
Every written file is validated with ``SteadyRunFile`` before it is written.

Usage: python benchmarks/import_steady_state.py [REFERENCE_YAML [OUT_DIR]]
       (defaults: ../shared/reference/steady-state-runs.yaml relative to the repository root, and
       specs/steady_state/)
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from capacity.data.catalog import load_chips, load_models
from capacity.data.steady_spec import (
    Architecture,
    Measured,
    Parallel,
    SteadyRun,
    SteadyRunFile,
    source_flops_per_token,
    steady_model,
)

REPO = Path(__file__).resolve().parent.parent
DEFAULT_REFERENCE = REPO / ".." / "shared" / "reference" / "steady-state-runs.yaml"
OUT = REPO / "specs" / "steady_state"

GROUPS: dict[str, dict[str, Any]] = {
    "Megatron-LM (Narayanan et al. 2021 weak scaling, A100)": {
        "slug": "megatron-sc21", "year": 2021,
        "title": "Megatron-LM weak scaling on A100 (Narayanan et al. 2021, Table 1)",
        "citation": "Narayanan et al., Efficient Large-Scale Language Model Training on GPU Clusters Using "
        "Megatron-LM, SC21 (arXiv:2104.04473), Table 1; values read from the NVIDIA/Megatron-LM README "
        "image images/cases_april2021.png",
        "url": "https://arxiv.org/abs/2104.04473",
    },
    "Megatron-LM (Korthikanti et al. 2022 selective recompute, A100)": {
        "slug": "megatron-korthikanti", "year": 2022,
        "title": "Selective activation recomputation on A100 (Korthikanti et al. 2022)",
        "citation": "Korthikanti et al., Reducing Activation Recomputation in Large Transformer Models, "
        "MLSys 2023 (arXiv:2205.05198), Table 5; MFU/HFU from the NVIDIA/Megatron-LM README; layouts and "
        "iteration times as transcribed by calculon-ai/calculon (validation/seqsel/tab5)",
        "url": "https://arxiv.org/abs/2205.05198",
    },
    "Megatron-Core H100 weak scaling (README)": {
        "slug": "mcore-h100-weak", "year": 2024,
        "title": "Megatron-Core weak scaling on H100 (Megatron-LM README, 2024)",
        "citation": "NVIDIA/Megatron-LM@d98e8a64ddf3 README.md, table image images/model_table.png "
        "(Megatron-Core r0.8.0)",
        "url": "https://github.com/NVIDIA/Megatron-LM/blob/d98e8a64ddf3/README.md",
    },
    "NVIDIA NeMo 24.07 performance summary": {
        "slug": "nemo-24.07", "year": 2024,
        "title": "NVIDIA NeMo 24.07 performance summary (DGX-H100, FP8)",
        "citation": "NVIDIA/NeMo@9c5c5e9709 docs/source/performance/performance_summary.md "
        "(final 24.07 table)",
        "url": "https://github.com/NVIDIA/NeMo/blob/9c5c5e9709/docs/source/performance/performance_summary.md",
    },
    "NVIDIA NeMo long-sequence (context parallel) tables": {
        "slug": "nemo-long-sequence", "year": 2024,
        "title": "NVIDIA NeMo long-sequence (context-parallel) performance tables",
        "citation": "NVIDIA/NeMo@8cfedd720346 docs/source/performance/performance_long_sequence.md",
        "url": "https://github.com/NVIDIA/NeMo/blob/8cfedd720346/docs/source/performance/"
        "performance_long_sequence.md",
    },
    "NVIDIA Megatron-Bridge performance summary (NeMo 25.09-26.08)": {
        "slug": "megatron-bridge", "year": None,  # from the container version of each row
        "title": "NVIDIA Megatron-Bridge performance summary (NeMo containers 25.09 to 26.08)",
        "citation": "NVIDIA-NeMo/Megatron-Bridge@067f987df03b docs/performance-summary.md and "
        "docs/performance-summary-archive.md (one section per NeMo container release)",
        "url": "https://github.com/NVIDIA-NeMo/Megatron-Bridge/blob/067f987df03b/docs/performance-summary.md",
    },
    "Llama 3 paper (Meta)": {
        "slug": "llama3-paper", "year": 2024,
        "title": "Llama 3 405B pre-training configurations (Llama Team 2024, Table 4)",
        "citation": "Llama Team, AI @ Meta, The Llama 3 Herd of Models (arXiv:2407.21783), Section 3.3.2, "
        "Table 4",
        "url": "https://arxiv.org/abs/2407.21783",
    },
    "PaLM paper Table 3 (MFU of prior large models)": {
        "slug": "palm-table3", "year": 2022,
        "title": "PaLM paper, Table 3 (Chowdhery et al. 2022)",
        "citation": "Chowdhery et al., PaLM: Scaling Language Modeling with Pathways (arXiv:2204.02311), "
        "Section 4 and Table 3",
        "url": "https://arxiv.org/abs/2204.02311",
    },
}  # fmt: skip

CHIP_PREFIXES = [  # (prefix of the reference's chip text, catalogue id or None when not in the catalogue)
    ("A100", "a100-sxm4-80gb"), ("H100", "h100-sxm5-80gb"), ("B200", "b200-hgx"), ("V100", "v100-sxm2-32gb"),
    ("TPU v4", "tpu-v4"), ("TPU v3", None), ("GB200", "gb200"), ("GB300", "gb300"), ("B300", "b300-hgx"),
]  # fmt: skip

PRESETS = {  # the reference's model text (suffixes such as "(tokendrop)" stripped) -> preset id
    "LLAMA3 8B": "llama3-8b", "LLAMA3-8B": "llama3-8b", "Llama 3 8B": "llama3-8b",
    "LLAMA3 70B": "llama3-70b", "LLAMA3-70B": "llama3-70b",
    "LLAMA3.1 405B": "llama3.1-405b", "Llama 3.1 405B": "llama3.1-405b",
    "LLAMA2-7B": "llama2-7b", "Llama 2 7B": "llama2-7b",
    "LLAMA2-13B": "llama2-13b", "LLAMA2-70B": "llama2-70b",
    "GPT3-175B": "gpt3-175b", "GPT3-5B": "nemo-gpt3-5b", "GPT3-20B": "nemo-gpt3-20b",
    "Nemotron-8B": "nemotron3-8b", "Nemotron-22B": "nemotron3-22b", "Nemotron-340B": "nemotron4-340b",
    "DeepSeekV3": "deepseek-v3", "Qwen3 30B a3B": "qwen3-30b-a3b", "Qwen3 235B a22B": "qwen3-235b-a22b",
    "GPT OSS 120B": "gpt-oss-120b", "PaLM 540B": "palm-540b",
}  # fmt: skip

UNMODELLED = {  # model text prefix -> why the row is left out
    "Nemotron 3": "hybrid Mamba-Transformer model (Nemotron 3): architecture not modelled",
    "DeepSeekV4": "DeepSeek-V4: architecture not sourced",
    "Kimi K2": "Kimi K2: no preset and architecture not sourced here",
}

MEGATRON_2021_SHARDING = (
    "Megatron-LM 2021 had no distributed optimizer: every data-parallel replica holds it all"
)
NEMO_SHARDING = "not stated; NeMo's Megatron optimizer defaults to the distributed optimizer (ZeRO-1)"
KEEP_NULL = {"recompute"}  # written as null (unknown) rather than left out


class Excluded(Exception):
    """A reference row left out of the catalogue; the message is the reason."""


def chip_id(text: str) -> str | None:
    for prefix, cid in CHIP_PREFIXES:
        if text.startswith(prefix):
            return cid
    raise ValueError(f"unmapped chip {text!r}")


def base_model_name(text: str) -> str:
    return text.split(" (")[0].strip()


def precision(text: str | None) -> tuple[str, str | None]:
    """(bf16 | fp16 | fp8, the source's own words)."""
    raw = (text or "").strip()
    if raw.startswith("NVFP4"):
        raise Excluded("fp4 not modelled (NVFP4)")
    if "FP8" in raw.upper():
        return "fp8", raw
    if raw == "BF16":
        return "bf16", raw
    raise ValueError(f"unmapped precision {raw!r}")


def gpt_architecture(r: dict[str, Any], *, tied: bool, why_tied: str) -> tuple[dict[str, Any], str]:
    """Inline shape of a Megatron benchmark GPT (FFN 4h, GELU, multi-head, learned positions), and a note."""
    h = int(r["hidden"])
    notes = [why_tied]
    heads = r.get("heads")
    if heads is None:
        heads = h // 128
        notes.append(f"Heads not in the record: hidden/128 = {heads} assumed (no effect on FLOPs or params)")
    ffn = int(r.get("ffn") or 4 * h)
    arch = {
        "layers": int(r["layers"]),
        "hidden_size": h,
        "heads": int(heads),
        "kv_heads": int(heads),
        "ffn_size": ffn,
        "glu": False,
        "vocab_size": int(r["vocab"]),
        "tied_embeddings": tied,
        "position_embedding": "learned",
    }
    return arch, ". ".join(notes)


def _count(arch: dict[str, Any], seq_len: int) -> float:
    """Weights of an inline architecture (capacity/formulas/params.py)."""
    from capacity.formulas.params import counted_preset
    from capacity.records.chip import Source

    preset = counted_preset(
        id="count",
        name="count",
        family="count",
        organisation="count",
        year=2021,
        context_length=seq_len,
        sources=[Source(title="count")],
        **arch,
    )
    return preset.params


def common(r: dict[str, Any], meta: dict[str, Any], cid: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": r["id"],
        "source": r["source"],
        "source_group": meta["slug"],
        "verify": r["verify"],
        "verify_note": r.get("verify_note"),
        "verify_fields_secondary": r.get("verify_fields_secondary"),
        "year": meta["year"],
        "framework": r.get("framework"),
        "hardware": r["chip"],
        "chip": cid,
        "chips": r.get("chips"),
        "interconnect": r.get("interconnect"),
        "model_name": r["model"],
        "seq_len": r.get("seq_len"),
        "global_batch_seqs": r.get("global_batch_seqs"),
        "micro_batch": r.get("micro_batch"),
        "grad_accum": r.get("grad_accum"),
        "mfu_definition": r.get("mfu_definition"),
        "comm_overlap": r.get("comm_overlap"),
    }
    return out


def notes_join(*parts: str | None) -> str | None:
    text = " ".join(p.strip() for p in parts if p)
    return text or None


def convert(r: dict[str, Any], siblings: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One reference record -> a SteadyRun dict (raises Excluded with the reason)."""
    meta = GROUPS[r["source_group"]]
    cid = chip_id(r["chip"])
    if cid is None:
        raise Excluded(f"chip not in catalogue ({r['chip'].split(' (')[0]})")
    for prefix, why in UNMODELLED.items():
        if r["model"].startswith(prefix):
            raise Excluded(why)
    if str(r.get("consistency_check", "")).startswith("TPxPPxCPxDP"):
        raise Excluded(
            "layout does not multiply out to the chip count (tp·pp·cp·dp ≠ chips: the NeMo long-sequence "
            "B200 table is off by 4x on every row)"
        )
    m = r.get("measured") or {}
    if not m:
        raise Excluded("no measured quantity published (empty table cell)")
    par = r.get("parallel") or {}
    ranks = (par.get("tp") or 1) * (par.get("cp") or 1) * (par.get("dp_implied") or par.get("dp") or 1)
    if (par.get("ep") or 1) > ranks:
        raise Excluded(
            "expert parallelism wider than tp·cp·dp (experts folded over pipeline ranks): not representable"
        )
    out = common(r, meta, cid)
    slug = meta["slug"]
    handler = {
        "megatron-sc21": _sc21,
        "megatron-korthikanti": _korthikanti,
        "mcore-h100-weak": _mcore,
        "nemo-24.07": _nemo2407,
        "nemo-long-sequence": _longseq,
        "megatron-bridge": _mbridge,
        "llama3-paper": _llama3,
        "palm-table3": _palm,
    }[slug]
    handler(r, out, siblings)
    for nested in ("measured", "parallel"):
        out[nested] = {k: v for k, v in out[nested].items() if v is not None}
    out = {k: v.strip() if isinstance(v, str) else v for k, v in out.items()}
    return {k: v for k, v in out.items() if v is not None or k in KEEP_NULL}


def _tokens_from_flops(out: dict[str, Any], tflops: float, definition: str, label: str) -> tuple[float, str]:
    model = steady_model(SteadyRun.model_validate(_draft(out, definition)))
    fpt = source_flops_per_token(definition, model, out["seq_len"])  # type: ignore[arg-type]
    assert fpt is not None, (out["id"], definition)
    tokens = tflops * 1e12 / fpt
    return tokens, f"{label} {tflops:g} TFLOP/s ÷ {fpt / 1e9:.2f} GFLOP per token ({definition} definition)"


def _draft(out: dict[str, Any], definition: str) -> dict[str, Any]:
    """A provisional record (tokens/s = 1) to build the model for the FLOPs-per-token division."""
    draft = {k: v for k, v in out.items() if (v is not None or k in KEEP_NULL) and k != "measured"}
    draft["measured"] = {
        "tokens_per_s_per_gpu": 1.0,
        "derived_from": "provisional",
        "flops_definition": definition,
    }
    return draft


def _sc21(r: dict[str, Any], out: dict[str, Any], _: Any) -> None:
    p, m = r["parallel"], r["measured"]
    arch, _ = gpt_architecture(r, tied=True, why_tied="")
    tied, untied = (_count(arch | {"tied_embeddings": t}, r["seq_len"]) / 1e9 for t in (True, False))
    out["architecture"], arch_note = gpt_architecture(
        r,
        tied=True,
        why_tied=f"Tied input/output embeddings (Megatron-LM default of the time): the stated "
        f"{r['params_total'] / 1e9:g}B is closer to the tied count ({tied:.2f}B) than the untied "
        f"({untied:.2f}B)",
    )
    out["parallel"] = {
        "tp": p["tp"],
        "pp": p["pp"],
        "dp": p["dp"],
        "sharding": "none",
        "sharding_note": MEGATRON_2021_SHARDING,
    }
    out["recompute"], out["recompute_note"] = "full", r["recompute"]
    out["precision"] = "fp16"
    out["precision_note"] = (
        f"{r['precision']}; fp16 vs bf16 not stated (both 312 TFLOP/s on A100): fp16 assumed, as in the "
        "Megatron-LM GPT examples of 2021"
    )
    out["measured"] = {
        "tflops_per_gpu": m["tflops_per_gpu"],
        "pct_of_peak": m["pct_of_peak"],
        "aggregate_pflops": m["aggregate_pflops"],
        "flops_definition": "narayanan-2021",
    }
    tokens, how = _tokens_from_flops(out, m["tflops_per_gpu"], "narayanan-2021", "tflops_per_gpu")
    out["measured"] |= {"tokens_per_s_per_gpu": round(tokens, 2), "derived_from": how}
    out["notes"] = notes_join(
        f"Model-parallel size {p['model_parallel_size']}; TP/PP split {p['tp_pp_split']} (see verify_note).",
        "Interleaved 1F1B schedule per the framework line; stages per rank not in the record.",
        arch_note + ".",
    )


def _korthikanti(r: dict[str, Any], out: dict[str, Any], _: Any) -> None:
    if "parallel" not in r:
        raise Excluded("parallel layout and global batch not stated (paper abstract only)")
    p, m = r["parallel"], r["measured"]
    out["architecture"], arch_note = gpt_architecture(
        r,
        tied=True,
        why_tied="Tied input/output embeddings assumed (Megatron-LM of 2022 always tied them; same code base "
        "and shapes as the Narayanan et al. table, whose parameter counts need tied embeddings)",
    )
    out["parallel"] = {
        "tp": p["tp"],
        "pp": p["pp"],
        "dp": p["dp"],
        "vp": p["vp"],
        "sharding": "none",
        "sharding_note": "dp = 1: nothing to shard",
    }
    seqsel = r["recompute"].startswith("sequence parallelism")
    out["recompute"], out["recompute_note"] = ("selective" if seqsel else "full"), r["recompute"]
    out["precision"], out["precision_note"] = "fp16", r["precision"]
    out["measured"] = {
        "step_time_s": m["step_time_s"],
        "step_time_verify": m.get("step_time_verify"),
        "mfu_pct": m.get("mfu_pct"),
        "hfu_pct": m.get("hfu_pct"),
        "flops_definition": "korthikanti-2022",
    }
    tokens = out["global_batch_seqs"] * out["seq_len"] / (m["step_time_s"] * out["chips"])
    out["measured"] |= {
        "tokens_per_s_per_gpu": round(tokens, 3),
        "derived_from": f"step time: {out['global_batch_seqs'] * out['seq_len']} tokens / "
        f"({m['step_time_s']:g} s x {out['chips']} GPUs)",
    }
    out["notes"] = notes_join(
        "Sequence parallelism on (with selective recomputation)." if seqsel else None, arch_note + "."
    )


def _mcore(r: dict[str, Any], out: dict[str, Any], _: Any) -> None:
    if "parallel" not in r:
        raise Excluded("parallel layout not stated (strong-scaling text only)")
    p, m = r["parallel"], r["measured"]
    out["architecture"], arch_note = gpt_architecture(
        r,
        tied=False,
        why_tied="Untied embeddings (the named sizes, e.g. 7.1B for 30 x 4096 with a 131,072 vocabulary, "
        "need untied input and output embeddings)",
    )
    out["parallel"] = {
        "tp": p["tp"],
        "pp": p["pp"],
        "dp": p["dp"],
        "sharding": "zero1",
        "sharding_note": "--overlap-param-gather (README) implies Megatron's distributed optimizer",
    }
    out["recompute"] = None
    out["recompute_note"] = "not stated"
    out["precision"], out["precision_note"] = "bf16", r["precision"]
    out["measured"] = {
        "tflops_per_gpu": m["tflops_per_gpu"],
        "mfu_pct": m["mfu_pct"],
        "aggregate_pflops": m["aggregate_pflops"],
        "flops_definition": "megatron-lm-2024",
    }
    tokens, how = _tokens_from_flops(out, m["tflops_per_gpu"], "megatron-lm-2024", "tflops_per_gpu")
    out["measured"] |= {"tokens_per_s_per_gpu": round(tokens, 1), "derived_from": how}
    out["notes"] = notes_join(
        "FFN 4h, GELU, multi-head attention and learned positions assumed (README lists layers, hidden, "
        "heads and vocabulary only).",
        arch_note + ".",
    )


def _nemo_parallel(p: dict[str, Any]) -> dict[str, Any]:
    vp = p.get("vp")
    return {
        "tp": p["tp"],
        "pp": p["pp"],
        "cp": p.get("cp", 1),
        "dp": p["dp"],
        "vp": vp,  # 1 when the source says so; null (searched) when it does not say
        "sharding": "zero1",
        "sharding_note": NEMO_SHARDING,
    }


def _nemo2407(r: dict[str, Any], out: dict[str, Any], _: Any) -> None:
    m = r["measured"]
    out["model"] = PRESETS[base_model_name(r["model"])]
    out["parallel"] = _nemo_parallel(r["parallel"])
    out["recompute"], out["recompute_note"] = None, "not stated"
    out["precision"], out["precision_note"] = precision(r["precision"])
    out["measured"] = {
        "tokens_per_s_per_gpu": m["tokens_per_sec_per_gpu"],
        "derived_from": "published (Tokens / sec / GPU)",
        "model_tflops_per_gpu": m["model_tflops_per_gpu"],
        "flops_definition": "nemo-2024",
        "est_days_10t_tokens_1k_gpus": m.get("est_days_10T_tokens_1k_gpus"),
    }
    out["notes"] = r.get("notes")


def _longseq(r: dict[str, Any], out: dict[str, Any], _: Any) -> None:
    m = r["measured"]
    out["model"] = PRESETS[base_model_name(r["model"])]
    out["parallel"] = _nemo_parallel(r["parallel"])
    out["recompute"], out["recompute_note"] = None, "not stated"
    out["precision"], out["precision_note"] = precision(r["precision"])
    out["measured"] = {
        "model_tflops_per_gpu": m["model_tflops_per_gpu"],
        "flops_definition": "nemo-2024",
        "tflops_per_gpu_best_config_without_cp": m.get("tflops_per_gpu_best_config_without_cp"),
        "speedup_cp_vs_no_cp": m.get("speedup_cp_vs_no_cp"),
    }
    tokens, how = _tokens_from_flops(out, m["model_tflops_per_gpu"], "nemo-2024", "model_tflops_per_gpu")
    out["measured"] |= {
        "tokens_per_s_per_gpu": round(tokens, 1),
        "derived_from": how + "; NeMo's llama2 formula counts full (non-causal) attention, 12·s/h, as the "
        "NeMo 24.07 table does (checked there to 0.1 %); if this older table counted causal attention, "
        "tokens/s would be higher, by up to 2x at 1M tokens",
    }
    out["notes"] = r.get("notes")


MBRIDGE_GRAD_REDUCE = (
    "the performance recipes set grad_reduce_in_fp32 = False (Megatron-Bridge scripts/performance: "
    "set_llama3_common_configs, the DeepSeek-V3 and Qwen3 common configs, utils/helpers.py "
    "set_basic_perf_overrides)"
)


def _mbridge(r: dict[str, Any], out: dict[str, Any], siblings: dict[str, dict[str, Any]]) -> None:
    p, m = r["parallel"], r["measured"]
    container = r["framework"].split("/")[1].strip().split()[0]
    out["year"] = 2000 + int(container.split(".")[0])
    name = r["model"]
    out["model"] = PRESETS[base_model_name(name)]
    if r.get("moe"):
        out["moe_token_drop"] = "(tokendrop)" in name
    if "(w/ MTP)" in name or "(w/o MTP)" in name:
        out["multi_token_prediction"] = "(w/ MTP)" in name
    fsdp = p.get("fsdp")
    if fsdp is None:
        sharding, note = "zero1", "no FSDP column in this table: DDP with the distributed optimizer assumed"
    elif fsdp == 0:
        sharding, note = "zero1", "FSDP = 0 (DDP); the distributed optimizer assumed"
    else:
        sharding, note = "zero3", f"FSDP = {fsdp} (sharding group of #GPUs/(TP x PP))"
    vp = p.get("vp")
    out["parallel"] = {
        "tp": p["tp"],
        "pp": p["pp"],
        "cp": p.get("cp", 1),
        "ep": p.get("ep", 1),
        "dp": p["dp_implied"],
        "vp": vp,  # 1 when the source says so; null (searched) when it does not say
        "dp_implied": True,
        "sharding": sharding,
        "sharding_note": note,
        "grad_reduce": "bf16",
        "grad_reduce_note": MBRIDGE_GRAD_REDUCE,
    }
    out["recompute"], out["recompute_note"] = None, "not stated"
    out["precision"], out["precision_note"] = precision(r["precision"])
    out["variant"] = r["variant"]
    measured: dict[str, Any] = {
        "model_tflops_per_gpu": m.get("model_tflops_per_gpu"),
        "flops_definition": "megatron-bridge",
    }
    if "tokens_per_sec_per_gpu" in m:
        measured |= {
            "tokens_per_s_per_gpu": m["tokens_per_sec_per_gpu"],
            "derived_from": "published (Tokens / sec / GPU)",
        }
    else:
        sib = siblings[r["id"]]
        sm = sib["measured"]
        per_token = sm["model_tflops_per_gpu"] * 1e12 / sm["tokens_per_sec_per_gpu"]
        measured |= {
            "tokens_per_s_per_gpu": round(m["model_tflops_per_gpu"] * 1e12 / per_token, 1),
            "derived_from": f"model_tflops_per_gpu {m['model_tflops_per_gpu']:g} ÷ "
            f"{per_token / 1e9:.1f} GFLOP per token, the Megatron-Bridge count implied by row {sib['id']} "
            "(same model, sequence and "
            f"layout: {sm['model_tflops_per_gpu']:g} TFLOP/s at {sm['tokens_per_sec_per_gpu']:g} tokens/s)",
        }
    out["measured"] = measured
    out["notes"] = r.get("notes")
    check = r.get("consistency_check")
    if check:  # DP x MBS x GA != GBS: keep the published GBS and MBS, drop the contradicting GA
        out["grad_accum"] = None
        out["consistency_note"] = (
            f"source row does not add up: {check} (DP {p['dp_implied']} x MBS {r['micro_batch']} x GA "
            f"{r['grad_accum']}); grad_accum left out, global batch and micro batch kept as published"
        )


def _llama3(r: dict[str, Any], out: dict[str, Any], _: Any) -> None:
    p, m = r["parallel"], r["measured"]
    out["model"] = "llama3.1-405b"
    out["parallel"] = {
        "tp": p["tp"],
        "pp": p["pp"],
        "cp": p["cp"],
        "dp": p["dp"],
        "sharding": "zero2",
        "sharding_note": p["dp_type"],
    }
    rec = r["recompute"]
    out["recompute"] = "none" if rec.startswith("none") else None
    out["recompute_note"] = rec
    out["precision"] = "bf16"
    out["measured"] = {
        "tflops_per_gpu": m["tflops_per_gpu"],
        "mfu_pct": m["mfu_pct"],
        "flops_definition": "palm",
    }
    tokens, how = _tokens_from_flops(out, m["tflops_per_gpu"], "palm", "tflops_per_gpu")
    out["measured"] |= {"tokens_per_s_per_gpu": round(tokens, 2), "derived_from": how + " with N = 405.85B"}
    out["notes"] = notes_join(
        r.get("notes"),
        f"Published global batch {r['global_batch_tokens_published']} tokens; {r['batch_seqs_per_dp']} "
        "sequences per DP rank. The record's architecture (vocabulary 128,000 from a transcription of "
        "Table 3) is taken as the llama3.1-405b preset (128,256).",
    )


def _palm(r: dict[str, Any], out: dict[str, Any], _: Any) -> None:
    m = r["measured"]
    if not r.get("chips"):
        raise Excluded("chip count not given: tokens/s per chip cannot be derived")
    if not r.get("global_batch_seqs"):
        raise Excluded("global batch, sequence length and parallel layout not given")
    out["model"] = PRESETS[r["model"]]
    out["framework"] = "Pathways (JAX, T5X)"
    out["parallel"] = {
        "tp": 12,
        "pp": 1,
        "dp": 512,
        "sharding": "zero3",
        "sharding_note": "Sec. 4: per 3072-chip pod, 12-way model parallelism and 256-way fully sharded data "
        "parallelism (2D finalized; weights all-gathered over the data axis), and 2-way data parallelism "
        "across the two pods; no pipeline",
    }
    out["recompute"] = "full"
    out["recompute_note"] = (
        f"{r['recompute']}; Sec. 4: one fully sharded activation tensor saved per layer, the rest "
        "rematerialized in the backward pass"
    )
    out["precision"] = "bf16"
    out["measured"] = {
        "tokens_per_s_total": m["tokens_per_sec_total"],
        "mfu_pct": m["mfu_pct"],
        "hfu_pct": m["hfu_pct"],
        "tokens_per_s_per_gpu": round(m["tokens_per_sec_total"] / r["chips"], 3),
        "derived_from": f"tokens_per_s_total {m['tokens_per_sec_total']:g} / {r['chips']} chips",
        "flops_definition": "palm",
    }
    out["notes"] = notes_join(
        r.get("notes"),
        f"mfu_pct_without_attention {m['mfu_pct_without_attention']}. Parallel layout from the paper's "
        "Sec. 4 (the reference record has none).",
    )


def siblings_of(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Megatron-Bridge rows without tokens/s -> the row of the same section, model and layout that has it."""
    out: dict[str, dict[str, Any]] = {}

    def key(r: dict[str, Any]) -> tuple[Any, ...]:
        p = r["parallel"]
        return (
            r["source"],
            base_model_name(r["model"]),
            r["chip"],
            r["seq_len"],
            r["chips"],
            tuple(sorted((k, v) for k, v in p.items())),
        )

    with_tokens = {key(r): r for r in records if "tokens_per_sec_per_gpu" in (r.get("measured") or {})}
    for r in records:
        m = r.get("measured") or {}
        if (
            r["id"].startswith("mbridge")
            and m
            and "tokens_per_sec_per_gpu" not in m
            and key(r) in with_tokens
        ):
            out[r["id"]] = with_tokens[key(r)]
    return out


def ordered(data: dict[str, Any], model: type[BaseModel]) -> dict[str, Any]:
    """``data`` with its keys in the order the schema declares its fields."""
    return {k: data[k] for k in model.model_fields if k in data}


def dump(path: Path, data: dict[str, Any]) -> None:
    """Write one source-group file: block style, small mappings in flow style, no trailing blanks."""
    import io

    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap

    def flow(d: dict[str, Any]) -> CommentedMap:
        cm = CommentedMap(d)
        cm.fa.set_flow_style()
        return cm

    runs = []
    for run in data["runs"]:
        run = ordered(run, SteadyRun)
        run["parallel"] = CommentedMap(ordered(run["parallel"], Parallel))
        run["measured"] = CommentedMap(ordered(run["measured"], Measured))
        if "architecture" in run:
            arch = ordered(run["architecture"], Architecture)
            if "moe" in arch:
                arch["moe"] = flow(arch["moe"])
            run["architecture"] = flow(arch)
        runs.append(CommentedMap(run))
    doc = CommentedMap({k: v for k, v in data.items() if k != "runs"})
    doc["runs"] = runs
    yaml = YAML()
    yaml.representer.add_representer(
        type(None), lambda rep, _: rep.represent_scalar("tag:yaml.org,2002:null", "null")
    )
    yaml.width = 100
    yaml.indent(mapping=2, sequence=4, offset=2)
    buf = io.StringIO()
    yaml.dump(doc, buf)
    # trailing blanks before a folded line break are not content in plain or quoted YAML scalars
    lines = buf.getvalue().splitlines()
    body = "\n".join(line.rstrip() for line in lines)
    header = f"# {data['title']}\n# Written by benchmarks/import_steady_state.py: edit that, not this file.\n"
    path.write_text(header + body + "\n")
    stripped = any(line != line.rstrip() for line in lines)  # only then can the data have changed
    if stripped and YAML(typ="safe").load(path.read_text()) != YAML(typ="safe").load(buf.getvalue()):
        raise RuntimeError(f"{path}: stripping trailing blanks changed the data")


def main(argv: list[str]) -> int:
    from ruamel.yaml import YAML

    reference = Path(argv[1]) if len(argv) > 1 else DEFAULT_REFERENCE
    out_dir = Path(argv[2]) if len(argv) > 2 else OUT
    records: list[dict[str, Any]] = YAML(typ="safe").load(reference.read_text())
    load_chips(), load_models()  # fail early if the catalogue does not load
    siblings = siblings_of(records)
    kept: dict[str, list[dict[str, Any]]] = {meta["slug"]: [] for meta in GROUPS.values()}
    excluded: list[tuple[str, str]] = []
    for r in records:
        try:
            run = convert(r, siblings)
        except Excluded as why:
            excluded.append((r["id"], str(why)))
            continue
        SteadyRun.model_validate(run)
        kept[run["source_group"]].append(run)

    out_dir.mkdir(parents=True, exist_ok=True)
    for meta in GROUPS.values():
        runs = kept[meta["slug"]]
        if not runs:
            continue
        data = {
            "source_group": meta["slug"],
            "title": meta["title"],
            "citation": meta["citation"],
            "url": meta["url"],
            "runs": runs,
        }
        SteadyRunFile.model_validate(data)
        dump(out_dir / f"{meta['slug']}.yaml", data)

    write_excluded(out_dir / "EXCLUDED.md", excluded, len(records), reference)
    total = sum(len(v) for v in kept.values())
    print(f"{len(records)} reference records: {total} kept, {len(excluded)} excluded")
    for slug, runs in kept.items():
        print(
            f"  {slug:22s} {len(runs):4d}  "
            + ", ".join(f"{c} {n}" for c, n in Counter(x["chip"] for x in runs).items())
        )
    for reason, n in Counter(reason for _, reason in excluded).most_common():
        print(f"  excluded {n:4d}  {reason}")
    return 0


def write_excluded(path: Path, excluded: list[tuple[str, str]], n_records: int, reference: Path) -> None:
    counts = Counter(reason for _, reason in excluded)
    lines = [
        "# Reference rows left out of `specs/steady_state/`",
        "",
        f"Generated by `benchmarks/import_steady_state.py` from `{reference.name}` ({n_records} records): "
        f"{n_records - len(excluded)} kept, {len(excluded)} excluded. A row gets the first reason that "
        "applies, in this order: chip not in the catalogue, model not modelled, layout inconsistent, nothing "
        "measured, fp4, not enough to derive tokens/s per GPU.",
        "",
        "| rows | reason |",
        "|---:|---|",
        *[f"| {n} | {reason} |" for reason, n in counts.most_common()],
        "",
        "| reference id | reason |",
        "|---|---|",
        *[f"| {rid} | {reason} |" for rid, reason in excluded],
        "",
    ]
    path.write_text("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
