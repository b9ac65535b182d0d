"""SalesCast: the Streamlit entry point. Navigation and the sidebar; each page is a thin file in pages/."""
import streamlit as st

from ui import sidebar, workspace

st.set_page_config(page_title="SalesCast", page_icon="📈", layout="wide")

PAGES = [
    st.Page("pages/1_Data.py", title="Data", icon="📄", default=True),
    st.Page("pages/2_Explore.py", title="Explore", icon="🔍"),
    st.Page("pages/3_Models.py", title="Models", icon="🏁"),
    st.Page("pages/4_Forecast.py", title="Forecast", icon="🔮"),
    st.Page("pages/5_Runs.py", title="Runs", icon="🗂️"),
    st.Page("pages/6_Plan.py", title="Plan", icon="📦"),
    st.Page("pages/7_Accuracy.py", title="Accuracy", icon="🎯"),
]

nav = st.navigation(PAGES)
workspace.current()  # the workspace in the URL (?ws=…), its owner; a new one without a link
sidebar.draw()  # sidebar on every page: where to compute (engine, Dask address)
nav.run()
