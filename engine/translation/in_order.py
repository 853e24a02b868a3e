"""A document's translation shown in its own order while its paragraphs are translated at
the same time (engine.translation.translate, a backend with `parallel` > 1)."""

from __future__ import annotations

from collections.abc import Callable


class InOrder:
    """Passes the document to `emit` in order: the verbatim text between units as soon as
    every unit before it is done; a unit's text live while every unit before it is done,
    else held until they are. A unit that ends the translation (`done(…, last=True)`: it
    was cancelled) is the last thing passed on, as when units are translated in turn.

    `pieces`: Document.pieces(), ("verbatim", text) and ("unit", index). Not thread-safe:
    call it from the thread that owns `emit`."""

    def __init__(self, pieces: list[tuple[str, str | int]], emit: Callable[[str], None]):
        self.pieces = pieces
        self.emit = emit
        self.at = 0  # the next piece to pass on
        self.held: dict[int, list[str]] = {}
        self.finished: set[int] = set()
        self.last: set[int] = set()
        self.ended = False
        self._advance()

    def text(self, unit: int, piece: str) -> None:
        """A piece of unit `unit`'s translation, as it streams."""
        if self.ended:
            return
        if self.at < len(self.pieces) and self.pieces[self.at] == ("unit", unit):
            self.emit(piece)
        else:
            self.held.setdefault(unit, []).append(piece)

    def done(self, unit: int, *, last: bool = False) -> None:
        """Unit `unit` will send no more text; `last`: nothing after it is passed on."""
        self.finished.add(unit)
        if last:
            self.last.add(unit)
        self._advance()

    def _advance(self) -> None:
        while not self.ended and self.at < len(self.pieces):
            kind, item = self.pieces[self.at]
            if kind == "verbatim":
                self.emit(item)
                self.at += 1
                continue
            for piece in self.held.pop(item, []):
                self.emit(piece)
            if item not in self.finished:
                return
            if item in self.last:
                self.ended = True
                return
            self.at += 1
