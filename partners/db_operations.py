"""Migration operations that keep tenants apart in the database itself.

``makemigrations`` and ``migrate`` in this project use :class:`TenantAwareAutodetector`, which
adds these operations by itself whenever a model with a ``tenant`` foreign key is created or a
foreign key between two tenant-owned models is added, so a later model cannot forget them:

- :class:`EnableTenantRLS`: enable and force row-level security with the policy
  ``tenant_id = current_setting('app.tenant_id')``.
- :class:`EnforceSameTenant`: a composite foreign key ``(tenant_id, <fk>_id)`` referencing
  ``(tenant_id, id)`` of the target, so a row can never point at another tenant's row.
"""

from __future__ import annotations

import hashlib

from django.db import connection as default_connection
from django.db.migrations.autodetector import MigrationAutodetector, OperationDependency
from django.db.migrations.operations.base import Operation

TENANT_MODEL = ("partners", "tenant")
POLICY_NAME = "tenant_isolation"
TENANT_PREDICATE = "tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint"


def _constraint_name(*parts: str) -> str:
    name = "_".join(parts)
    if len(name) <= 63:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[:54]}_{digest}"


def rls_statements(table: str) -> list[str]:
    quoted = default_connection.ops.quote_name(table)
    return [
        f"ALTER TABLE {quoted} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {quoted} FORCE ROW LEVEL SECURITY",
        f"DROP POLICY IF EXISTS {POLICY_NAME} ON {quoted}",
        f"CREATE POLICY {POLICY_NAME} ON {quoted} "
        f"USING ({TENANT_PREDICATE}) WITH CHECK ({TENANT_PREDICATE})",
    ]


class EnableTenantRLS(Operation):
    reversible = True
    reduces_to_sql = True

    def __init__(self, model_name: str) -> None:
        self.model_name = model_name

    def deconstruct(self):
        return (self.__class__.__qualname__, [], {"model_name": self.model_name})

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = to_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        for sql in rls_statements(model._meta.db_table):
            schema_editor.execute(sql)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        model = from_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        table = schema_editor.quote_name(model._meta.db_table)
        schema_editor.execute(f"DROP POLICY IF EXISTS {POLICY_NAME} ON {table}")
        schema_editor.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        schema_editor.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")

    def describe(self):
        return f"Enable tenant row-level security on {self.model_name}"

    @property
    def migration_name_fragment(self):
        return f"rls_{self.model_name.lower()}"


class EnforceSameTenant(Operation):
    reversible = True
    reduces_to_sql = True

    def __init__(self, model_name: str, field_name: str) -> None:
        self.model_name = model_name
        self.field_name = field_name

    def deconstruct(self):
        return (
            self.__class__.__qualname__,
            [],
            {"model_name": self.model_name, "field_name": self.field_name},
        )

    def state_forwards(self, app_label, state):
        pass

    def _names(self, model):
        field = model._meta.get_field(self.field_name)
        target = field.related_model._meta.db_table
        table = model._meta.db_table
        unique = _constraint_name(target, "tenant_id_id_key")
        fk = _constraint_name(table, field.column, "same_tenant")
        return table, field.column, target, unique, fk

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = to_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        table, column, target, unique, fk = self._names(model)
        q = schema_editor.quote_name
        schema_editor.execute(
            f"""DO $$ BEGIN
                IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = '{unique}') THEN
                    ALTER TABLE {q(target)} ADD CONSTRAINT {q(unique)} UNIQUE (tenant_id, id);
                END IF;
            END $$"""
        )
        schema_editor.execute(
            f"ALTER TABLE {q(table)} ADD CONSTRAINT {q(fk)} FOREIGN KEY (tenant_id, {q(column)}) "
            f"REFERENCES {q(target)} (tenant_id, id) DEFERRABLE INITIALLY DEFERRED"
        )

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        model = from_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        table, _column, _target, _unique, fk = self._names(model)
        q = schema_editor.quote_name
        schema_editor.execute(f"ALTER TABLE {q(table)} DROP CONSTRAINT IF EXISTS {q(fk)}")

    def describe(self):
        return f"Refuse cross-tenant references from {self.model_name}.{self.field_name}"

    @property
    def migration_name_fragment(self):
        return f"same_tenant_{self.model_name.lower()}_{self.field_name.lower()}"


def _target_key(field) -> tuple[str, str] | None:
    remote = getattr(field, "remote_field", None)
    if remote is None or remote.model is None:
        return None
    model = remote.model
    if isinstance(model, str):
        if "." not in model:
            return None
        app_label, model_name = model.split(".", 1)
        return app_label.lower(), model_name.lower()
    return model._meta.app_label, model._meta.model_name


class TenantAwareAutodetector(MigrationAutodetector):
    """The stock autodetector, plus tenant isolation operations for tenant-owned models."""

    def _is_tenant_owned(self, key: tuple[str, str]) -> bool:
        state = self.to_state.models.get(key)
        if state is None:
            return False
        field = state.fields.get("tenant")
        return field is not None and _target_key(field) == TENANT_MODEL

    def _same_tenant_ops(self, app_label: str, model_name: str, field_name: str, field) -> None:
        target = _target_key(field)
        if (
            target is None
            or target == TENANT_MODEL
            or getattr(field, "many_to_many", False)
            or not getattr(field, "db_constraint", True)
            or not self._is_tenant_owned(target)
        ):
            return
        self.add_operation(
            app_label,
            EnforceSameTenant(
                model_name=self.to_state.models[app_label, model_name].name, field_name=field_name
            ),
            dependencies=[
                OperationDependency(
                    app_label, model_name, field_name, OperationDependency.Type.CREATE
                ),
                OperationDependency(
                    app_label, model_name, "tenant", OperationDependency.Type.CREATE
                ),
                OperationDependency(target[0], target[1], None, OperationDependency.Type.CREATE),
                OperationDependency(
                    target[0], target[1], "tenant", OperationDependency.Type.CREATE
                ),
            ],
        )

    def generate_created_models(self):
        super().generate_created_models()
        added = self.new_model_keys - (self.old_model_keys | self.old_unmanaged_keys)
        for app_label, model_name in sorted(added):
            if not self._is_tenant_owned((app_label, model_name)):
                continue
            state = self.to_state.models[app_label, model_name]
            self.add_operation(
                app_label,
                EnableTenantRLS(model_name=state.name),
                dependencies=[
                    OperationDependency(
                        app_label, model_name, None, OperationDependency.Type.CREATE
                    ),
                    OperationDependency(
                        app_label, model_name, "tenant", OperationDependency.Type.CREATE
                    ),
                ],
            )
            for field_name, field in sorted(state.fields.items()):
                self._same_tenant_ops(app_label, model_name, field_name, field)

    def generate_added_fields(self):
        super().generate_added_fields()
        for app_label, model_name, field_name in sorted(self.new_field_keys - self.old_field_keys):
            if not self._is_tenant_owned((app_label, model_name)):
                continue
            state = self.to_state.models[app_label, model_name]
            field = state.get_field(field_name)
            if field_name == "tenant":
                # An existing model became tenant-owned: it needs the policy now.
                self.add_operation(
                    app_label,
                    EnableTenantRLS(model_name=state.name),
                    dependencies=[
                        OperationDependency(
                            app_label, model_name, "tenant", OperationDependency.Type.CREATE
                        )
                    ],
                )
            self._same_tenant_ops(app_label, model_name, field_name, field)
