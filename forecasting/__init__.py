"""SalesCast forecasting library.

Importing this package is cheap: heavy dependencies (statsmodels, torch, plotly, dask) are imported
inside the functions that need them, so ``python -m forecasting --help`` starts fast.
This package never imports streamlit.
"""

__version__ = "0.1.0"
