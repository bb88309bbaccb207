"""Admin: accounts, collection membership, and the audit log (view and CSV export)."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import streamlit as st

from confidant.access import AccessDenied
from confidant.refusal_bursts import refusal_bursts
from storage.accounts import AccountError, Role
from ui.context import AppContext
from ui.guard import allowed


def admin_page(ctx: AppContext) -> None:
    st.title("Admin")
    if not allowed(ctx.ws.require_admin, "Admin"):
        return
    users_tab, models_tab, audit_tab = st.tabs(["Users", "Answer models", "Audit log"])
    with users_tab:
        users_section(ctx)
    with models_tab:
        models_section(ctx)
    with audit_tab:
        audit_section(ctx)


def models_section(ctx: AppContext) -> None:
    """The model everyone answers with unless they pick another, and which models people may pick."""
    ws = ctx.ws
    models = [m for m in ws.answer_models() if m.ready]
    labels = {m.id: m.label for m in models}
    st.dataframe([{"model": m.label, "from": m.source, "tokens/s": m.tokens_per_s, "first words (s)": m.first_token_s,
                   "answers measured": m.answers} for m in models], hide_index=True, width="stretch")
    saved_default, saved_allowed = ws.model_policy()
    ids = list(labels)
    with st.form("model_policy"):
        default = st.selectbox("Default model", ids, index=ids.index(saved_default) if saved_default in ids else 0,
                               format_func=labels.__getitem__, key="policy-default")
        allowed_ids = st.multiselect("Models people may choose (none: every model)", ids,
                                     default=[i for i in saved_allowed if i in ids],
                                     format_func=labels.__getitem__, key="policy-allowed")
        if st.form_submit_button("Save"):
            try:
                ws.set_model_policy(default, allowed_ids)
            except (ValueError, AccessDenied) as refused:
                st.error(str(refused))
            else:
                st.success("Saved.")


def users_section(ctx: AppContext) -> None:
    ws = ctx.ws
    users = ws.users()
    rows = [{"user": u.username, "role": u.role.value, "disabled": u.disabled,
             "collections": "all" if u.is_admin else ", ".join(sorted(memberships)),
             "created": u.created_at[:16].replace("T", " ")} for u, memberships in users]
    st.dataframe(rows, hide_index=True, width="stretch")
    collections = ws.collections()
    with st.form("add_user", clear_on_submit=True):
        st.subheader("Add a user")
        name = st.text_input("User name")
        role = st.selectbox("Role", [r.value for r in Role], index=2,
                            help="admin: everything · editor: add and delete documents · reader: ask and search")
        password = st.text_input("Initial password (at least 10 characters)", type="password")
        member_of = st.multiselect("Collections", collections)
        if st.form_submit_button("Add user"):
            _apply(lambda: ws.add_user(name, password, str(role), member_of))
    names = [u.username for u, _ in users]
    if not names:
        return
    st.subheader("Change a user")
    who = st.selectbox("User", names, key="admin_user")
    found = ws.user(who)
    if found is None:
        return
    account, current = found
    left, right = st.columns(2)
    chosen = left.multiselect("Collections", sorted(set(collections) | current), default=sorted(current),
                              key=f"admin_collections_{who}")
    if left.button("Save collections"):
        _apply(lambda: ws.set_memberships(who, chosen))
    roles = [r.value for r in Role]
    new_role = right.selectbox("Role", roles, key=f"admin_role_{who}", index=roles.index(account.role.value))
    if right.button("Save role") and new_role:
        _apply(lambda: ws.set_role(who, new_role))
    if who != ws.caller.username:
        if account.disabled and right.button("Enable account", key=f"admin_enable_{who}"):
            _apply(lambda: ws.set_disabled(who, False))
        if not account.disabled and right.button("Disable account", key=f"admin_disable_{who}",
                                                 help="Ends the user's signed-in sessions and stops their API tokens"):
            _apply(lambda: ws.set_disabled(who, True))
        if right.button("Remove user", type="secondary"):
            _apply(lambda: ws.remove_user(who))
    tokens_section(ctx, who)


def tokens_section(ctx: AppContext, who: str) -> None:
    """The user's API tokens (never the secret): revoke one at once."""
    tokens = ctx.ws.tokens(who)
    st.subheader(f"API tokens of {who}")
    if not tokens:
        st.caption("None. Issue one on the server with `confidant users token NAME --label WHAT`.")
        return
    now = datetime.now(UTC).isoformat(timespec="seconds")
    st.dataframe([{"id": t.id, "starts with": t.prefix + "…", "label": t.label, "created": t.created_at[:16],
                   "expires": (t.expires_at or "never")[:16],
                   "state": "revoked" if t.revoked else "expired" if t.expires_at and t.expires_at <= now else "active"}
                  for t in tokens], hide_index=True, width="stretch")
    active = [t for t in tokens if not t.revoked]
    if active:
        labels = {f"{t.id} · {t.label} · {t.prefix}…": t.id for t in active}
        chosen = st.selectbox("Token", list(labels), key=f"admin_token_{who}")
        if st.button("Revoke token", key=f"admin_revoke_token_{who}"):
            token_id = labels[chosen]
            _apply(lambda: ctx.ws.revoke_token(who, token_id))


def _apply(change: Callable[[], object]) -> None:
    """Run an account change (the Workspace checks and audits it) and say how it went."""
    try:
        change()
    except (AccountError, AccessDenied) as exc:
        st.error(str(exc))
        return
    st.success("Saved.")


def bursts_section(ctx: AppContext) -> None:
    """Clients refused many times within a minute in the last day (token or password guessing, probing)."""
    threshold = ctx.settings.audit_burst_per_minute
    recent = ctx.ws.audit_events(since=datetime.now(UTC) - timedelta(days=1), limit=None)
    bursts = refusal_bursts(recent, threshold)
    if not bursts:
        st.caption(f"No client was refused {threshold} or more times within a minute in the last 24 hours.")
        return
    st.error(f"{len(bursts)} client(s) refused {threshold}+ times within a minute in the last 24 hours:")
    st.dataframe([{"client": b.client, "most in a minute": b.most_in_a_minute, "refusals (24 h)": b.refusals,
                   "first": b.first[:19].replace("T", " "), "last": b.last[:19].replace("T", " "),
                   "user names tried": ", ".join(b.users)[:200]} for b in bursts], hide_index=True, width="stretch")


def audit_section(ctx: AppContext) -> None:
    bursts_section(ctx)
    days = st.slider("Days back", 1, 365, 7, key="audit_days")
    user = st.text_input("Only this user", key="audit_user").strip().lower() or None
    since = datetime.now(UTC) - timedelta(days=days)
    events = ctx.ws.audit_events(since=since, user=user, limit=500)
    st.caption(f"{len(events)} entries (newest first, at most 500 shown); retention "
               f"{ctx.settings.audit_retention_days} days.")
    st.dataframe([{"when (UTC)": e.at[:19].replace("T", " "), "user": e.user, "client": e.client, "action": e.action,
                   "collections": ", ".join(e.collections), "question": e.question, "documents": ", ".join(e.documents),
                   "model": e.model, "detail": e.detail} for e in events], hide_index=True, width="stretch")
    buffer = io.StringIO()
    ctx.ws.audit_csv(buffer, since=since, user=user)
    st.download_button("Export CSV", buffer.getvalue(), file_name=f"confidant-audit-{datetime.now(UTC):%Y%m%d}.csv",
                       mime="text/csv")
