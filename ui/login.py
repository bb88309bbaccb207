"""Who is using this browser session: the local user in single-user mode, otherwise a signed-in account.

The account is read again on every page run, so a removed or disabled user, a changed role or a revoked
membership takes effect at once.
"""

from __future__ import annotations

import streamlit as st

from confidant.access import LOCAL_CALLER, Caller
from confidant.sso import sso_username
from storage.accounts import LoginRefused
from ui.context import AppContext

USER = "signed_in_user"


def current_caller(ctx: AppContext) -> Caller | None:
    settings = ctx.settings
    if not settings.shared_mode:
        return LOCAL_CALLER
    name: str | None = st.session_state.get(USER)
    if name is None:
        headers = dict(st.context.headers)
        name = next((found for peer in peer_addresses() if (found := sso_username(headers, peer, settings))), None)
        if name is not None and ctx.gate.sign_in_sso(name, client_label()) is not None:
            st.session_state[USER] = name
    caller = ctx.gate.caller(name, "ui") if name else None
    if caller is None:
        st.session_state.pop(USER, None)
    return caller


def peer_addresses() -> list[str]:
    """The socket peer of this browser session (`confidant serve` turns uvicorn's X-Forwarded-For rewriting off).

    Streamlit reports 127.0.0.1 and ::1 as no address; a session with request headers but no address is on this
    machine's loopback. No headers at all: no connection to speak of (tests), so no address.
    """
    address = st.context.ip_address
    if address:
        return [address]
    return ["127.0.0.1", "::1"] if st.context.headers else []


def login_page(ctx: AppContext) -> None:
    st.title("🔒 Sign in to Confidant")
    if not ctx.gate.has_accounts():
        st.info("No accounts exist yet. On the server, an administrator creates the first one with "
                "`confidant users add NAME --role admin`.")
    with st.form("login"):
        username = st.text_input("User name", key="login_user")
        password = st.text_input("Password", type="password", key="login_password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        try:
            caller = ctx.gate.sign_in(username, password, client_label())  # audited, either way
        except LoginRefused as refused:
            st.error(refused.reason)
            return
        st.session_state[USER] = caller.username
        st.rerun()


def sign_out() -> None:
    for key in list(st.session_state):
        del st.session_state[key]


def client_label() -> str:
    """The client of a sign-in, for the audit log: the app and the browser's address."""
    peers = peer_addresses()
    return f"ui {peers[0]}" if peers else "ui"
