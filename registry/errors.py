"""Registry errors: each message says what went wrong and what to do."""


class RegistryError(Exception):
    """Base class of every error the registry raises on purpose."""


class NotFound(RegistryError):
    """No product, type or release by that id or name."""


class PermissionDenied(RegistryError):
    """The acting user may not do this (not the owner, not an admin)."""


class ValidationError(RegistryError):
    """A file or column association does not meet the product type's rules."""


class NameCollision(RegistryError):
    """A product with that name and type already exists."""


class SchemaOutdated(RegistryError):
    """The database schema is older than this code: run `pzforge db upgrade`."""


class IntegrityProblem(RegistryError):
    """A registered file is missing or no longer has its registered checksum: it is not served."""


class Conflict(RegistryError):
    """The thing is no longer in a state that allows this (a callback token already used)."""


class LimitReached(RegistryError):
    """A per-user limit is reached (analyses per product): finish or cancel some first."""
