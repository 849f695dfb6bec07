"""Who may use a shared site: users, groups, admins, API tokens, and releases restricted to groups.

Mixed into ``registry.Registry``. Secrets are stored hashed only: an API token is random
(``pzf_`` + 256 bits), shown once, and stored as its sha256 (a random 256-bit secret needs no
slow hash; a lookup by hash is one index probe); a password is stored as an argon2id hash.

Who may manage accounts: an admin (in the database, or in ``admins`` given by the caller), or the
site operator (``operator=True``: the CLI run by whoever holds the database credentials, e.g.
to create the first admin). Anyone may list and revoke their own tokens and make new ones.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from registry.errors import NameCollision, NotFound, PermissionDenied, ValidationError
from registry.models import (
    ApiToken,
    Group,
    GroupMember,
    Product,
    Release,
    ReleaseGroup,
    User,
    utcnow,
)
from registry.names import MAX_ID

if TYPE_CHECKING:
    from registry.store import Registry

TOKEN_PREFIX = "pzf_"
USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}$")
GROUP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
LAST_USED_EVERY = timedelta(seconds=60)  # last-used time written at most once a minute
MIN_PASSWORD = 10


def token_hash(token: str) -> str:
    """The stored form of an API token."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _hasher():
    from argon2 import PasswordHasher

    return PasswordHasher()  # argon2id with the library's current recommended parameters


def _aware(t: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes (stored as UTC); PostgreSQL aware ones."""
    return t if t is None or t.tzinfo else t.replace(tzinfo=UTC)


def _iso(t: datetime | None) -> str | None:
    t = _aware(t)
    return t.isoformat() if t else None


def check_user_name(name: object) -> str:
    if not isinstance(name, str) or not USER_NAME.match(name):
        raise ValidationError(
            f"user name {name!r}: use 1-100 letters, digits and . _ @ + - (starting with a "
            "letter or digit)"
        )
    return name


def check_group_name(name: object) -> str:
    if not isinstance(name, str) or not GROUP_NAME.match(name):
        raise ValidationError(
            f"group name {name!r}: use 1-100 letters, digits and . _ - (starting with a letter "
            "or digit)"
        )
    return name


def _user_dict(u: User, groups: Sequence[str] = ()) -> dict[str, Any]:
    return {
        "id": u.id,
        "name": u.name,
        "display_name": u.display_name,
        "email": u.email,
        "is_admin": u.is_admin,
        "active": u.active,
        "has_password": u.password_hash is not None,
        "created_at": _iso(u.created_at),
        "last_login_at": _iso(u.last_login_at),
        "groups": sorted(groups),
    }


def _token_dict(t: ApiToken) -> dict[str, Any]:
    return {
        "id": t.id,
        "user": t.user.name,
        "label": t.label,
        "prefix": t.prefix,
        "created_at": _iso(t.created_at),
        "expires_at": _iso(t.expires_at),
        "last_used_at": _iso(t.last_used_at),
        "revoked_at": _iso(t.revoked_at),
        "active": t.revoked_at is None
        and (t.expires_at is None or _aware(t.expires_at) > datetime.now(UTC)),
    }


class AccountRecords:
    """Mixed into ``registry.Registry``."""

    # --- who is acting ------------------------------------------------------------------------

    @property
    def is_admin(self: Registry) -> bool:
        """The acting user is an admin: named by the caller (``admins``) or in the database."""
        if self.user is None:
            return False
        if self._admin is None:
            if self.user in self.admins:
                self._admin = True
            else:
                with self.session(readonly=True) as s:
                    self._admin = bool(
                        s.scalar(
                            select(User.id).where(
                                User.name == self.user, User.is_admin.is_(True), User.active
                            )
                        )
                    )
        return self._admin

    def _require_manager(self: Registry, what: str) -> None:
        if not (self.operator or self.is_admin):
            raise PermissionDenied(f"only admins may {what}; {self.user or 'nobody'} is not one")

    # --- users --------------------------------------------------------------------------------

    def add_user(
        self: Registry,
        name: str,
        *,
        admin: bool = False,
        password: str | None = None,
        display_name: str = "",
        email: str = "",
    ) -> dict[str, Any]:
        self._require_manager("add users")
        name = check_user_name(name)
        hashed = self._hash_password(password) if password is not None else None
        with self.session() as s:
            if s.scalar(select(User.id).where(User.name == name)):
                raise NameCollision(f"user {name!r} already exists")
            user = User(
                name=name,
                is_admin=admin,
                password_hash=hashed,
                display_name=display_name,
                email=email,
                active=True,
            )
            s.add(user)
            s.flush()
            return _user_dict(user)

    def _user(self: Registry, s: Session, name: str) -> User:
        u = s.scalar(select(User).where(User.name == name))
        if u is None:
            raise NotFound(f"no user {name!r} (`pzforge users list` lists them)")
        return u

    def _groups_of(self: Registry, s: Session, user_id: int) -> list[str]:
        return list(
            s.scalars(
                select(Group.name)
                .join(GroupMember, GroupMember.group_id == Group.id)
                .where(GroupMember.user_id == user_id)
            )
        )

    def get_user(self: Registry, name: str) -> dict[str, Any]:
        if name != self.user:
            self._require_manager("see other users' accounts")
        with self.session(readonly=True) as s:
            u = self._user(s, name)
            return _user_dict(u, self._groups_of(s, u.id))

    def list_users(self: Registry) -> list[dict[str, Any]]:
        """Every user (name and display name for all; the rest for admins)."""
        with self.session(readonly=True) as s:
            users = s.scalars(select(User).order_by(User.name)).all()
            members: dict[int, list[str]] = {}
            for uid, gname in s.execute(
                select(GroupMember.user_id, Group.name).join(
                    Group, Group.id == GroupMember.group_id
                )
            ):
                members.setdefault(uid, []).append(gname)
            rows = [_user_dict(u, members.get(u.id, [])) for u in users]
        if self.operator or self.is_admin:
            return rows
        return [{"name": r["name"], "display_name": r["display_name"]} for r in rows if r["active"]]

    def update_user(
        self: Registry,
        name: str,
        *,
        admin: bool | None = None,
        active: bool | None = None,
        display_name: str | None = None,
        email: str | None = None,
    ) -> dict[str, Any]:
        self._require_manager("change users")
        with self.session() as s:
            u = self._user(s, name)
            if admin is not None:
                u.is_admin = admin
            if active is not None:
                u.active = active
            if display_name is not None:
                u.display_name = display_name
            if email is not None:
                u.email = email
            s.flush()
            return _user_dict(u, self._groups_of(s, u.id))

    # --- passwords ----------------------------------------------------------------------------

    @staticmethod
    def _hash_password(password: str) -> str:
        if not isinstance(password, str) or len(password) < MIN_PASSWORD:
            raise ValidationError(f"a password needs at least {MIN_PASSWORD} characters")
        return _hasher().hash(password)

    def set_password(self: Registry, name: str, password: str) -> None:
        if name != self.user:
            self._require_manager("set other users' passwords")
        hashed = self._hash_password(password)
        with self.session() as s:
            self._user(s, name).password_hash = hashed

    def check_password(self: Registry, name: str, password: str) -> dict[str, Any] | None:
        """The user when ``password`` is theirs (and the account active), else None. A hash made
        with older parameters is replaced by one with the current ones."""
        from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

        hasher = _hasher()
        with self.session(readonly=True) as s:
            u = s.scalar(select(User).where(User.name == name))
            stored = u.password_hash if u is not None and u.active else None
        if stored is None:
            hasher.hash(password or "-")  # same time whether or not the user exists
            return None
        try:
            hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        with self.session() as s:
            u = self._user(s, name)
            u.last_login_at = utcnow()
            if hasher.check_needs_rehash(stored):
                u.password_hash = hasher.hash(password)
            s.flush()
            return _user_dict(u, self._groups_of(s, u.id))

    # --- tokens -------------------------------------------------------------------------------

    def create_token(
        self: Registry,
        name: str | None = None,
        *,
        label: str = "",
        expires_in_days: float | None = None,
    ) -> tuple[str, dict[str, Any]]:
        """A new API token for user ``name`` (default: the acting user): ``(token, info)``.
        The token itself is returned here once and never stored."""
        name = name or self.user
        if name is None:
            raise PermissionDenied("no acting user: give the user to make a token for")
        if name != self.user:
            self._require_manager("make tokens for other users")
        if expires_in_days is not None and not 0 < expires_in_days <= 3660:
            raise ValidationError("a token expires after more than 0 and at most 3660 days")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.session() as s:
            u = self._user(s, name)
            if not u.active:
                raise PermissionDenied(f"user {name!r} is deactivated")
            row = ApiToken(
                user=u,
                label=str(label)[:200],
                token_hash=token_hash(token),
                prefix=token[: len(TOKEN_PREFIX) + 6],
                created_at=utcnow(),
                expires_at=(
                    utcnow() + timedelta(days=expires_in_days) if expires_in_days else None
                ),
            )
            s.add(row)
            s.flush()
            return token, _token_dict(row)

    def list_tokens(self: Registry, name: str | None = None) -> list[dict[str, Any]]:
        name = name or self.user
        if name != self.user:
            self._require_manager("see other users' tokens")
        with self.session(readonly=True) as s:
            u = self._user(s, name)
            rows = s.scalars(select(ApiToken).where(ApiToken.user_id == u.id).order_by(ApiToken.id))
            return [_token_dict(t) for t in rows]

    def revoke_token(self: Registry, token_id: int) -> dict[str, Any]:
        """Revoke a token (its owner or an admin); revoking twice changes nothing."""
        with self.session() as s:
            t = s.get(ApiToken, int(token_id)) if 0 < int(token_id) <= MAX_ID else None
            if t is None or (t.user.name != self.user and not (self.operator or self.is_admin)):
                raise NotFound(f"no token {token_id} of yours")
            if t.revoked_at is None:
                t.revoked_at = utcnow()
            s.flush()
            return _token_dict(t)

    def authenticate_token(self: Registry, token: str) -> dict[str, Any] | None:
        """The active user a valid token belongs to, else None (unknown, revoked, expired, or a
        deactivated user). Records when it was last used (at most once a minute)."""
        if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        digest = token_hash(token)
        now = datetime.now(UTC)
        with self.session(readonly=True) as s:
            row = s.execute(
                select(
                    ApiToken.id,
                    ApiToken.expires_at,
                    ApiToken.revoked_at,
                    ApiToken.last_used_at,
                    User.name,
                    User.is_admin,
                    User.active,
                )  # fmt: skip
                .join(User, User.id == ApiToken.user_id)
                .where(ApiToken.token_hash == digest)
            ).first()
        if row is None or row.revoked_at is not None or not row.active:
            return None
        if row.expires_at is not None and _aware(row.expires_at) <= now:
            return None
        last = _aware(row.last_used_at)
        if last is None or now - last > LAST_USED_EVERY:
            with self.session() as s:
                t = s.get(ApiToken, row.id)
                if t is not None:
                    t.last_used_at = now
        return {"name": row.name, "is_admin": row.is_admin, "token_id": row.id}

    def user_for_login(self: Registry, name: str) -> dict[str, Any] | None:
        """An active user by name (a trusted single-sign-on header names them), else None."""
        with self.session(readonly=True) as s:
            u = s.scalar(select(User).where(User.name == name, User.active.is_(True)))
            return None if u is None else {"name": u.name, "is_admin": u.is_admin}

    # --- groups -------------------------------------------------------------------------------

    def add_group(self: Registry, name: str, description: str = "") -> dict[str, Any]:
        self._require_manager("add groups")
        name = check_group_name(name)
        with self.session() as s:
            if s.scalar(select(Group.id).where(Group.name == name)):
                raise NameCollision(f"group {name!r} already exists")
            g = Group(name=name, description=description)
            s.add(g)
            s.flush()
            return {"id": g.id, "name": g.name, "description": g.description, "members": []}

    def _group(self: Registry, s: Session, name: str) -> Group:
        g = s.scalar(select(Group).where(Group.name == name))
        if g is None:
            raise NotFound(f"no group {name!r} (`pzforge users groups` lists them)")
        return g

    def list_groups(self: Registry) -> list[dict[str, Any]]:
        with self.session(readonly=True) as s:
            groups = s.scalars(select(Group).order_by(Group.name)).all()
            members: dict[int, list[str]] = {}
            for gid, uname in s.execute(
                select(GroupMember.group_id, User.name).join(User, User.id == GroupMember.user_id)
            ):
                members.setdefault(gid, []).append(uname)
            return [
                {
                    "id": g.id,
                    "name": g.name,
                    "description": g.description,
                    "members": sorted(members.get(g.id, [])),
                }
                for g in groups
            ]

    def add_member(self: Registry, group: str, user: str) -> None:
        self._require_manager("change groups")
        with self.session() as s:
            g, u = self._group(s, group), self._user(s, user)
            if s.get(GroupMember, (g.id, u.id)) is None:
                s.add(GroupMember(group_id=g.id, user_id=u.id))

    def remove_member(self: Registry, group: str, user: str) -> None:
        self._require_manager("change groups")
        with self.session() as s:
            g, u = self._group(s, group), self._user(s, user)
            s.execute(
                delete(GroupMember).where(GroupMember.group_id == g.id, GroupMember.user_id == u.id)
            )

    # --- access by release --------------------------------------------------------------------

    def restrict_release(self: Registry, release: str, groups: Sequence[str]) -> dict[str, Any]:
        """Make a release visible only to members of ``groups`` (and admins); no groups: open
        to every registered user again."""
        self._require_manager("restrict releases")
        with self.session() as s:
            r = s.scalar(select(Release).where(Release.name == release))
            if r is None:
                raise NotFound(f"unknown release {release!r}")
            ids = [self._group(s, g).id for g in groups]
            s.execute(delete(ReleaseGroup).where(ReleaseGroup.release_id == r.id))
            for gid in sorted(set(ids)):
                s.add(ReleaseGroup(release_id=r.id, group_id=gid))
        return {"release": release, "groups": sorted(set(groups))}

    def release_groups(self: Registry) -> dict[str, list[str]]:
        """Restricted releases and the groups that may see them."""
        with self.session(readonly=True) as s:
            out: dict[str, list[str]] = {}
            for rname, gname in s.execute(
                select(Release.name, Group.name)
                .join(ReleaseGroup, ReleaseGroup.release_id == Release.id)
                .join(Group, Group.id == ReleaseGroup.group_id)
                .order_by(Release.name, Group.name)
            ):
                out.setdefault(rname, []).append(gname)
            return out

    def _hidden_releases(self: Registry, s: Session) -> set[int]:
        """Ids of the releases the acting user may not see (none for admins). A per-request view
        (``acting_as``) works them out once; a long-lived registry every time."""
        if self._hidden is not None:
            return self._hidden
        hidden = self._find_hidden_releases(s)
        if self._per_request:
            self._hidden = hidden
        return hidden

    def _find_hidden_releases(self: Registry, s: Session) -> set[int]:
        restricted = set(s.scalars(select(ReleaseGroup.release_id).distinct()))
        if not restricted or self.is_admin:
            return set()
        allowed: set[int] = set()
        if self.user is not None:
            allowed = set(
                s.scalars(
                    select(ReleaseGroup.release_id)
                    .join(GroupMember, GroupMember.group_id == ReleaseGroup.group_id)
                    .join(User, User.id == GroupMember.user_id)
                    .where(User.name == self.user, User.active.is_(True))
                )
            )
        return restricted - allowed

    def _check_visible(self: Registry, s: Session, p: Product) -> None:
        if p.release_id is not None and p.release_id in self._hidden_releases(s):
            raise PermissionDenied(
                f"{self.user or 'nobody'} may not read {p.internal_name}: release "
                f"{p.release.name} is restricted to some groups; ask an admin for access"
            )

    def _check_release_open(self: Registry, s: Session, release: Release | None) -> None:
        """Products go into a restricted release only from its groups' members (or admins)."""
        if release is not None and release.id in self._hidden_releases(s):
            raise PermissionDenied(
                f"{self.user or 'nobody'} may not add products to release {release.name}: it is "
                "restricted to some groups"
            )

    def release_open(self: Registry, name: str) -> bool:
        """Whether the acting user may see (and add products to) a release; NotFound if none."""
        with self.session(readonly=True) as s:
            r = self._release(s, name)
            return r.id not in self._hidden_releases(s)

    def can_read(self: Registry, ref: int | str) -> bool:
        """Whether the acting user may read a product (it exists and its release is open to
        them); raises NotFound for no such product."""
        with self.session(readonly=True) as s:
            p = self._product(s, ref, check_access=False)
            return p.release_id is None or p.release_id not in self._hidden_releases(s)
