"""The projects module's data access: the only code of the module touching its model."""

from __future__ import annotations

from tests.helpers.modules.projects.models import Project


async def create(owner_id: str, name: str) -> Project:
    """A new project owned by `owner_id`."""
    return await Project.create(owner_id=owner_id, name=name)


async def every_project() -> list[Project]:
    """All projects, oldest first: the permission filters what the caller may see."""
    return await Project.all().order_by("created_at", "id")


async def by_id(project_id: str) -> Project | None:
    """One project, or None."""
    return await Project.get_or_none(id=project_id)


async def named_like(text: str) -> list[Project]:
    """Projects whose name contains `text`, oldest first."""
    return await Project.filter(name__icontains=text).order_by("created_at", "id")
