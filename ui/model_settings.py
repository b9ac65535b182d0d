"""Model settings on the Models and Forecast pages.

The widgets are made from each model's declared settings (:mod:`forecasting.models.settings`, the same
declarations that ``python -m forecasting models --settings`` lists): every setting a model's declaration
labels gets a widget, so a new model's settings appear on the pages without a page edit. Besides these,
the networks' shared choices (holiday calendar, one network for all series or one per series, device) have
their own widgets, whose options come from the library. Every widget returns plain model settings (merged
into ``model_params``), and only those that differ from the declared default: a default left alone is the
model's (for the networks, the device's preset)."""
from __future__ import annotations

from typing import Any

import streamlit as st


def page_settings(name: str) -> list[dict[str, Any]]:
    """The settings of model ``name`` that the pages show: those its declaration gives a label."""
    from forecasting.models.registry import settings_of

    return [s for s in settings_of(name) if s["label"]]


def _is_int(s: dict[str, Any]) -> bool:
    return s["kind"] == "int" or (s["kind"] == "any" and isinstance(s["default"], int)
                                  and not isinstance(s["default"], bool))


def setting_widget(s: dict[str, Any], key: str, where=st) -> Any:
    """One widget for the declared setting ``s`` (a row of :func:`~forecasting.models.settings.describe`)."""
    help_text = f"{s['doc']}; {s['accepts']}"
    if s["choices"]:
        options = list(s["choices"])
        return where.selectbox(s["label"], options, index=options.index(s["default"]), key=key, help=help_text)
    if s["kind"] == "bool":
        return where.checkbox(s["label"], value=bool(s["default"]), key=key, help=help_text)
    if _is_int(s) or s["kind"] in ("int", "float"):
        cast = int if _is_int(s) else float
        bound = lambda v: None if v is None else cast(v)  # noqa: E731
        value = where.number_input(s["label"], min_value=bound(s["low"]), max_value=bound(s["high"]),
                                   value=bound(s["default"]), step=cast(1) if cast is int else None, key=key,
                                   placeholder="automatic", help=help_text)
        return None if value is None else cast(value)
    text = where.text_input(s["label"], value="" if s["default"] is None else str(s["default"]), key=key,
                            placeholder="automatic", help=help_text)
    return text or None


def setting_widgets(name: str, columns, key: str) -> dict[str, Any]:
    """One widget per shown setting of model ``name``, in ``columns`` (widget keys ``{key}_{setting}``);
    returns the settings whose value differs from the declared default."""
    out: dict[str, Any] = {}
    for col, s in zip(columns, page_settings(name)):
        value = setting_widget(s, f"{key}_{s['name']}", col)
        if value != s["default"]:
            out[s["name"]] = value
    return out


def one_model(name: str, key: str) -> dict[str, Any]:
    """The shown settings of model ``name`` side by side (widget keys ``{key}_{setting}``)."""
    shown = page_settings(name)
    return setting_widgets(name, st.columns(len(shown)), key) if shown else {}


def settings_rows(models: list[str], key: str) -> dict[str, dict[str, Any]]:
    """A row per model that has settings to show: its name, then its widgets (keys ``{key}_{model}_{setting}``).
    Returns each model's chosen settings."""
    out: dict[str, dict[str, Any]] = {}
    for name in models:
        shown = page_settings(name)
        if not shown:
            continue
        cols = st.columns(len(shown) + 1)
        cols[0].markdown(f"**{name}**")
        out[name] = setting_widgets(name, cols[1:], f"{key}_{name}")
    return out


@st.cache_data(show_spinner=False)
def _countries() -> dict[str, str]:
    from forecasting.models.deep.features import holiday_countries

    return holiday_countries()


@st.cache_resource(show_spinner=False)
def _devices() -> list[str]:
    from forecasting.models.deep.device import available_devices

    return available_devices()


FITS = {"global": "one network for all series", "local": "one network per series"}
# the pretrained transformer takes no calendar and is always one network for all series
PRETRAINED = ("pretrained", "finetuned")


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


def add_network_choices(params: dict[str, dict[str, Any]], models: list[str], key: str, title: bool = True) -> None:
    """The networks' shared choices, drawn once when ``models`` hold a network, merged into each network's
    settings in ``params`` (the pretrained ones take only the device)."""
    from forecasting.models.registry import MODELS

    nets = [n for n in models if n in MODELS and MODELS[n].capabilities.global_model]
    if not nets:
        return
    if title:
        st.markdown(f"**Networks** ({', '.join(nets)})")
    shared = network_settings(key, device_only=all(n in PRETRAINED for n in nets))
    for name in nets:
        own = shared if name not in PRETRAINED else {k: v for k, v in shared.items() if k == "device"}
        params[name] = {**params.get(name, {}), **own}
