"""What a run would do, decided without the engine: which tables a target names, in run
order, what each is built from, and the rules and settings their content depends on.

`pipeline` runs the jobs; this module names their tables only, so a run that turns out to
have nothing to do (`lakehouse.app.up_to_date`) never imports a job or starts the engine.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from bronze.tables import LANDING_TABLES
from gold import tables as gold
from lakehouse.app.tables import TABLES
from lakehouse.core.config import Config, ConfigError
from lakehouse.core.errors import UsageError
from lakehouse.core.rules import Action, Check, Rule, RulesError, check_rules_dir, load_rules
from lakehouse.core.secrets import salt_fingerprint
from silver import tables as silver

# Bump when a rule that shapes silver or gold changes: the next run then rebuilds them in full.
# 2: emails are matched trimmed and lower-cased.
# 3: reading ids hash doubles as both engines write them (`silver.transforms.double_text`), and
#    bronze reads the same lines on both engines (issue 20): existing tables are rebuilt once.
# 4: gold.machine_learning_curated's record_id digests customer_key too (a new salt gives new
#    ids, so a rebuild replaces every row), and the salt enters digests as its fingerprint;
#    emails are matched in their canonical form (`lakehouse.core.identity.canonical_email`:
#    invisible characters removed, NFKC's ASCII forms; no canonical form, no person).
RULES_VERSION = 4

# Each layer's tables in run order (bronze: one ingesting job per source).
LAYER_TABLES: dict[str, tuple[str, ...]] = {
    "bronze": tuple(table.qualified_name for table in LANDING_TABLES.values()),
    "silver": tuple(silver.BUILT_FROM),
    "gold": tuple(gold.BUILT_FROM),
}
BUILT_FROM: dict[str, tuple[str, ...]] = {**silver.BUILT_FROM, **gold.BUILT_FROM}
RUN_ORDER = tuple(name for names in LAYER_TABLES.values() for name in names)


def select_tables(target: str | None = None) -> list[str]:
    """The tables a target names, in run order.

    A target is `all`, a layer (`silver`) or a table (`silver.customer_trusted`); `+` before
    it adds everything it is built from, `+` after it everything built from it (as in dbt):
    `+gold.machine_learning_curated`, `silver.customer_trusted+`.
    """
    if target is None or target == "all":
        return list(RUN_ORDER)
    name = target.removeprefix("+").removesuffix("+")
    chosen = set(LAYER_TABLES.get(name, ())) or ({name} & set(RUN_ORDER))
    if not chosen:
        names = ", ".join(["all", *LAYER_TABLES, *RUN_ORDER])
        raise ConfigError(
            f"nothing to run named {name!r}: choose one of {names} "
            "(+ before a name adds what it is built from, + after it what is built from it)"
        )
    if target.startswith("+"):
        chosen |= upstream_of(chosen)
    if target.endswith("+") and len(target) > 1:
        chosen |= downstream_of(chosen)
    return [table for table in RUN_ORDER if table in chosen]


def upstream_of(tables: set[str]) -> set[str]:
    """Every table the given tables are built from, directly or not."""
    found: set[str] = set()
    todo = set(tables)
    while todo:
        todo = {parent for table in todo for parent in BUILT_FROM.get(table, ())} - found
        found |= todo
    return found


def downstream_of(tables: set[str]) -> set[str]:
    """Every table built from the given tables, directly or not."""
    return {table for table in RUN_ORDER if upstream_of({table}) & tables}


def full_refresh_tables(target: str | None) -> set[str]:
    """The silver and gold tables `--full-refresh [target]` rebuilds from bronze."""
    if target is None:
        return set()
    chosen = set(select_tables(target)) - set(LAYER_TABLES["bronze"])
    if not chosen:
        raise ConfigError(
            f"--full-refresh {target}: bronze keeps every landed line and is never rebuilt; "
            "name silver or gold tables, or give no name to rebuild them all"
        )
    return chosen


def check_rekey(target: str | None, full_refresh: str | None, *, rekey: bool) -> None:
    """A re-key rebuilds every table keyed by the salt in one run: it takes no narrower target
    (a table left out would keep the old pseudonyms until some later run rebuilt it)."""
    if rekey and (target not in (None, "all") or full_refresh not in (None, "all")):
        raise UsageError(
            "--rekey rebuilds every silver and gold table with the new salt in one run: give "
            "it no target and no --full-refresh target"
        )


def rules_digest(config: Config, rules: Mapping[str, tuple[Rule, ...]] | None = None) -> str:
    """A digest of the rules and settings silver and gold content depends on: a change
    rebuilds them in full. The salt enters as its fingerprint, so every table keyed by it is
    rebuilt when it changes. Of the data-quality rules only `drop` rules shape content:
    relaxing one brings its rows back."""
    privacy = config.privacy
    dropping = sorted(
        repr(rule)
        for table_rules in (rules or {}).values()
        for rule in table_rules
        if rule.action == Action.drop
    )
    salt = salt_fingerprint(privacy.pseudonym_salt)
    settings = f"{RULES_VERSION}|{privacy.consent_cutoff}|{salt}|{dropping}"
    return hashlib.sha256(settings.encode()).hexdigest()[:16]


def quality_rules(config: Config) -> dict[str, tuple[Rule, ...]]:
    """Every table's data-quality rules; a rules file that cannot be used stops here, before
    anything is written. A relationship must point upstream: a rule checks rows against a
    table the same run has already brought up to date."""
    known = {table.qualified_name: table for table in TABLES}
    check_rules_dir(config.quality.rules_dir, known)
    rules = {
        name: found
        for name, table in known.items()
        if (found := load_rules(table, known, config.quality.rules_dir))
    }
    for name, table_rules in rules.items():
        upstream = upstream_of({name})
        for rule in table_rules:
            if rule.check == Check.relationship and rule.to not in upstream:
                raise RulesError(
                    f"rule {rule.name} of {name}: a relationship must point to a table {name} "
                    f"is built from ({', '.join(sorted(upstream)) or 'none'}), not {rule.to}"
                )
    return rules
