"""Exports: tables (CSV/Excel), charts, the HTML/PDF report, safe file names."""
