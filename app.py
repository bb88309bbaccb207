"""Confidant's web app (Streamlit). Run with `confidant serve`."""

from __future__ import annotations

import streamlit as st

from confidant.services import Services, build_services


@st.cache_resource(show_spinner="Loading the local models…")
def services() -> Services:
    return build_services()


def main() -> None:
    st.set_page_config(page_title="Confidant", page_icon="🔒", layout="wide")
    s = services()
    st.title("Confidant")
    st.caption(f"Private document search · data folder {s.settings.data_dir}")
    docs = s.registry.documents()
    st.write(f"{sum(1 for d in docs if d.state.value == 'indexed')} indexed document(s).")
    question = st.text_input("Search your documents")
    if question:
        for i, hit in enumerate(s.retriever.search(question, s.settings.search_k), start=1):
            with st.container(border=True):
                st.markdown(f"**[{i}] {hit.chunk.file_name}, page {hit.chunk.page}**")
                st.write(hit.chunk.text)


main()
