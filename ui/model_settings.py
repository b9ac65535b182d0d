"""Model settings on the Models and Forecast pages: number inputs for a model's key settings, and the
networks' holiday calendar, one network for all series or one per series, and the device. Returns plain
model settings (merged into ``model_params``); what each one means is the library's
(``forecasting.models.deep.training`` for the networks)."""
from __future__ import annotations

import streamlit as st


@st.cache_data(show_spinner=False)
def _countries() -> dict[str, str]:
    from forecasting.models.deep.features import holiday_countries

    return holiday_countries()


@st.cache_resource(show_spinner=False)
def _devices() -> list[str]:
    from forecasting.models.deep.device import available_devices

    return available_devices()


FITS = {"global": "one network for all series", "local": "one network per series"}
# a network's key settings on the pages: (setting, label, default, min, max)
SIZE_SETTINGS: list[tuple[str, str, int, int, int]] = [
    ("max_epochs", "epochs", 30, 1, 500), ("hidden_size", "hidden units", 32, 4, 512),
    ("patience", "early-stopping patience", 5, 1, 50)]


# the pretrained transformer (issue 17): no sizes to choose; the fine-tuned one has its training length
PRETRAINED = ("pretrained", "finetuned")
FINETUNE_SETTINGS: list[tuple[str, str, int, int, int]] = [
    ("steps", "fine-tune steps", 60, 1, 5000), ("patience", "early-stopping patience (checks)", 2, 0, 50)]


def key_settings(name: str) -> list[tuple[str, str, int, int, int]]:
    """A network's key settings on the pages: sizes for the trained-from-scratch networks, the fine-tune
    length for ``finetuned``, none for the zero-shot ``pretrained``."""
    if name == "pretrained":
        return []
    return FINETUNE_SETTINGS if name == "finetuned" else SIZE_SETTINGS


def number_settings(spec: list[tuple[str, str, int, int, int]], columns, key: str) -> dict[str, int]:
    """One number input per ``(setting, label, default, min, max)`` of a model's key settings, in
    ``columns``; widget keys are ``{key}_{setting}``."""
    return {k: int(col.number_input(label, lo, hi, value=default, key=f"{key}_{k}"))
            for col, (k, label, default, lo, hi) in zip(columns, spec)}


def network_settings(key: str, device_only: bool = False) -> dict:
    """Draw the three choices (widget keys start with ``key``); return the settings that differ from the
    networks' defaults. ``device_only``: just the device (the pretrained network takes no calendar and is
    always one network for all series)."""
    if device_only:
        device = st.selectbox("Device", _devices(), key=f"{key}_device",
                              help="auto: a CUDA GPU, then Apple MPS, then the CPU")
        return {} if device == "auto" else {"device": device}
    countries = _countries()
    c1, c2, c3 = st.columns(3)
    country = c1.selectbox(
        "Holiday calendar", [""] + list(countries), key=f"{key}_holidays",
        format_func=lambda c: f"{countries[c]} ({c})" if c else "none",
        help="public holidays of this country as known-in-advance features (holiday and the day before, for "
             "daily data; holidays in the period, for weekly and monthly data)")
    fit = c2.selectbox("Fit", list(FITS), format_func=FITS.get, key=f"{key}_fit",
                       help="one network learns from every series (the default: shares patterns, trains once) "
                            "or each series gets its own (slower; for series that have nothing in common)")
    device = c3.selectbox("Device", _devices(), key=f"{key}_device",
                          help="auto: a CUDA GPU, then Apple MPS, then the CPU; the device used is shown "
                               "with the results")
    out: dict = {}
    if country:
        out["holiday_country"] = country
    if fit == "local":
        out["local"] = True
    if device != "auto":
        out["device"] = device
    return out
