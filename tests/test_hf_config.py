"""``--model`` takes a Hugging Face config.json or a model YAML: parameter counts computed from published
configs match the published counts, the mapping keeps each type's conventions, bad files exit 2 with one
line, and a scenario's relative model path is read from the scenario's folder."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from capacity.core.errors import InputError
from capacity.data.catalog import load_models
from capacity.data.hf_config import SUPPORTED_TYPES, preset_from_hf_config, preset_id
from capacity.data.model_source import resolve_model
from capacity.formulas.params import total_params

HF = Path(__file__).parent / "fixtures" / "hf"

# (fixture folder, published total, published active per token or None, where the numbers are published)
PUBLISHED: list[tuple[str, float, float | None, str]] = [
    ("Meta-Llama-3-8B", 8.030261248e9, None,
     "8,030,261,248 weights in the released checkpoint (specs/models/llama3-8b.yaml; Meta model card: 8B)"),
    ("Mixtral-8x7B-v0.1", 46.7e9, 12.9e9,
     "Mistral AI, 'Mixtral of experts' (Dec 2023): 46.7B total, 12.9B used per token"),
    ("Qwen2-57B-A14B", 57e9, 14e9,
     "Yang et al. 2024, Qwen2 Technical Report (arXiv:2407.10671), Table 1: 57B total, 14B activated"),
    ("Qwen1.5-MoE-A2.7B", 14.3e9, 2.7e9,
     "Qwen/Qwen1.5-MoE-A2.7B model card: 14.3B parameters in total, 2.7B activated"),
    ("Qwen3-30B-A3B", 30.5e9, 3.3e9,
     "Qwen/Qwen3-30B-A3B model card: 30.5B in total, 3.3B activated"),
    ("DeepSeek-V3", 671e9, 37e9,
     "DeepSeek-AI 2024, DeepSeek-V3 Technical Report (arXiv:2412.19437), abstract: 671B total, "
     "37B activated (without the 14B multi-token-prediction module)"),
    ("gpt2", 124e6, None, "openai-community/gpt2 model card: the smallest GPT-2, 124M parameters"),
    ("mpt-7b", 6.7e9, None, "mosaicml/mpt-7b model card, hyperparameter table: n_parameters 6.7B"),
    ("falcon-7b", 7.0e9, None,
     "tiiuae/falcon-7b model card: 'a 7B parameters causal decoder-only model'; see the falcon test"),
    ("gemma-2-9b", 9.241705984e9, None,
     "Gemma Team 2024, Gemma 2 (arXiv:2408.00118), Table 2: 917,504,000 embedding + 8,324,201,984 other"),
    ("gemma-3-4b-pt", 3.884e9, None,
     "Gemma Team 2025, Gemma 3 Technical Report (arXiv:2503.19786), Table 1: 675M embedding + 3,209M "
     "non-embedding (the 417M vision encoder is not part of the language model)"),
    ("Phi-3-mini-4k-instruct", 3.8e9, None,
     "Abdin et al. 2024, Phi-3 Technical Report (arXiv:2404.14219), abstract: phi-3-mini, 3.8B parameters"),
    ("pythia-6.9b", 6.857302016e9, None,
     "EleutherAI/pythia README, model table: 6.9B model, 6,857,302,016 total parameters"),
    ("Qwen2-7B", 7.61e9, None,
     "Qwen2.5-7B model card: 7.61B (the same shapes as Qwen2-7B: 28 layers, 3584 wide, FFN 18944, 28/4 "
     "heads, 152,064-token untied vocabulary); Qwen2's own card gives no finer count than 7B"),
]  # fmt: skip


@pytest.mark.parametrize(("folder", "total", "active", "source"), PUBLISHED, ids=[p[0] for p in PUBLISHED])
def test_counts_match_published(folder: str, total: float, active: float | None, source: str) -> None:
    m = preset_from_hf_config(HF / folder / "config.json")
    assert m.params == pytest.approx(total, rel=0.03), source
    if active is None:
        assert m.moe is None and m.active_params is None
    else:
        assert m.active_params == pytest.approx(active, rel=0.03), source


def test_falcon_ties_its_lm_head_so_the_hub_count_is_larger() -> None:
    # The Hub's 7.22B for tiiuae/falcon-7b counts the LM head apart from the embedding; config.json does not
    # set tie_word_embeddings, so FalconConfig's default (True) ties them and the model holds 6.92B.
    m = preset_from_hf_config(HF / "falcon-7b" / "config.json")
    assert m.tied_embeddings and m.kv_heads == 1 and not m.glu and m.ffn_size == 4 * 4544
    untied = total_params(m.model_copy(update={"tied_embeddings": False}))
    assert untied == pytest.approx(7.22e9, rel=0.005)


def test_llama3_8b_counts_exactly_as_the_catalogue_preset() -> None:
    from_config = resolve_model(str(HF / "Meta-Llama-3-8B"))  # a folder holding config.json
    assert from_config.params == total_params(load_models().get("llama3-8b"))
    assert from_config.id == "hf-meta-llama-3-8b" and from_config.family == "llama"
    assert from_config.organisation == "Hugging Face config" and from_config.year == 2025
    assert from_config.sources[0].title == f"Hugging Face config {HF / 'Meta-Llama-3-8B' / 'config.json'}"


def test_each_type_keeps_its_conventions() -> None:
    def load(name: str) -> Any:
        return preset_from_hf_config(HF / name / "config.json")

    gpt2 = load("gpt2")
    assert gpt2.position_embedding == "learned" and gpt2.tied_embeddings
    assert not gpt2.glu and gpt2.ffn_size == 4 * 768
    mpt = load("mpt-7b")
    assert mpt.position_embedding == "alibi" and mpt.tied_embeddings
    assert (mpt.ffn_size, mpt.kv_heads) == (16384, 32)
    pythia = load("pythia-6.9b")
    assert not pythia.glu and not pythia.tied_embeddings and pythia.position_embedding == "rope"
    qwen3 = load("Qwen3-30B-A3B")
    assert qwen3.head_dim == 128 and qwen3.moe is not None and qwen3.moe.moe_layers is None
    assert (qwen3.moe.experts, qwen3.moe.top_k, qwen3.moe.expert_ffn_size) == (128, 8, 768)
    qwen2 = load("Qwen2-57B-A14B")
    assert qwen2.moe is not None and (qwen2.moe.shared_experts, qwen2.moe.expert_ffn_size) == (8, 2560)
    assert "shared expert (20480 wide) is written as 8 shared experts" in (qwen2.notes or "")
    ds = load("DeepSeek-V3")
    assert ds.moe is not None and ds.mla is not None
    assert (ds.moe.moe_layers, ds.moe.shared_experts, ds.ffn_size, ds.kv_heads) == (58, 1, 18432, 128)
    assert (ds.mla.q_lora_rank, ds.mla.kv_lora_rank, ds.mla.qk_rope_head_dim) == (1536, 512, 64)
    gemma3 = load("gemma-3-4b-pt")  # text_config gives the sizes; the rest are Gemma3TextConfig defaults
    assert (gemma3.family, gemma3.heads, gemma3.kv_heads, gemma3.head_dim) == ("gemma3_text", 8, 4, 256)
    assert gemma3.vocab_size == 262208 and gemma3.tied_embeddings and gemma3.layers == 34
    assert load("gemma-2-9b").tied_embeddings and load("Phi-3-mini-4k-instruct").glu


def _config(tmp_path: Path, data: dict[str, Any] | str, folder: str = "my model") -> Path:
    path = tmp_path / folder / "config.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


LLAMA = json.loads((HF / "Meta-Llama-3-8B" / "config.json").read_text())


def test_missing_field_names_the_file_and_the_field(tmp_path: Path) -> None:
    path = _config(tmp_path, {k: v for k, v in LLAMA.items() if k != "num_hidden_layers"})
    with pytest.raises(InputError) as exc:
        preset_from_hf_config(path)
    assert str(exc.value) == f"{path}: llama config lacks 'num_hidden_layers'"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"model_type": "llama",\n  "hidden_size": }', "config.json:2:18: JSON syntax error: Expecting"),
        ("[1, 2]", "expected a JSON object"),
        ('{"model_type": "llama", "hidden_size": NaN}', "NaN is not a JSON number"),
        ({**LLAMA, "hidden_size": "4096"}, "'hidden_size' must be a positive integer, got '4096'"),
        ({**LLAMA, "num_key_value_heads": 5}, "heads (32) must be a multiple of kv_heads (5)"),
        ({"model_type": "gemma3"}, "gemma3 config lacks 'text_config'"),
    ],
)
def test_broken_configs_are_one_line(tmp_path: Path, text: Any, expected: str) -> None:
    with pytest.raises(InputError) as exc:
        preset_from_hf_config(_config(tmp_path, text))
    assert expected in str(exc.value) and "\n" not in str(exc.value)


def test_oversized_config_is_refused(tmp_path: Path) -> None:
    path = _config(tmp_path, json.dumps({**LLAMA, "pad": "x" * 1_000_001}))
    with pytest.raises(InputError, match="over the 1,000,000-byte limit"):
        preset_from_hf_config(path)


def test_ids_are_valid_model_ids() -> None:
    assert preset_id(Path("x/Qwen1.5-MoE-A2.7B/config.json")) == "hf-qwen1.5-moe-a2.7b"
    assert preset_id(Path("x/My Model__v2./config.json")) == "hf-my-model-v2"
    assert preset_id(Path("/config.json")) == "hf-config"
    assert preset_id(Path("x/Llama-3.json")) == "hf-llama-3"


def test_unknown_model_type_exits_2_listing_the_supported_types(cli: Any, tmp_path: Path) -> None:
    path = _config(tmp_path, {"model_type": "bert", "hidden_size": 768})
    run = cli("train", "--model", str(path), "--tokens", "1T")
    assert run.exit_code == 2
    assert run.stderr.count("\n") == 1 and str(path) in run.stderr and "'bert'" in run.stderr
    assert all(t in run.stderr for t in SUPPORTED_TYPES) and "Traceback" not in run.stderr


def test_missing_model_file_exits_2(cli: Any, tmp_path: Path) -> None:
    run = cli("train", "--model", str(tmp_path / "nope.json"), "--tokens", "1T")
    assert run.exit_code == 2 and f"error: model file not found: {tmp_path / 'nope.json'}" in run.stderr


def test_config_path_drives_train_and_serve(cli: Any) -> None:
    path = str(HF / "Mixtral-8x7B-v0.1" / "config.json")
    data = cli("train", "--model", path, "--tokens", "1T", "-f", "json").json()
    assert data["model"] == "hf-mixtral-8x7b-v0.1"
    assert data["training_flops"] == pytest.approx(6 * 12.88e9 * 1e12, rel=0.01)  # 6·N_active·D
    run = cli("serve", "--model", path, "--chip", "h100", "--input-tokens", "1000", "--output-tokens", "100")
    assert run.exit_code == 0, run.stderr


def test_model_yaml_path_works_without_the_id_file_name_rule(cli: Any, tmp_path: Path) -> None:
    preset = (Path(__file__).parent.parent / "specs" / "models" / "llama3-8b.yaml").read_text()
    path = tmp_path / "my-own-model.yml"
    path.write_text(preset.replace("id: llama3-8b", "id: my-llama"))
    data = cli("train", "--model", str(path), "--tokens", "1T", "-f", "json").json()
    assert data["model"] == "my-llama" and data["params"] == pytest.approx(8.03e9, rel=1e-3)
    path.write_text(preset.replace("layers: 32", "layers: -1"))
    run = cli("train", "--model", str(path), "--tokens", "1T")
    assert run.exit_code == 2 and f"{path}:" in run.stderr and "layers" in run.stderr


def test_a_model_yaml_takes_counts_and_refuses_booleans(cli: Any, tmp_path: Path) -> None:
    # review: `params: true` ran as a one-parameter model (exit 0, MFU 1e-11)
    preset = (Path(__file__).parent.parent / "specs" / "models" / "llama3-8b.yaml").read_text()
    path = tmp_path / "mine.yaml"
    path.write_text(re.sub(r"(?m)^params: .*$", "params: true", preset))
    run = cli("train", "--model", str(path), "--tokens", "1T")
    assert run.exit_code == 2 and "params: true is a yes/no value" in run.stderr
    path.write_text(re.sub(r"(?m)^params: .*$", "params: 8.03B", preset))
    data = cli("train", "--model", str(path), "--tokens", "1T", "-f", "json").json()
    assert data["params"] == pytest.approx(8.03e9, rel=1e-3)


def test_relative_paths_and_ids(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _config(tmp_path, LLAMA, "models/llama")
    assert resolve_model("models/llama/config.json", tmp_path).id == "hf-llama"
    assert resolve_model("models/llama", tmp_path).id == "hf-llama"  # the folder holding config.json
    monkeypatch.chdir(tmp_path)
    assert resolve_model("models/llama").id == "hf-llama"  # without base_dir: the current directory
    assert resolve_model("llama3-8b").id == "llama3-8b"  # not a path: the catalogue
    with pytest.raises(InputError, match="model file not found"):
        resolve_model("models/other.yaml")


PLAN = """schema_version: 1
name: from a config
kind: train
model: {model}
tokens: 1e12
hardware: {{chip: h100, gpus: 256}}
efficiency: {{mfu: 0.4}}
"""


def test_scenario_model_path_is_relative_to_the_scenario(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _config(tmp_path, LLAMA, "models/llama")
    plans = tmp_path / "plans"
    plans.mkdir()
    (plans / "plan.yaml").write_text(PLAN.format(model="../models/llama/config.json"))
    (plans / "sweep.yaml").write_text(
        PLAN.format(model="../models/llama") + "sweep: {hardware.gpus: [128, 256]}\n"  # vectorised path
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    data = cli("run", "../plans/plan.yaml", "../plans/sweep.yaml", "-f", "json").json()
    assert data[0]["result"]["model"] == "hf-llama"
    assert data[0]["result"]["params"] == pytest.approx(8.03e9, rel=1e-3)
    assert len(data) == 3  # one point and a two-point sweep


def test_scenario_with_a_missing_model_file_exits_2_at_its_line(cli: Any, tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN.format(model="models/none.json"))
    run = cli("check", str(path))
    assert run.exit_code == 2
    assert f"{path}:4:8: model: model file not found: {tmp_path / 'models' / 'none.json'}" in run.stderr


def test_a_dimension_no_model_has_is_bad_input(cli: Any, tmp_path: Path) -> None:
    """Issue 15: num_hidden_layers 1e30 ran to a 'does not fit' (exit 1) with 30-digit chip counts."""
    cfg = {"model_type": "llama", "num_hidden_layers": 1e30, "hidden_size": 4096, "num_attention_heads": 32,
           "intermediate_size": 11008, "vocab_size": 32000, "max_position_embeddings": 4096}  # fmt: skip
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    run = cli("train", "--model", str(path), "--tokens", "1T", "--chip", "a100", "--gpus", "8")
    assert (
        run.exit_code == 2 and "num_hidden_layers" in run.stderr and "no published architecture" in run.stderr
    )


def test_a_hand_written_model_needs_only_its_architecture(cli: Any, tmp_path: Path) -> None:
    """Issue 15: a model YAML had to carry the catalogue's family, organisation, year and sources."""
    path = tmp_path / "mine.yaml"
    path.write_text("id: my-13b\nparams: 13e9\nlayers: 40\nhidden_size: 5120\nheads: 40\nkv_heads: 40\n"
                    "ffn_size: 13824\nglu: true\nvocab_size: 32000\ncontext_length: 4096\n")  # fmt: skip
    run = cli("train", "--model", str(path), "--tokens", "1T", "--chip", "a100", "--gpus", "64", "-f", "json")
    assert run.exit_code == 0, run.stderr
    assert run.json()["model"] == "my-13b" and run.json()["params"] == 13e9


def test_a_ten_million_token_context_is_a_real_config(cli: Any, tmp_path: Path) -> None:
    """review: the dimension cap refused Llama-4-style max_position_embeddings of 10,485,760."""
    cfg = {"model_type": "llama", "num_hidden_layers": 32, "hidden_size": 4096, "num_attention_heads": 32,
           "intermediate_size": 11008, "vocab_size": 32000,
           "max_position_embeddings": 10_485_760}  # fmt: skip
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    run = cli("train", "--model", str(path), "--tokens", "1T", "--chip", "a100", "--gpus", "64")
    assert run.exit_code == 0, run.stderr
