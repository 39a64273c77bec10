"""Parsing shared by the estimate commands: counts, choices, request models, and the economics flags."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError

from capacity.counts import parse_count
from capacity.errors import InputError
from capacity.train import Economics

M = TypeVar("M", bound=BaseModel)

PricingOpt = Annotated[
    str, typer.Option(help="cloud (GPU-hours x price) or owned (amortised capex + power).")
]
GpuHourUsdOpt = Annotated[float | None, typer.Option(help="Cloud price per GPU-hour in USD.")]
GpuPriceUsdOpt = Annotated[float | None, typer.Option(help="Owned: price per accelerator in USD.")]
PueOpt = Annotated[float | None, typer.Option(help="Data-centre power usage effectiveness (default 1.25).")]
GridOpt = Annotated[float | None, typer.Option(help="Grid carbon intensity, kgCO2e/kWh (default 0.48).")]
ElectricityOpt = Annotated[float | None, typer.Option(help="Owned: electricity price, USD/kWh.")]
ServerPowerOpt = Annotated[float | None, typer.Option(help="Server power per chip / TDP (default 1.0).")]
CurrencyOpt = Annotated[str, typer.Option(help="USD or CNY for the converted cost field.")]
CalibrationOpt = Annotated[
    Path | None, typer.Option(help="A calibration file from `capacity bench --output` for this chip.")
]
CnyPerUsdOpt = Annotated[float | None, typer.Option(help="Exchange rate for --currency CNY (default 7.2).")]


def count(text: str | None, flag: str) -> float | None:
    return None if text is None else parse_count(text, flag)


def whole(text: str | None, flag: str) -> int | None:
    """A positive whole number given as a count (``2048``, ``10k``)."""
    value = count(text, flag)
    if value is None:
        return None
    if value != int(value):
        raise InputError(f"{flag}: must be a whole number, got {text!r}")
    return int(value)


def choice(value: str | None, allowed: tuple[str, ...], flag: str) -> Any:
    if value is None or value in allowed:
        return value
    raise InputError(f"{flag}: {value!r} is not one of {', '.join(allowed)}")


def build(cls: type[M], **kw: Any) -> M:
    """Construct a request model; a validation error becomes one line naming the flag."""
    try:
        return cls(**kw)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        field = ".".join(str(p) for p in err["loc"]) or "input"
        flag = (
            "--" + field.replace("economics.", "").replace("traffic.", "").replace("_", "-")
            if err["loc"]
            else ""
        )
        message = err["msg"].removeprefix("Value error, ")
        raise InputError(f"{flag}: {message}" if flag else message) from None


def economics(
    pricing: str,
    gpu_hour_usd: float | None,
    gpu_price_usd: float | None,
    pue: float | None,
    grid_kgco2e_per_kwh: float | None,
    electricity_usd_per_kwh: float | None,
    server_power_factor: float | None,
    currency: str,
    cny_per_usd: float | None,
) -> Economics:
    return build(
        Economics,
        pricing=choice(pricing, ("cloud", "owned"), "--pricing"),
        gpu_hour_usd=gpu_hour_usd,
        gpu_price_usd=gpu_price_usd,
        pue=pue,
        grid_kgco2e_per_kwh=grid_kgco2e_per_kwh,
        electricity_usd_per_kwh=electricity_usd_per_kwh,
        server_power_factor=server_power_factor,
        currency=choice(currency.upper(), ("USD", "CNY"), "--currency"),
        cny_per_usd=cny_per_usd,
    )
