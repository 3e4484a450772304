"""Page placeholder until its issue lands."""

import streamlit as st

from ui.common import coming_soon, t

st.title(t("nav.images"))
coming_soon()
