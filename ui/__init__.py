"""The app side of SalesCast (streamlit), used by ``app.py`` and the thin ``pages/``:

- ``state``: this session's state and the app's caches (the dataset, uploads, results, memos);
- ``run_panel``: running a backtest, forecast or plan on the page (progress, stop, reuse);
- ``workspace``: the ``?ws=`` workspace and the runs that go on in worker processes;
- ``sidebar``: where to compute (engine, Dask address);
- ``downloads``: download buttons and charts with their downloads;
- ``model_settings``: the model-setting widgets;
- ``hierarchy``: the reconciliation controls;
- ``feedback``: errors and user strings made safe for Markdown.

The only package that touches ``st.session_state`` and ``st.cache_*``."""
