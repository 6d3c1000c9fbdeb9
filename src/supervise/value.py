"""`Value`: the base of the small immutable records the clients read (`Tai64n`, `Status`, `Extra`).

What attrs' ``frozen`` gives, in a few lines and no import: the clients must
start within a few milliseconds of a bare interpreter, and importing attrs
costs more than that (``python -X importtime``). Fields are the
subclass's ``__slots__``; its ``__init__`` sets them with `_set`.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Self


class Value:
    """Named fields in ``__slots__``; compared, hashed and shown as the tuple of them."""

    __slots__: tuple[str, ...] = ()

    def _set(self, **fields: object) -> None:
        for name, value in fields.items():
            object.__setattr__(self, name, value)

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: use replace()")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Value) or other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"

    def replace(self, **changes: object) -> Self:
        """A copy with `changes` (what ``attrs.evolve`` did); the constructor checks them."""
        unknown = set(changes) - set(self.__slots__)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field {', '.join(sorted(unknown))}")
        fields = {name: changes.get(name, getattr(self, name)) for name in self.__slots__}
        return type(self)(**fields)

    __replace__ = replace  # copy.replace (Python 3.13)
