import streamlit as st

st.title("Forecast")
st.info("This page is being built.")
