"""Data: reading files (ingest), the long-frame contract, quality report and treatments."""
