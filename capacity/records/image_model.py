"""An image-generation model preset: what one file in ``specs/image_models/`` holds.

A latent diffusion model has three parts (Rombach et al. 2022, arXiv:2112.10752): text encoders that read
the prompt once, a denoiser (a UNet or a diffusion transformer) run once per sampling step (twice with
classifier-free guidance), and a VAE whose decoder turns the final latent into pixels. The fields are the
ones in the models' published ``config.json`` files (Hugging Face ``diffusers``), so FLOPs and parameters
are counted from the architecture (:mod:`capacity.formulas.diffusion`) and checked against the stated
parameter counts.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Discriminator, Field, Tag, model_validator

from capacity.core.strict_numbers import InputModel
from capacity.records.chip import Source
from capacity.records.model_spec import ModelId, PosInt


class _Strict(InputModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UNet(_Strict):
    """A ``UNet2DConditionModel`` (diffusers): ResNet blocks, with transformer blocks at the cross-attention
    levels, down then up with skip connections. ``transformer_layers`` is per level (the mid block uses the
    deepest level's)."""

    type: Literal["unet"]
    in_channels: PosInt
    block_out_channels: list[PosInt] = Field(min_length=1)
    layers_per_block: PosInt
    cross_attention: list[bool] = Field(description="per level: has transformer blocks (CrossAttn*Block2D)")
    transformer_layers: list[PosInt] = Field(description="per level: transformer blocks after each ResNet")
    cross_attention_dim: PosInt = Field(description="width of the text-encoder states the blocks attend to")
    add_embedding_in: int = Field(
        default=0, ge=0, description="SDXL: width of the pooled-text + size conditioning embedding input"
    )
    params: float = Field(gt=0, description="stated parameters of the UNet")

    @model_validator(mode="after")
    def _per_level(self) -> UNet:
        levels = len(self.block_out_channels)
        if len(self.cross_attention) != levels or len(self.transformer_layers) != levels:
            raise ValueError(f"cross_attention and transformer_layers need one entry per level ({levels})")
        return self


class DiT(_Strict):
    """A diffusion transformer over latent patches (MMDiT of SD3, FLUX.1): ``double_layers`` keep separate
    weights for image and text tokens and attend jointly; ``single_layers`` share one stream (FLUX)."""

    type: Literal["dit"]
    in_channels: PosInt = Field(description="latent channels")
    patch_size: PosInt
    hidden_size: PosInt
    double_layers: PosInt
    single_layers: int = Field(default=0, ge=0)
    mlp_ratio: float = Field(default=4.0, gt=0)
    joint_attention_dim: PosInt = Field(description="width of the text states the context embedder reads")
    text_tokens: PosInt = Field(description="text tokens in the joint sequence (SD3: 77 CLIP + 256 T5)")
    params: float = Field(gt=0, description="stated parameters of the transformer")


class TextEncoder(_Strict):
    name: str
    params: float = Field(gt=0, description="parameters of the encoder (the text tower only)")
    tokens: PosInt = Field(description="prompt tokens it reads (its maximum length)")
    width: PosInt = Field(description="hidden size (config.json hidden_size or d_model)")
    layers: PosInt = Field(description="transformer layers run (SD 2 stops one short of OpenCLIP-H's 24)")
    vocab_size: PosInt = Field(description="token-embedding rows: looked up, not multiplied")


class Vae(_Strict):
    """An ``AutoencoderKL`` (diffusers): the decoder mirrors ``block_out_channels``, with
    ``layers_per_block + 1`` ResNets per level and one self-attention in the middle block."""

    latent_channels: PosInt
    block_out_channels: list[PosInt] = Field(min_length=2)
    layers_per_block: PosInt
    params: float = Field(gt=0, description="stated parameters of encoder and decoder together")

    @property
    def downsample(self) -> int:
        """Pixels per latent element along each side (8 for SD: three 2x downsamplings)."""
        return 1 << (len(self.block_out_channels) - 1)


def _denoiser_type(value: Any) -> str | None:
    """``type: unet`` or ``type: dit`` picks the one schema a denoiser is checked against, so a wrong value
    gets that schema's errors, not both branches'."""
    found = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return {"unet": "UNet", "dit": "DiT"}.get(found) if isinstance(found, str) else None


class ImageModelPreset(_Strict):
    """A published image-generation model: architecture, sampling defaults, sources."""

    id: ModelId
    name: str
    aliases: list[str] = Field(default_factory=list)
    organisation: str
    year: int = Field(ge=2020, le=2035)
    denoiser: Annotated[
        Annotated[UNet, Tag("UNet")] | Annotated[DiT, Tag("DiT")],
        Discriminator(
            _denoiser_type,
            custom_error_type="denoiser_type",
            custom_error_message="type must be unet or dit",
            custom_error_context={},
        ),
    ]
    text_encoders: list[TextEncoder] = Field(min_length=1)
    vae: Vae
    resolution: PosInt = Field(description="native output resolution, pixels per side")
    steps: PosInt = Field(description="sampling steps its authors' default pipeline runs")
    guidance_passes: Literal[1, 2] = Field(
        description="denoiser passes per step: 2 with classifier-free guidance, 1 when guidance is distilled"
    )
    notes: str | None = None
    sources: list[Source] = Field(min_length=1)

    @model_validator(mode="after")
    def _latent(self) -> ImageModelPreset:
        if self.denoiser.in_channels != self.vae.latent_channels:
            raise ValueError("denoiser.in_channels must match vae.latent_channels")
        if self.resolution % self.size_multiple:
            raise ValueError(f"resolution must be a multiple of {self.size_multiple}")
        return self

    @property
    def size_multiple(self) -> int:
        """Image sides must be a multiple of this: the VAE's downsampling times the UNet's (2 per level
        below the first) or the transformer's patch."""
        d = self.denoiser
        inner = 1 << (len(d.block_out_channels) - 1) if isinstance(d, UNet) else d.patch_size
        return self.vae.downsample * inner

    @property
    def params(self) -> float:
        """Parameters of the whole pipeline: denoiser, text encoders and VAE."""
        return self.denoiser.params + sum(t.params for t in self.text_encoders) + self.vae.params
