"""A schema module for the engines' differential tests: a library without tables.

Served with `SCHEMA_MODULES=tests.schema.engine.library_module` by
tests/e2e/test_engine_differential.py. Its types have what a team's module may have and
the compiled engine must plan like graphql-core runs it: an interface (`LibraryItem`)
with two object types, a union (`LibraryResult`), nested and optional objects, async
resolvers and async list items, lists of lists; and its fields are gated the way a
module gates them: `IsAuthenticated`, `HasScope("library:read")`, `HasRole("librarian")`
and the object-level `IsOwnerOrHasRole("librarian")`, on root fields (judging what they
return) and on fields of object types (judging the parent).

The items are made per request: those marked `mine` belong to the caller, the others
to nobody who can sign in. Owners never appear in answers, so both engines' runs, with
their different user ids, answer the same bytes.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from auth.permissions import HasRole, HasScope, IsAuthenticated, IsOwnerOrHasRole, gated

LIBRARIAN = "librarian"
READ = "library:read"
NOBODY = "00000000-0000-0000-0000-00000000dead"
OWNER_OR_LIBRARIAN = IsOwnerOrHasRole(LIBRARIAN)


@strawberry.type
class LibraryAuthor:
    name: str

    @strawberry.field
    async def born(self) -> int:
        await asyncio.sleep(0)
        return 1900 + len(self.name)


@strawberry.interface(description="A book or a film of the library.")
class LibraryItem:
    id: strawberry.ID
    title: str
    owner_id: strawberry.Private[str]
    # The parent item is judged: its owner or a librarian reads the note.
    note: str = strawberry.field(default="a private note", extensions=gated(OWNER_OR_LIBRARIAN))


@strawberry.type
class LibraryBook(LibraryItem):
    pages: int
    author: LibraryAuthor | None = None
    isbn: str | None = strawberry.field(default="978-0-00", extensions=gated(HasRole(LIBRARIAN)))
    shelf_mark: str = strawberry.field(default="A-1", extensions=gated(OWNER_OR_LIBRARIAN))

    @strawberry.field(extensions=gated(OWNER_OR_LIBRARIAN))
    async def summary(self) -> str:
        await asyncio.sleep(0)
        return f"{self.title}, {self.pages} pages"


@strawberry.type
class LibraryFilm(LibraryItem):
    minutes: int

    @strawberry.field
    async def director(self) -> LibraryAuthor | None:
        await asyncio.sleep(0)
        return LibraryAuthor(name="Varda") if self.minutes > 100 else None


@strawberry.type
class LibraryShelf:
    label: str
    rows: list[list[LibraryBook]]
    sparse_rows: list[list[LibraryBook | None] | None]


LibraryResult = Annotated[LibraryBook | LibraryFilm | LibraryAuthor, strawberry.union("LibraryResult")]


def _caller(info: Info) -> str:
    return info.context.identity.user_id or NOBODY


def _books(owner: str) -> list[LibraryBook]:
    herbert, joyce = LibraryAuthor(name="Herbert"), LibraryAuthor(name="Joyce")
    return [
        LibraryBook(id=strawberry.ID("b1"), title="Dune", owner_id=owner, pages=412, author=herbert),
        LibraryBook(id=strawberry.ID("b2"), title="Emma", owner_id=NOBODY, pages=474),
        LibraryBook(id=strawberry.ID("b3"), title="Ulysses", owner_id=owner, pages=730, author=joyce),
    ]


def _films(owner: str) -> list[LibraryFilm]:
    return [
        LibraryFilm(id=strawberry.ID("f1"), title="Cleo", owner_id=NOBODY, minutes=90),
        LibraryFilm(id=strawberry.ID("f2"), title="Vagabond", owner_id=owner, minutes=105),
    ]


@strawberry.type
class Query:
    @strawberry.field(extensions=gated(IsAuthenticated(), HasScope(READ)))
    def library_items(self, info: Info) -> list[LibraryItem]:
        owner = _caller(info)
        return [*_books(owner), *_films(owner)]

    @strawberry.field(extensions=gated(IsAuthenticated(), HasScope(READ)))
    def library_items_later(self, info: Info) -> list[LibraryItem | None]:
        async def later(item: Any) -> Any:
            await asyncio.sleep(0)
            return item

        owner = _caller(info)
        return [later(_books(owner)[0]), None, later(_films(owner)[1])]  # type: ignore[list-item]

    @strawberry.field(extensions=gated(IsAuthenticated(), HasScope(READ)))
    def library_search(self, info: Info, text: str = "") -> list[LibraryResult]:
        owner = _caller(info)
        return [*_books(owner)[:2], LibraryAuthor(name=text or "Austen"), _films(owner)[1]]

    @strawberry.field(extensions=gated(IsAuthenticated(), HasScope(READ)))
    def library_favourite(self, info: Info) -> LibraryItem | None:
        return _films(_caller(info))[0]

    @strawberry.field(extensions=gated(HasScope(READ), OWNER_OR_LIBRARIAN))
    def my_library_books(self, info: Info) -> list[LibraryBook]:
        return _books(_caller(info))

    @strawberry.field(extensions=gated(HasScope(READ), OWNER_OR_LIBRARIAN))
    async def library_book(self, info: Info, id: strawberry.ID) -> LibraryBook | None:
        await asyncio.sleep(0)
        return next((book for book in _books(_caller(info)) if book.id == id), None)

    @strawberry.field(extensions=gated(IsAuthenticated(), HasScope(READ)))
    def library_shelf(self, info: Info) -> LibraryShelf:
        books = _books(_caller(info))
        return LibraryShelf(label="S", rows=[books[:2], [], books[2:]], sparse_rows=[[books[0], None], None])
