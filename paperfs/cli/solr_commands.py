"""CLI commands for the Solr index backend: ``paperfs solr init`` and ``paperfs solr status``
(registered on import)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from paperfs.cli.app import cli, runtime_of
from paperfs.errors import UsageError
from paperfs.runtime import Runtime


def _solr_runtime(ctx: click.Context) -> Runtime:
    runtime = runtime_of(ctx)
    config = runtime.config
    if not (config.index.url or config.index.zk_hosts):
        raise UsageError("no Solr configured: set index.url (standalone Solr) or "
                         "index.zk_hosts (SolrCloud), and index.backend: solr "
                         "(docs/deployment.md)")
    return runtime


@cli.group(name="solr")
def solr() -> None:
    """The Apache Solr index: create or update the collection, check it."""


@solr.command()
@click.option("--configset", type=click.Path(file_okay=False, path_type=Path),
              help="The configset folder. [default: config/solr/paperfs of this paperfs]")
@click.option("--configset-name", default="paperfs", show_default=True,
              help="Its name in Solr (an existing collection keeps the name it uses).")
@click.option("--shards", type=click.IntRange(1), default=1, show_default=True,
              help="SolrCloud: shards of a new collection.")
@click.option("--replicas", type=click.IntRange(1), default=1, show_default=True,
              help="SolrCloud: replicas of each shard of a new collection.")
@click.option("--language", type=click.Choice(["general", "en", "de"]),
              help="Text analysis of a new core/collection (paperfs.language). "
                   "[default: general]")
@click.option("--solr-home", type=click.Path(file_okay=False, path_type=Path),
              help="Standalone Solr on this machine: its Solr home; the configset is "
                   "copied to <solr-home>/configsets/ first.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def init(ctx: click.Context, configset: Path | None, configset_name: str, shards: int,
         replicas: int, language: str | None, solr_home: Path | None, as_json: bool) -> None:
    """Create the core/collection from the configset, or update an existing one.

    \b
    SolrCloud: uploads the configset to ZooKeeper, then creates the
    collection (Collections API) or reloads it. Standalone Solr: creates the
    core from <solr home>/configsets/NAME (CoreAdmin) or reloads it.
    Then checks the schema version. After an update of the schema, run
    'paperfs reindex'.
    """
    from paperfs.index.solr import SolrAdmin, SolrIndex, default_configset

    config = _solr_runtime(ctx).config
    index = SolrIndex.from_config(config.index, check_schema=False)
    try:
        result = SolrAdmin(index).init(configset or default_configset(),
                                       configset_name=configset_name, shards=shards,
                                       replicas=replicas, language=language,
                                       solr_home=solr_home)
    finally:
        index.close()
    if as_json:
        click.echo(json.dumps(result, indent=1))
        return
    what = result.get("core") or result.get("collection")
    click.echo(f"{result['mode']} {'core' if 'core' in result else 'collection'} '{what}' "
               f"{result['action']}; schema {result['schema']}")
    if result["action"] == "reloaded":
        click.echo("if the schema changed, run 'paperfs reindex' to index every document again")
    else:
        click.echo("now run 'paperfs reindex' to fill it from archive/")


@solr.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Reachable? Schema version, documents in Solr and locally, journal backlog.

    Exit status 1 when Solr is unreachable or not usable.
    """
    runtime = _solr_runtime(ctx)
    info: dict[str, Any] = runtime.index_status(probe=True)
    info["backend"] = runtime.config.index.backend
    if runtime.root.index_db.exists():
        catalog = runtime.open_catalog()
        try:
            info["catalog_documents"] = catalog.count()
        finally:
            catalog.close()
    if info.get("reachable") and "catalog_documents" in info:
        info["in_step"] = (info["solr_documents"] == info["catalog_documents"]
                           and info["backlog"] == 0)
    if as_json:
        click.echo(json.dumps(info, indent=1))
    else:
        click.echo(f"index:      {info['where']} (index.backend: {info['backend']})")
        if info.get("reachable"):
            click.echo(f"solr:       reachable, schema {info['schema']}, "
                       f"{info['solr_documents']:,} documents")
        else:
            click.echo(f"solr:       NOT usable: {info.get('error')}")
        if "catalog_documents" in info:
            click.echo(f"embedded:   {info['catalog_documents']:,} documents")
        click.echo(f"backlog:    {info['backlog']:,} update(s) journaled, not yet in Solr")
        if info.get("in_step") is False:
            click.echo("            counts differ: the backlog is still being sent, or run "
                       "'paperfs reindex' to bring Solr in step")
    if not info.get("reachable"):
        ctx.exit(1)
