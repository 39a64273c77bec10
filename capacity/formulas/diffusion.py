"""FLOPs of latent diffusion: the denoiser per step, the text encoders, the VAE, per image served or trained.

Conventions (stated once, used everywhere):

- FLOPs = 2 × multiply-accumulates (MACs); a k×k convolution from c_in to c_out channels over P output
  pixels costs P·k²·c_in·c_out MACs, a linear layer over n tokens n·c_in·c_out, attention of n_q queries
  over n_kv keys of width C costs 2·n_q·n_kv·C (QKᵀ and AV). Normalisations, activations, the timestep
  embedding's sinusoid and the sampler's own arithmetic are left out (well under 1 % of a step).
- The architecture walk follows diffusers' ``UNet2DConditionModel``, ``AutoencoderKL`` and the SD3/FLUX
  transformers; the same walk counts parameters, which the catalogue test checks against the stated counts.
- Inference: each of ``steps`` sampling steps runs the denoiser ``guidance_passes`` times (2 with
  classifier-free guidance, Ho & Salimans 2022, arXiv:2207.12598), the text encoders read the prompt (and
  the empty prompt under guidance) once, the VAE decodes once.
- Training: forward + backward of the denoiser is 3 × its forward (the 6ND convention's 2 + 4, Kaplan et
  al. 2020), one pass per image; the frozen text encoders and VAE encoder run forward only. The VAE
  encoder is a large share at these sizes (31 % of SD 1.5's training FLOPs at 512 px, 19 % of SDXL's at
  1024): runs that compute latents once ahead of training (MosaicML's) save it, which
  :func:`capacity.data.diffusion_data.run_flops` honours for published runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from capacity.records.image_model import DiT, ImageModelPreset, UNet, Vae

TIME_EMBED_FACTOR = 4  # diffusers: the timestep embedding is 4 × the first level's channels
ADALN_DOUBLE = 6  # MMDiT/FLUX double-stream block: shift, scale, gate for attention and MLP, per stream
ADALN_SINGLE = 3  # FLUX single-stream block: shift, scale, gate


@dataclass
class Tally:
    """Running totals of multiply-accumulates and parameters while walking an architecture."""

    macs: float = 0.0
    params: float = 0.0

    def conv(self, c_in: int, c_out: int, k: int, pixels: float) -> None:
        self.macs += pixels * k * k * c_in * c_out
        self.params += k * k * c_in * c_out + c_out

    def linear(self, c_in: int, c_out: int, tokens: float, bias: bool = True) -> None:
        self.macs += tokens * c_in * c_out
        self.params += c_in * c_out + (c_out if bias else 0)

    def norm(self, channels: int) -> None:
        self.params += 2 * channels

    def attention(self, n_q: float, n_kv: float, width: int) -> None:
        self.macs += 2.0 * n_q * n_kv * width


def _resnet(t: Tally, c_in: int, c_out: int, pixels: float, temb: int | None) -> None:
    """ResnetBlock2D: norm, 3×3 conv, (timestep projection), norm, 3×3 conv, 1×1 shortcut if widths differ."""
    t.norm(c_in)
    t.conv(c_in, c_out, 3, pixels)
    if temb is not None:
        t.linear(temb, c_out, 1)
    t.norm(c_out)
    t.conv(c_out, c_out, 3, pixels)
    if c_in != c_out:
        t.conv(c_in, c_out, 1, pixels)


def _transformer(t: Tally, c: int, layers: int, pixels: float, text_tokens: int, text_dim: int) -> None:
    """Transformer2DModel: projection in, ``layers`` × (self-attention, cross-attention to the text,
    GEGLU feed-forward of 4c), projection out."""
    t.norm(c)
    t.linear(c, c, pixels)
    for _ in range(layers):
        t.norm(c)
        t.linear(c, 3 * c, pixels, bias=False)
        t.attention(pixels, pixels, c)
        t.linear(c, c, pixels)
        t.norm(c)
        t.linear(c, c, pixels, bias=False)
        t.linear(text_dim, 2 * c, text_tokens, bias=False)
        t.attention(pixels, text_tokens, c)
        t.linear(c, c, pixels)
        t.norm(c)
        t.linear(c, 8 * c, pixels)  # GEGLU: value and gate
        t.linear(4 * c, c, pixels)
    t.linear(c, c, pixels)


def unet_tally(u: UNet, latent_h: int, latent_w: int, text_tokens: int) -> Tally:
    """One forward pass of a UNet2DConditionModel at one latent size, batch 1."""
    t = Tally()
    widths = u.block_out_channels
    temb = TIME_EMBED_FACTOR * widths[0]
    t.linear(widths[0], temb, 1)
    t.linear(temb, temb, 1)
    if u.add_embedding_in:
        t.linear(u.add_embedding_in, temb, 1)
        t.linear(temb, temb, 1)
    pixels = float(latent_h * latent_w)
    t.conv(u.in_channels, widths[0], 3, pixels)
    skips, ch = [widths[0]], widths[0]
    last = len(widths) - 1

    def level_block(c_in: int, c_out: int, level: int) -> None:
        _resnet(t, c_in, c_out, pixels, temb)
        if u.cross_attention[level]:
            _transformer(t, c_out, u.transformer_layers[level], pixels, text_tokens, u.cross_attention_dim)

    for level, width in enumerate(widths):
        for _ in range(u.layers_per_block):
            level_block(ch, width, level)
            ch = width
            skips.append(ch)
        if level < last:
            pixels /= 4.0
            t.conv(ch, ch, 3, pixels)  # stride-2 downsampling
            skips.append(ch)
    _resnet(t, ch, ch, pixels, temb)  # the middle block: ResNet, transformer, ResNet
    _transformer(t, ch, u.transformer_layers[-1], pixels, text_tokens, u.cross_attention_dim)
    _resnet(t, ch, ch, pixels, temb)
    for level in reversed(range(len(widths))):
        for _ in range(u.layers_per_block + 1):
            level_block(ch + skips.pop(), widths[level], level)
            ch = widths[level]
        if level > 0:
            pixels *= 4.0
            t.conv(ch, ch, 3, pixels)  # nearest upsampling, then a 3×3 conv
    t.norm(ch)
    t.conv(ch, u.in_channels, 3, pixels)
    return t


def _vae_mid(t: Tally, c: int, pixels: float) -> None:
    _resnet(t, c, c, pixels, None)
    t.norm(c)
    t.linear(c, 3 * c, pixels)  # single-head self-attention over every latent position
    t.attention(pixels, pixels, c)
    t.linear(c, c, pixels)
    _resnet(t, c, c, pixels, None)


def vae_decoder_tally(v: Vae, latent_h: int, latent_w: int) -> Tally:
    """AutoencoderKL's post-quantisation conv and decoder: latent to pixels."""
    t = Tally()
    pixels = float(latent_h * latent_w)
    widths = v.block_out_channels
    t.conv(v.latent_channels, v.latent_channels, 1, pixels)
    t.conv(v.latent_channels, widths[-1], 3, pixels)
    _vae_mid(t, widths[-1], pixels)
    ch = widths[-1]
    for level in reversed(range(len(widths))):
        for _ in range(v.layers_per_block + 1):
            _resnet(t, ch, widths[level], pixels, None)
            ch = widths[level]
        if level > 0:
            pixels *= 4.0
            t.conv(ch, ch, 3, pixels)
    t.norm(ch)
    t.conv(ch, 3, 3, pixels)
    return t


def vae_encoder_tally(v: Vae, height: int, width: int) -> Tally:
    """AutoencoderKL's encoder and quantisation conv: pixels to the latent's mean and log-variance."""
    t = Tally()
    pixels = float(height * width)
    widths = v.block_out_channels
    t.conv(3, widths[0], 3, pixels)
    ch = widths[0]
    for level, w in enumerate(widths):
        for _ in range(v.layers_per_block):
            _resnet(t, ch, w, pixels, None)
            ch = w
        if level < len(widths) - 1:
            pixels /= 4.0
            t.conv(ch, ch, 3, pixels)
    _vae_mid(t, ch, pixels)
    t.norm(ch)
    t.conv(ch, 2 * v.latent_channels, 3, pixels)
    t.conv(2 * v.latent_channels, 2 * v.latent_channels, 1, pixels)
    return t


def dit_tally(d: DiT, latent_h: int, latent_w: int, text_tokens: int) -> Tally:
    """One forward pass of an MMDiT / FLUX transformer, batch 1: every token passes (4 + 2·mlp_ratio)·d²
    MACs of projections per layer (QKV, output, MLP) and attends jointly over image and text tokens."""
    t = Tally()
    h = d.hidden_size
    image_tokens = (latent_h // d.patch_size) * (latent_w // d.patch_size)
    tokens = image_tokens + text_tokens
    per_token = int((4 + 2 * d.mlp_ratio) * h * h)
    t.linear(d.in_channels * d.patch_size**2, h, image_tokens)  # patch embedding
    t.linear(d.joint_attention_dim, h, text_tokens)  # context embedder
    blocks = ((2, d.double_layers, ADALN_DOUBLE), (1, d.single_layers, ADALN_SINGLE))
    for stream_count, layers, modulation in blocks:
        for _ in range(layers):
            t.macs += tokens * per_token  # each token passes its own stream's weights once
            t.params += stream_count * per_token
            t.linear(h, modulation * h * stream_count, 1)  # adaLN modulation from the conditioning vector
            t.attention(tokens, tokens, h)
    t.linear(h, d.in_channels * d.patch_size**2, image_tokens)  # final projection to the latent patches
    return t


def denoiser_tally(m: ImageModelPreset, resolution: int) -> Tally:
    """The denoiser's forward pass for one image of ``resolution`` × ``resolution`` pixels."""
    side = resolution // m.vae.downsample
    if isinstance(m.denoiser, UNet):
        return unet_tally(m.denoiser, side, side, max(e.tokens for e in m.text_encoders))
    return dit_tally(m.denoiser, side, side, m.denoiser.text_tokens)


def text_encoder_flops(m: ImageModelPreset) -> float:
    """Forward FLOPs of every text encoder over its full prompt window n: 2·(N − V·w)·n for the weights
    a token is multiplied by (the V·w embedding rows are looked up) plus 4·L·n²·w for attention."""
    return sum(
        2.0 * (e.params - e.vocab_size * e.width) * e.tokens + 4.0 * e.layers * e.tokens**2 * e.width
        for e in m.text_encoders
    )


@dataclass(frozen=True)
class ImageFlops:
    """FLOPs for one image at one resolution, by part."""

    denoiser_step: float  # one forward pass, batch 1
    text_encoders: float
    vae_decode: float
    vae_encode: float

    def inference(self, steps: int, passes: int) -> float:
        """Serving one image: steps × guidance passes × the step, the prompt encoded per pass, one decode."""
        return steps * passes * self.denoiser_step + passes * self.text_encoders + self.vae_decode

    def training(self) -> float:
        """Training on one image: 3 × the denoiser forward (forward + backward), frozen encoders forward."""
        return 3.0 * self.denoiser_step + self.text_encoders + self.vae_encode


def image_flops(m: ImageModelPreset, resolution: int) -> ImageFlops:
    """FLOPs (2 × MACs) of each part of ``m`` for one ``resolution``² image."""
    side = resolution // m.vae.downsample
    return ImageFlops(
        denoiser_step=2.0 * denoiser_tally(m, resolution).macs,
        text_encoders=text_encoder_flops(m),
        vae_decode=2.0 * vae_decoder_tally(m.vae, side, side).macs,
        vae_encode=2.0 * vae_encoder_tally(m.vae, resolution, resolution).macs,
    )
