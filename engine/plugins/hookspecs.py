"""The plugin contract: every hook a Guanxi plugin may implement.

Modelled on datasette's hookspecs: one marker, hooks named for what they do,
each spec documenting its arguments, its return value and how results combine.
Per-tenant hooks are called only on the plugins whose module the tenant has
enabled (see ``engine.plugins.manager``), except ``guanxi_customer_erased`` and
``guanxi_customers_merged``. Every hook here is documented in
docs/plugin-hooks.md; a test fails when one is not.
"""

from __future__ import annotations

from pluggy import HookimplMarker, HookspecMarker

hookspec = HookspecMarker("guanxi")
hookimpl = HookimplMarker("guanxi")


@hookspec
def guanxi_module():
    """Describe the module this plugin provides.

    Returns an ``engine.plugins.ModuleInfo`` (name, zh/en title, description,
    settings model, dependencies on other modules, personal-data fields, and
    a module of hookspecs the plugin offers integrators), or an
    ``engine.plugins.GlobalPlugin`` for a plugin that is on for every tenant.
    Every plugin implements it: one that returns nothing is refused at start.
    """


@hookspec
def guanxi_models():
    """Return the plugin's SQLModel table classes (a list).

    Each table must have a ``tenant_id`` column (or be declared with
    ``engine.tenancy.global_table``); tables are created by the plugin's
    migrations (``guanxi_migrations``), never at start.
    """


@hookspec
def guanxi_migrations():
    """Return the folder (a ``pathlib.Path`` or str) holding the plugin's
    Alembic revisions: its own branch, labelled with the module's name, whose
    first revision depends on the core's first (``core_0001``). ``guanxi db
    upgrade`` applies every installed plugin's branch.
    """


@hookspec
def guanxi_customer_fields():
    """Return strawberry types whose fields are merged onto GraphQL ``Customer``.

    A list of ``@strawberry.type`` classes (a resolver's ``self`` is the
    customer row). Only tenants that enabled the module see the fields.
    Resolvers use ``info.context`` (``api.context.RequestContext``): ``read``,
    ``loader`` (per-request DataLoaders) and ``require(role, action)``.
    """


@hookspec
def guanxi_graphql():
    """Return the plugin's GraphQL contribution: a dict ``{"query": [types],
    "mutation": [types], "types": [types]}`` or an ``api.contrib.GraphQLContribution``
    (its other keys: customer_filters, customer_orders, nodes, customer_batches).
    The fields of those strawberry types are merged into the tenant's Query and
    Mutation. Names must be namespaced (``RfmSegment``, not ``Segment``); a name
    another plugin or the core has, or an unknown key, fails at start
    (docs/plugin-hooks.md, "Naming rules").
    """


@hookspec
def guanxi_validate_interactions(ctx, items):
    """Check the plugin's part of interactions about to be recorded, before
    anything is stored.

    ``items`` is a list of validated item dicts (``kind``, ``occurred_at`` as
    an aware UTC datetime, ``customer_id`` unless a refund names only its
    purchase, ``payload``, ...), each of which
    the core would store. Return ``{position in items: [FieldError, ...]}``
    for the items the plugin refuses (an empty dict or None when all are
    fine). Refused items are reported per item (the import's line, the bulk
    mutation's index) and not stored; the others are. Answers of several
    plugins are merged. Do not write anything here.
    """


@hookspec
def guanxi_interactions_recorded(ctx, interactions):
    """React to interactions just recorded, inside the same transaction.

    ``ctx`` is an ``engine.context.TenantContext`` (tenant, actor, session,
    module settings); ``interactions`` a list of ``engine.services.interactions.
    RecordedInteraction`` (one item for a single record, many for bulk).
    Write through ``ctx.session``; raising aborts the whole recording, so
    refuse bad items earlier, in ``guanxi_validate_interactions``. Return
    value ignored.
    """


@hookspec
def guanxi_score(ctx, batch):
    """Compute and store batch scores for one tenant.

    ``batch`` is an ``engine.scoring.PurchaseBatch``: per-customer totals
    (``customer_totals``) or columnar arrays of every purchase, each read
    once, when first asked for (docs/plugin-hooks.md). The plugin replaces
    its previous results for the tenant in ``ctx.session`` (one
    transaction, so readers never see half a run) and returns an
    ``engine.scoring.ScoreReport``. Called only when the module is requested.
    """


@hookspec
def guanxi_warm_up():
    """Compile the plugin's numba kernels, or load them from numba's cache,
    so that no request pays for compilation. Called once per process before
    the API serves, and by ``guanxi warm-up`` (which ``make install`` runs to
    fill the cache). Return value ignored.
    """


@hookspec
def guanxi_jobs():
    """Return periodic jobs: a list of ``engine.jobs.Job`` (name, module,
    default interval, function taking a ``TenantContext``). Jobs must be safe
    to run twice.
    """


@hookspec
def guanxi_customer_erased(ctx, customer_id):
    """A customer is being erased: remove personal data the plugin stored
    about ``customer_id`` (same transaction). Return value ignored.

    Called on every installed plugin, whether or not the tenant has its
    module enabled (a module switched off keeps its rows): do not assume
    the module is on.
    """


@hookspec
def guanxi_customers_merged(ctx, kept_id, merged_id):
    """Two records of one person are being merged: move what the plugin
    stored about ``merged_id`` to ``kept_id`` (same transaction), combining
    where the kept customer already has its own (one membership, one score).
    The core has moved the interactions already; the merged customer is
    deleted afterwards. Return value ignored.

    Called on every installed plugin, whether or not the tenant has its
    module enabled. A row left in a plugin table with ``customer_id =
    merged_id`` makes the merge fail: a plugin with such a table implements
    this hook (docs/customers.md).
    """


@hookspec
def guanxi_export_columns(ctx):
    """Columns the module adds to customer exports (``guanxi export customers``,
    ``GET /export/customers``): an ``engine.services.export_columns.ExportColumns``
    or a list of them, each a SQL ``select()`` of the tenant's rows with a
    ``customer_id`` column (one row per customer) and the values labelled with
    their headers. The engine LEFT JOINs it into the export's one SELECT and
    formats the values in SQL. ``ctx`` is the exporting tenant's
    ``TenantContext`` (for its id and settings; its session is closed before
    the export runs). Called only on the plugins of the modules the tenant
    has enabled; the columns follow the core's, in plugin order.
    """


@hookspec
def guanxi_cli_commands():
    """Return ``typer.Typer`` apps to mount as ``guanxi <name> ...`` sub-commands:
    a list of ``(name, typer_app)`` pairs (e.g. ``("loyalty", loyalty_app)``).
    Commands take ``--tenant`` themselves. The CLI starts without loading
    plugins, so declare each group as a ``guanxi.cli`` entry point too
    (``nps = "guanxi_nps.cli:nps_app"``) to have it listed by ``guanxi --help``;
    this hook is called, after loading every plugin, only for a group nobody
    declared (engine/cli_discovery.py).
    """


@hookspec
def guanxi_demo_data(ctx, seed):
    """Add the module's share of the demo tenant (``guanxi demo``, ``make demo``).

    Called once per enabled module, in dependency order (a module after those
    it depends on), after the demo's customers and two years of interactions
    are recorded, the periodic jobs have caught up and RFM and CLV have scored.
    ``ctx`` is the demo tenant's ``TenantContext`` (one transaction per
    module); ``seed`` an int to seed random choices with, so two demos are
    alike. Return a short note of what was added (a str, shown by the CLI)
    or None.
    """


@hookspec
def guanxi_domain_events(ctx, events):
    """Domain events happened in the tenant (``engine.events.emit``), inside
    the transaction that made the change.

    ``events`` is a list of ``engine.events.DomainEvent`` (id, type,
    customer_id, data, occurred_at). A plugin that delivers them elsewhere
    stores them through ``ctx.session`` (an outbox), so an event exists
    exactly when its change does; send nothing over the network here.
    Called only on plugins enabled for the tenant (global plugins always).
    Return value ignored.
    """


@hookspec
def guanxi_http_routes(gx):
    """Return starlette routes (``Route``, ``Mount``) the app serves beside
    /graphql, for what GraphQL cannot carry: a public survey page answered
    with a token, a provider's inbound webhook. ``gx`` is the process's
    ``engine.runtime.Guanxi``.

    Every path must start with ``/<module name>/`` (or the global plugin's
    name); another path fails at start. Routes are not tenant-filtered: the
    handler finds the tenant (from a token or a key), checks the module is
    enabled for it and answers bad input with a 4xx JSON error, never a 500.
    Rate-limit unauthenticated writes (``request.app.state.rate_limits``).
    """
