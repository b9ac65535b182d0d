"""Model settings on the Models and Forecast pages: an input for each setting a model declares with a page
label (:mod:`forecasting.models.settings`: a new model's settings appear here without editing the pages),
and the networks' holiday calendar, one network for all series or one per series, and the device. Returns
plain model settings (merged into ``model_params``)."""
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


@st.cache_resource(show_spinner=False)
def page_settings(name: str) -> list[dict]:
    """The settings model ``name`` shows on the pages (those declared with a label)."""
    from forecasting.models.registry import settings_of

    return [s for s in settings_of(name) if s["label"]]


def key_settings(name: str, columns, key: str) -> dict:
    """One input per page setting of model ``name``, in ``columns`` (widget keys ``{key}_{setting}``);
    returns the values that differ from the model's defaults."""
    out = {}
    for col, s in zip(columns, page_settings(name)):
        value = _widget(col, s, f"{key}_{s['name']}")
        if value != s["default"]:
            out[s["name"]] = value
    return out


def _widget(col, s: dict, key: str):
    label, default, help_ = s["label"], s["default"], f"{s['doc']} ({s['accepts']})"
    if s["choices"]:
        return col.selectbox(label, s["choices"], index=s["choices"].index(default), key=key, help=help_)
    if s["kind"] == "bool" or isinstance(default, bool):
        return col.checkbox(label, value=bool(default), key=key, help=help_)
    if s["kind"] in ("int", "float") or isinstance(default, (int, float)):
        whole = s["kind"] == "int" or isinstance(default, int)
        cast = int if whole else float
        low = None if s["low"] is None else cast(s["low"])
        high = None if s["high"] is None else cast(s["high"])
        value = col.number_input(label, low, high, value=None if default is None else cast(default),
                                 step=1 if whole else None, key=key, help=help_)
        return None if value is None else cast(value)
    return col.text_input(label, value="" if default is None else str(default), key=key, help=help_) or None


def network_settings(key: str) -> dict:
    """Draw the three choices (widget keys start with ``key``); return the settings that differ from the
    networks' defaults."""
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
