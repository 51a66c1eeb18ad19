"""`user_count` and the triggers on `users` that keep it (models/user_count.py says how)."""

from typing import Any

from tortoise import migrations
from tortoise.migrations import operations as ops

from models.user_count import USER_COUNT_SQL


class RunSQLByDialect(ops.RunSQL):
    """`RunSQL` with statements per database dialect (none on SQLite); a dialect missing
    from `statements` stops the migration rather than leave `user_count` missing."""

    def __init__(self, statements: dict[str, tuple[tuple[str, ...], tuple[str, ...]]]) -> None:
        super().__init__(ops.RunSQL.noop, ops.RunSQL.noop)
        self.statements = statements

    def _for(self, state_editor: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
        dialect = state_editor.client.capabilities.dialect
        if dialect not in self.statements:
            raise NotImplementedError(f"no user_count triggers for {dialect}")
        return self.statements[dialect]

    async def database_forward(
        self, app_label: str, old_state: Any, new_state: Any, state_editor: Any = None
    ) -> None:
        if state_editor is not None:
            await self._run_each(state_editor, self._for(state_editor)[0])

    async def database_backward(
        self, app_label: str, old_state: Any, new_state: Any, state_editor: Any = None
    ) -> None:
        if state_editor is not None:
            await self._run_each(state_editor, self._for(state_editor)[1])

    @staticmethod
    async def _run_each(state_editor: Any, statements: tuple[str, ...]) -> None:
        # One statement at a time, as written: a schema editor may split a script at every
        # ";", which would cut a function's body apart.
        for statement in statements:
            if state_editor.collect_sql:
                state_editor.collected_sql.append(statement)
            else:
                await state_editor.client.execute_query(statement)


class Migration(migrations.Migration):
    dependencies = [("models", "0008_link_flow_credential")]

    initial = False

    operations = [
        RunSQLByDialect(USER_COUNT_SQL),
    ]
