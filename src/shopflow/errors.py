"""The one error hierarchy of shopflow.

Every error says what failed and, where shopflow can tell, how to fix it. The CLI maps
each class to an exit code: configuration and usage errors exit 2, everything else 1.
"""

from __future__ import annotations


class ShopflowError(Exception):
    """Root of every error shopflow raises on purpose.

    Args:
        message: What failed, in one sentence a user can act on.
        fix: How to resolve it, when shopflow knows.
        context: Where it happened (file, table, key, host); shown with the message.
    """

    exit_code = 1

    def __init__(self, message: str, *, fix: str | None = None, **context: object) -> None:
        self.message = message
        self.fix = fix
        self.context = {k: v for k, v in context.items() if v is not None}
        super().__init__(self.__str__())

    def __str__(self) -> str:
        parts = [self.message]
        if self.context:
            parts.append("(" + ", ".join(f"{k}={v}" for k, v in self.context.items()) + ")")
        text = " ".join(parts)
        if self.fix:
            text += f"\n  fix: {self.fix}"
        return text


class ConfigError(ShopflowError):
    """The pipeline file is missing, unreadable or invalid."""

    exit_code = 2


class StorageError(ShopflowError):
    """A folder, bucket or container cannot be listed, read or written."""


class SourceError(ShopflowError):
    """A source cannot be read as configured."""


class LakeError(ShopflowError):
    """A lake table cannot be read or committed."""


class SchemaDriftError(ShopflowError):
    """New data changed a column in a way that cannot be applied in place."""


class WarehouseError(ShopflowError):
    """The warehouse refused a load or could not be reached."""
