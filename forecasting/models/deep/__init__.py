"""Deep forecasting models (PyTorch): LSTM, GRU and Transformer on one shared training base.

Import the model classes from their modules (``forecasting.models.deep.recurrent`` for LSTM and GRU, ``…transformer``); importing this package
does not import torch.
"""
