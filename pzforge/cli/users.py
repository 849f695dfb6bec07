"""`pzforge users ...`: accounts of a shared site, managed by its operator on the database itself
(the first admin is made here). Tokens are shown once; passwords are read from a prompt or
standard input, never from the command line."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from pzforge.cli.render import Format, FormatOpt, UrlOpt, out, render

users_app = typer.Typer(
    help="Users, groups, tokens and release access of a shared site (pzforge serve).",
    no_args_is_help=True,
)


def operator(url: str | None):
    """The registry as its operator: whoever holds the database credentials."""
    from pzforge.products.site import open_registry, os_user

    reg = open_registry(url)
    reg.operator = True
    reg.user = reg.user or os_user()
    return reg


def _password(stdin: bool) -> str:
    if stdin:
        return sys.stdin.readline().rstrip("\n")
    if not sys.stdin.isatty():
        from pzforge.errors import PzforgeError

        raise PzforgeError("no terminal to ask for the password: pass --password-stdin")
    return typer.prompt("password", hide_input=True, confirmation_prompt=True)


@users_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="User name (as products' owner shows it).")],
    admin: Annotated[
        bool, typer.Option("--admin", help="May edit anything, mark official.")
    ] = False,
    password: Annotated[
        bool, typer.Option("--password", help="Ask for a web-login password.")
    ] = False,
    password_stdin: Annotated[bool, typer.Option(help="Read the password from stdin.")] = False,
    display_name: Annotated[str, typer.Option(help="Full name.")] = "",
    email: Annotated[str, typer.Option(help="E-mail address.")] = "",
    registry: UrlOpt = None,
) -> None:
    """Add a user (the first admin too)."""
    secret = _password(password_stdin) if (password or password_stdin) else None
    user = operator(registry).add_user(
        name, admin=admin, password=secret, display_name=display_name, email=email
    )
    out.print(f"user {user['name']} added (id {user['id']}{', admin' if admin else ''})")


@users_app.command("list")
def list_cmd(registry: UrlOpt = None, fmt: FormatOpt = Format.table) -> None:
    """The users, with their groups."""
    rows = operator(registry).list_users()
    for r in rows:
        r["groups"] = ",".join(r["groups"])
    render(rows, fmt, ["id", "name", "display_name", "is_admin", "active", "has_password",
                       "groups", "last_login_at"])  # fmt: skip


@users_app.command("set")
def set_cmd(
    name: Annotated[str, typer.Argument(help="User name.")],
    admin: Annotated[bool | None, typer.Option("--admin/--not-admin")] = None,
    active: Annotated[bool | None, typer.Option("--active/--deactivate")] = None,
    password: Annotated[bool, typer.Option("--password", help="Ask for a new password.")] = False,
    password_stdin: Annotated[bool, typer.Option(help="Read the password from stdin.")] = False,
    registry: UrlOpt = None,
) -> None:
    """Change a user: admin or not, active or deactivated (their tokens stop working), password."""
    reg = operator(registry)
    if password or password_stdin:
        reg.set_password(name, _password(password_stdin))
    user = reg.update_user(name, admin=admin, active=active)
    out.print(f"user {user['name']}: admin {user['is_admin']}, active {user['active']}")


@users_app.command("token")
def token_cmd(
    name: Annotated[str, typer.Argument(help="User name.")],
    label: Annotated[str, typer.Option(help="What the token is for.")] = "",
    expires_days: Annotated[float | None, typer.Option(help="Days until it expires.")] = None,
    registry: UrlOpt = None,
) -> None:
    """Make an API token for a user. It is printed once, here, and stored only as its hash."""
    token, info = operator(registry).create_token(name, label=label, expires_in_days=expires_days)
    print(token)
    out.print(
        f"token {info['id']} ({info['prefix']}...) for {name}: shown once, keep it secret",
        markup=False,
    )


@users_app.command("tokens")
def tokens_cmd(
    name: Annotated[str, typer.Argument(help="User name.")],
    registry: UrlOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """A user's tokens (their first characters, last use, revoked or not)."""
    render(operator(registry).list_tokens(name), fmt,
           ["id", "prefix", "label", "created_at", "expires_at", "last_used_at", "revoked_at"])  # fmt: skip


@users_app.command("revoke")
def revoke_cmd(
    token_id: Annotated[int, typer.Argument(help="Token id (`pzforge users tokens NAME`).")],
    registry: UrlOpt = None,
) -> None:
    """Revoke a token."""
    info = operator(registry).revoke_token(token_id)
    out.print(f"token {info['id']} of {info['user']} revoked")


@users_app.command("groups")
def groups_cmd(registry: UrlOpt = None, fmt: FormatOpt = Format.table) -> None:
    """The groups and their members."""
    rows = operator(registry).list_groups()
    for r in rows:
        r["members"] = ",".join(r["members"])
    render(rows, fmt, ["id", "name", "members", "description"])


@users_app.command("group-add")
def group_add(
    name: Annotated[str, typer.Argument(help="Group name.")],
    members: Annotated[list[str] | None, typer.Argument(help="Users to put in it.")] = None,
    description: Annotated[str, typer.Option(help="What the group is.")] = "",
    registry: UrlOpt = None,
) -> None:
    """Add a group (with members)."""
    reg = operator(registry)
    if name not in {g["name"] for g in reg.list_groups()}:
        reg.add_group(name, description)
    for user in members or []:
        reg.add_member(name, user)
    out.print(f"group {name}: {', '.join(members or []) or 'no members yet'}")


@users_app.command("group-remove-member")
def group_remove_member(
    group: Annotated[str, typer.Argument(help="Group name.")],
    user: Annotated[str, typer.Argument(help="User name.")],
    registry: UrlOpt = None,
) -> None:
    operator(registry).remove_member(group, user)
    out.print(f"{user} removed from {group}")


@users_app.command("restrict-release")
def restrict_release(
    release: Annotated[str, typer.Argument(help="Release name.")],
    groups: Annotated[list[str] | None, typer.Argument(help="Groups that may see it.")] = None,
    registry: UrlOpt = None,
) -> None:
    """Make a release's products visible only to these groups (and admins); no groups: open it."""
    operator(registry).restrict_release(release, list(groups or []))
    out.print(
        f"release {release}: " + (f"groups {', '.join(groups)}" if groups else "open to every user")
    )
