"""``guanxi tenant|key|module|customer ...``: the operator's administration commands."""

from __future__ import annotations

from typing import Optional

import typer

from engine.cli_support import console, fail, json_option, new_app, open_engine, print_json, say, table, tenant_option

tenant_app = new_app("Manage tenants (the businesses served).")
key_app = new_app("Manage API keys: create, list, revoke.")
module_app = new_app("Enable, disable, configure and list modules per tenant.")
customer_app = new_app("Work on customer records (merge duplicates).")


def _when(value) -> str:
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


# -- tenants -----------------------------------------------------------------------------


@tenant_app.command("create")
def tenant_create(
    slug: str = typer.Argument(..., metavar="SLUG", help="Short id, e.g. acme-beauty"),
    name: str = typer.Option(..., "--name", metavar="NAME", help="Display name"),
    currency: str = typer.Option("CNY", metavar="CODE", help="ISO 4217 currency"),
    timezone: str = typer.Option("Asia/Shanghai", metavar="ZONE", help="IANA time zone"),
    locale: str = typer.Option("zh-CN", metavar="LOCALE", help="zh-CN or en"),
) -> None:
    """Create a tenant."""
    from engine.errors import GuanxiError
    from engine.services.tenants import create_tenant

    gx = open_engine()
    try:
        with gx.system() as session:
            tenant = create_tenant(session, slug, name, currency, timezone, locale, actor="cli")
    except GuanxiError as error:
        fail(error)
    say(f"Tenant [bold]{tenant.slug}[/bold] created (id {tenant.id}).")


@tenant_app.command("list")
def tenant_list(as_json: bool = json_option()) -> None:
    """List tenants."""
    from engine.services.tenants import list_tenants

    gx = open_engine()
    with gx.system(write=False) as session:
        rows = [{"id": t.id, "slug": t.slug, "name": t.name, "currency": t.currency, "timezone": t.timezone,
                 "locale": t.locale} for t in list_tenants(session)]
    if as_json:
        print_json(rows)
        return
    shown = table("id", "slug", "name", "currency", "timezone", "locale")
    for row in rows:
        shown.add_row(*(str(value) for value in row.values()))
    console.print(shown)


# -- API keys ----------------------------------------------------------------------------


@key_app.command("create")
def key_create(
    tenant: Optional[str] = typer.Option(None, "--tenant", metavar="SLUG", help="Tenant slug; omit for a platform key"),
    role: str = typer.Option(..., "--role", metavar="ROLE", help="admin, agent, analyst, viewer (or platform without --tenant)"),
    name: str = typer.Option("", "--name", metavar="NAME", help="What the key is for"),
    as_json: bool = typer.Option(False, "--json", help="Print the key and its record as JSON on stdout"),
) -> None:
    """Create an API key and print it once, alone on stdout: KEY=$(guanxi key create ...)."""
    from engine.errors import GuanxiError
    from engine.services.keys import create_key, key_view
    from engine.services.tenants import get_tenant

    gx = open_engine()
    try:
        with gx.system() as session:
            new = create_key(session, get_tenant(session, tenant) if tenant else None, role, name, actor="cli")
            view = key_view(new.record, tenant)
    except GuanxiError as error:
        fail(error)
    say(f"{new.record.role} key {new.record.prefix} (id {new.record.id}) for {tenant or 'the platform'}; "
        "shown once, store it now.")
    if as_json:
        print_json({**view, "secret": new.secret})
    else:
        print(new.secret, flush=True)


@key_app.command("list")
def key_list(
    tenant: Optional[str] = typer.Option(None, "--tenant", metavar="SLUG", help="Only this tenant's keys"),
    platform: bool = typer.Option(False, "--platform", help="Only platform keys (no tenant)"),
    active: bool = typer.Option(False, "--active", help="Hide revoked keys"),
    as_json: bool = json_option(),
) -> None:
    """API keys: id, prefix, name, role, tenant, created, last used, revoked (never the secret)."""
    from engine.errors import GuanxiError
    from engine.services.keys import key_views

    if tenant and platform:
        from engine.cli_support import usage_error

        usage_error("--platform", "give --tenant or --platform, not both")
    gx = open_engine()
    try:
        with gx.system(write=False) as session:
            views = key_views(session, tenant=tenant, platform_only=platform, active_only=active)
    except GuanxiError as error:
        fail(error)
    if as_json:
        print_json(views)
        return
    shown = table("id", "prefix", "name", "role", "tenant", "created", "last used", "revoked")
    for column in shown.columns:
        column.no_wrap = column.header != "name"
    for view in views:
        shown.add_row(str(view["id"]), view["prefix"], view["name"], view["role"], view["tenant"] or "(platform)",
                      _when(view["created_at"]), _when(view["last_used_at"]), _when(view["revoked_at"]))
    console.print(shown)


@key_app.command("revoke")
def key_revoke(
    key: str = typer.Argument(..., metavar="KEY", help="The key's id, its prefix (gx_... as key list shows) or the key itself"),
) -> None:
    """Revoke an API key: the API refuses it from the next request on."""
    from engine.errors import GuanxiError
    from engine.services.keys import find_key_reference, revoke_key

    gx = open_engine()
    try:
        with gx.system() as session:
            record = find_key_reference(session, key)
            already = record.revoked_at is not None
            revoke_key(session, record.tenant_id, record.id, actor="cli")
            label = f"{record.prefix} (id {record.id})"
    except GuanxiError as error:
        fail(error)
    say(f"Key {label} {'was already revoked' if already else 'revoked'}.")


# -- modules -----------------------------------------------------------------------------


@module_app.command("list")
def module_list(tenant: str = tenant_option(), as_json: bool = json_option()) -> None:
    """Installed modules, whether the tenant has them on, and its settings."""
    from engine.cli_settings import stored_settings
    from engine.errors import GuanxiError

    gx = open_engine()
    try:
        with gx.tenant(tenant, write=False) as ctx:
            settings = stored_settings(ctx.session, ctx.tenant_id)
            enabled = ctx.enabled_modules
    except GuanxiError as error:
        fail(error)
    rows = [{"module": name, "title_zh": info.title_zh, "title_en": info.title_en, "enabled": name in enabled,
             "settings": settings.get(name, {})} for name, info in gx.plugins.modules.items()]
    if as_json:
        print_json(rows)
        return
    shown = table("module", "标题", "title", "enabled", "settings")
    for row in rows:
        shown.add_row(row["module"], row["title_zh"], row["title_en"], "yes" if row["enabled"] else "no",
                      ", ".join(f"{k}={v}" for k, v in row["settings"].items()) or "(defaults)")
    console.print(shown)


def _set_module(tenant: str, names: list[str], enabled: bool) -> None:
    from engine.errors import GuanxiError
    from engine.services.modules import set_enabled

    gx = open_engine()
    try:
        with gx.tenant(tenant, actor="cli") as ctx:
            for name in names:
                set_enabled(ctx.session, gx.plugins, ctx.tenant_id, name, enabled, actor="cli")
    except GuanxiError as error:
        fail(error)
    say(f"{'Enabled' if enabled else 'Disabled'} {', '.join(names)} for {tenant}.")


@module_app.command("enable")
def module_enable(names: list[str] = typer.Argument(..., metavar="MODULE...", help="Modules to enable (with what they depend on)"),
                  tenant: str = tenant_option()) -> None:
    """Enable modules for a tenant."""
    _set_module(tenant, names, True)


@module_app.command("disable")
def module_disable(names: list[str] = typer.Argument(..., metavar="MODULE...", help="Modules to disable"),
                   tenant: str = tenant_option()) -> None:
    """Disable modules for a tenant."""
    _set_module(tenant, names, False)


@module_app.command("configure")
def module_configure(
    name: str = typer.Argument(..., metavar="MODULE", help="The module, e.g. loyalty (guanxi module list)"),
    tenant: str = tenant_option(),
    assignments: Optional[list[str]] = typer.Option(
        None, "--set", metavar="KEY=VALUE",
        help="Set a setting (repeatable). VALUE is JSON when it parses (730, 0.5, true, null, [...], {...}), "
             "else text; a dotted KEY sets a field of an object setting (redemption.max_order_share=0.3)"),
    reset: Optional[list[str]] = typer.Option(None, "--unset", metavar="KEY", help="Put this setting back to its default (repeatable)"),
    replace: bool = typer.Option(False, "--replace", help="Start from the defaults instead of the current settings"),
) -> None:
    """Change a module's settings for a tenant, validated by the module's settings model."""
    from engine.cli_settings import parse_assignments, stored_settings
    from engine.errors import GuanxiError
    from engine.services.modules import configure

    if not assignments and not reset and not replace:
        from engine.cli_support import usage_error

        usage_error("--set", "say what to change: --set KEY=VALUE (repeatable), --unset KEY or --replace")
    changes = parse_assignments(assignments or [])
    gx = open_engine()
    try:
        with gx.tenant(tenant, actor="cli") as ctx:
            current = {} if replace else stored_settings(ctx.session, ctx.tenant_id).get(name, {})
            merged = changes.apply(current, reset or [])
            row = configure(ctx.session, gx.plugins, ctx.tenant_id, name, merged, actor="cli")
            stored = dict(row.settings)
    except GuanxiError as error:
        fail(error)
    say(f"{name} settings for {tenant}: " + (", ".join(f"{k}={v}" for k, v in stored.items()) or "(defaults)"))


# -- customers ---------------------------------------------------------------------------


@customer_app.command("merge")
def customer_merge(
    keep: str = typer.Argument(..., metavar="KEEP", help="The customer kept (its code; its id with --by-id)"),
    merge: str = typer.Argument(..., metavar="MERGE", help="The customer folded into KEEP and deleted"),
    tenant: str = tenant_option(),
    by_id: bool = typer.Option(False, "--by-id", help="KEEP and MERGE are customer ids, not codes"),
) -> None:
    """Merge two records of one person (rules in docs/customers.md)."""
    from engine.errors import FieldError, GuanxiError, NotFound
    from engine.services.customers import find_by_code
    from engine.services.merge import merge_customers

    def customer_id(ctx, field: str, value: str) -> int:
        if by_id:
            if not value.isdigit():
                raise NotFound([FieldError(field.upper(), f"{value!r} is not a customer id", "NOT_FOUND")])
            return int(value)
        found = find_by_code(ctx.session, ctx.tenant_id, value)
        if found is None:
            raise NotFound([FieldError(field.upper(), f"no live customer with code {value!r} in this tenant", "NOT_FOUND")])
        return found.id

    gx = open_engine()
    try:
        with gx.tenant(tenant, actor="cli") as ctx:
            kept = merge_customers(ctx, customer_id(ctx, "keep", keep), customer_id(ctx, "merge", merge))
            label = kept.code or kept.id
    except GuanxiError as error:
        fail(error)
    say(f"Merged {merge} into {keep} (customer {label}).")
