"""Confidant's web app (Streamlit). Run with `confidant serve`."""

from __future__ import annotations

import streamlit as st

from confidant.services import build_services
from ui.context import AppContext
from ui.main import main


@st.cache_resource(show_spinner="Loading Confidant…")
def context() -> AppContext:
    return AppContext.create(build_services())


main(context())
