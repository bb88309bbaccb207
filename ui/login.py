"""Who is using this browser session: the local user in single-user mode, otherwise a signed-in account.

The account is read again on every page run, so a removed or disabled user, a changed role or a revoked
membership takes effect at once.
"""

from __future__ import annotations

import streamlit as st

from confidant.access import LOCAL_CALLER, Caller
from confidant.sso import sso_username
from storage.accounts import LoginRefused
from storage.audit import AuditEvent
from ui.context import AppContext

USER = "signed_in_user"


def current_caller(ctx: AppContext) -> Caller | None:
    settings = ctx.services.settings
    if not settings.shared_mode:
        return LOCAL_CALLER
    accounts = ctx.services.accounts
    name: str | None = st.session_state.get(USER)
    if name is None:
        headers = dict(st.context.headers)
        name = next((found for peer in peer_addresses() if (found := sso_username(headers, peer, settings))), None)
        if name is not None and accounts.get_user(name) is not None:
            st.session_state[USER] = name
            _audit(ctx, name, "login", "single sign-on")
    user = accounts.get_user(name) if name else None
    if user is None or user.disabled:
        st.session_state.pop(USER, None)
        return None
    return Caller.for_user(user, accounts.collections_of(user.username), "ui")


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
    accounts = ctx.services.accounts
    if not accounts.users():
        st.info("No accounts exist yet. On the server, an administrator creates the first one with "
                "`confidant users add NAME --role admin`.")
    with st.form("login"):
        username = st.text_input("User name", key="login_user")
        password = st.text_input("Password", type="password", key="login_password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        try:
            user = accounts.verify_login(username, password)
        except LoginRefused as refused:
            _audit(ctx, username.strip().lower()[:64] or "?", "login_failed", refused.reason)
            st.error(refused.reason)
            return
        st.session_state[USER] = user.username
        _audit(ctx, user.username, "login", "password")
        st.rerun()


def sign_out() -> None:
    for key in list(st.session_state):
        del st.session_state[key]


def _audit(ctx: AppContext, user: str, action: str, detail: str) -> None:
    peers = peer_addresses()
    client = f"ui {peers[0]}" if peers else "ui"
    ctx.services.audit.record(AuditEvent(at="", user=user, action=action, collections=(), detail=detail,
                                         client=client))
