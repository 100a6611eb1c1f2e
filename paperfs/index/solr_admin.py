"""Administering Solr: the configset, and creating or updating the core/collection.

``paperfs solr init``: the collection is made from the configset in
config/solr/paperfs; its schema name carries the version (``paperfs-1``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from pathlib import Path
from typing import Any

import requests

from paperfs.errors import UsageError
from paperfs.index.solr_client import (SolrConnection, SolrIndexError, SolrSetupError,
                                       SolrUnavailableError, kazoo_log)

log = logging.getLogger(__name__)


def default_configset() -> Path:
    """config/solr/paperfs of this paperfs source tree."""
    return Path(__file__).resolve().parents[2] / "config" / "solr" / "paperfs"


def _conf_dir(configset: Path) -> Path:
    conf = configset / "conf"
    if (conf / "solrconfig.xml").is_file():
        return conf
    if (configset / "solrconfig.xml").is_file():
        return configset
    raise UsageError(f"{configset} is not a Solr configset (no solrconfig.xml in it or in "
                     "its conf/); give the folder config/solr/paperfs of the paperfs source")


def configset_schema_name(configset: Path) -> str:
    m = re.search(r'<schema\s[^>]*name="([^"]+)"',
                  (_conf_dir(configset) / "schema.xml").read_text("utf-8"))
    return m.group(1) if m else ""


class SolrAdmin:
    """Creates or updates the core/collection from the configset (``paperfs solr init``).

    Standalone Solr has no API to upload a configset: a new core is created
    with CoreAdmin ``CREATE&configSet=NAME`` from ``<solr home>/configsets/NAME``
    (``solr_home`` copies the configset there first, when Solr runs on this
    machine), an existing one is reloaded. SolrCloud: the configset is
    written to ZooKeeper (``/configs/NAME``), then the collection is created
    with the Collections API, or reloaded when it exists.
    """

    def __init__(self, index: SolrConnection) -> None:
        self.index = index

    def _http(self, url: str, params: dict[str, Any], what: str) -> dict[str, Any]:
        try:
            resp = requests.get(url, params={**params, "wt": "json"},
                                timeout=max(self.index.timeout, 120.0))
        except requests.RequestException as exc:
            raise SolrUnavailableError(f"{url} is unreachable ({what}): {exc}") from None
        try:
            data = resp.json()
        except ValueError:
            data = {}
        if resp.status_code != 200 or data.get("error") or data.get("failure"):
            msg = ((data.get("error") or {}).get("msg") or data.get("failure")
                   or resp.text[:300])
            if resp.status_code == 404:
                raise SolrSetupError(f"{url}: not found (HTTP 404) — is index.url the Solr "
                                     f"base URL, ending in /solr? ({what})")
            raise SolrIndexError(f"{what} failed (HTTP {resp.status_code}): {msg}")
        return data

    def init(self, configset: Path, *, configset_name: str = "paperfs", shards: int = 1,
             replicas: int = 1, language: str | None = None,
             solr_home: Path | None = None) -> dict[str, Any]:
        conf = _conf_dir(configset)
        wanted = configset_schema_name(configset)
        if self.index.cloud:
            out = self._init_cloud(conf, configset_name, shards, replicas, language)
        else:
            out = self._init_standalone(conf, configset_name, language, solr_home)
        self.index.close()
        self.index.check_schema = True
        out["schema"] = self.index.ping()["schema"]
        out["configset_schema"] = wanted
        return out

    # ---- standalone

    def _cores_url(self) -> str:
        return f"{self.index.url}/admin/cores"

    def core_status(self) -> dict[str, Any] | None:
        data = self._http(self._cores_url(), {"action": "STATUS",
                                              "core": self.index.collection},
                          "asking for the core's status")
        status = (data.get("status") or {}).get(self.index.collection) or {}
        return status or None

    def _init_standalone(self, conf: Path, name: str, language: str | None,
                         solr_home: Path | None) -> dict[str, Any]:
        core = self.index.collection
        status = self.core_status()
        if solr_home is not None:
            target = solr_home / "configsets" / name
            if status and (Path(status.get("instanceDir", "")) / "core.properties").is_file():
                props = (Path(status["instanceDir"]) / "core.properties").read_text("utf-8")
                m = re.search(r"^configSet\s*=\s*(.+)$", props, re.M)
                if m:
                    target = solr_home / "configsets" / m.group(1).strip()
            _copy_conf(conf, target / "conf")
        if status:
            if language:
                log.warning("the core exists: its language is kept (paperfs.language is set "
                            "when a core is created)")
            self._http(self._cores_url(), {"action": "RELOAD", "core": core},
                       f"reloading core '{core}'")
            return {"mode": "standalone", "core": core, "action": "reloaded"}
        params: dict[str, Any] = {"action": "CREATE", "name": core, "configSet": name}
        if language:
            params["property.paperfs.language"] = language
        try:
            self._http(self._cores_url(), params, f"creating core '{core}'")
        except SolrIndexError as exc:
            raise SolrSetupError(
                f"{exc}. Standalone Solr creates a core from <solr home>/configsets/{name}: "
                f"copy config/solr/paperfs there (or run this on the Solr machine with "
                "--solr-home DIR), then run 'paperfs solr init' again") from None
        return {"mode": "standalone", "core": core, "action": "created"}

    # ---- cloud

    def _zk(self) -> Any:
        from kazoo.client import KazooClient
        client = KazooClient(hosts=self.index.zk_hosts, timeout=self.index.timeout,
                             logger=kazoo_log)
        try:
            client.start(timeout=self.index.timeout)
        except Exception as exc:
            with contextlib.suppress(Exception):
                client.stop()
                client.close()
            raise SolrUnavailableError(f"cannot reach ZooKeeper at {self.index.zk_hosts} "
                                       f"({type(exc).__name__}: {exc})") from None
        return client

    def _node_url(self, zk: Any) -> str:
        nodes = zk.get_children("/live_nodes")
        if not nodes:
            raise SolrUnavailableError(f"no live Solr node registered in ZooKeeper "
                                       f"{self.index.zk_hosts}")
        scheme = "http"
        if zk.exists("/clusterprops.json"):
            with contextlib.suppress(ValueError):
                props = json.loads(zk.get("/clusterprops.json")[0] or b"{}")
                scheme = props.get("urlScheme", "http")
        host, _, context = sorted(nodes)[0].partition("_")
        return f"{scheme}://{host}/{context.replace('%2F', '/')}"

    def _collection_state(self, zk: Any) -> dict[str, Any] | None:
        path = f"/collections/{self.index.collection}/state.json"
        if not zk.exists(path):
            return None
        data = json.loads(zk.get(path)[0] or b"{}")
        return data.get(self.index.collection)

    def _init_cloud(self, conf: Path, name: str, shards: int, replicas: int,
                    language: str | None) -> dict[str, Any]:
        zk = self._zk()
        try:
            state = self._collection_state(zk)
            if state is not None:
                name = state.get("configName") or name
            upload_conf(zk, conf, f"/configs/{name}")
            base = self._node_url(zk)
        finally:
            zk.stop()
            zk.close()
        collections = f"{base}/admin/collections"
        coll = self.index.collection
        if state is not None:
            if language:
                log.warning("the collection exists: its language is kept (paperfs.language "
                            "is set when a collection is created)")
            self._http(collections, {"action": "RELOAD", "name": coll},
                       f"reloading collection '{coll}'")
            return {"mode": "cloud", "collection": coll, "configset": name,
                    "action": "reloaded"}
        params: dict[str, Any] = {"action": "CREATE", "name": coll,
                                  "collection.configName": name, "numShards": shards,
                                  "replicationFactor": replicas, "waitForFinalState": "true"}
        if language:
            params["property.paperfs.language"] = language
        self._http(collections, params, f"creating collection '{coll}'")
        return {"mode": "cloud", "collection": coll, "configset": name, "action": "created",
                "shards": shards, "replicas": replicas}


def _copy_conf(conf: Path, target: Path) -> None:
    """Replace ``target`` (a configset's conf/) with a copy of ``conf``."""
    import shutil
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".paperfs-new")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(conf, tmp)
    old = target.with_name(target.name + ".paperfs-old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    tmp.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def upload_conf(zk: Any, conf: Path, root: str) -> None:
    """Write the configset files to ZooKeeper under ``root`` (others there are removed)."""
    files = {p.relative_to(conf).as_posix(): p.read_bytes()
             for p in sorted(conf.rglob("*")) if p.is_file()}
    zk.ensure_path(root)
    existing: set[str] = set()

    def walk(path: str, rel: str) -> None:
        for child in zk.get_children(path):
            child_path = f"{path}/{child}"
            child_rel = f"{rel}{child}"
            if zk.get_children(child_path):
                walk(child_path, child_rel + "/")
            existing.add(child_rel)
    walk(root, "")
    for rel, data in files.items():
        path = f"{root}/{rel}"
        if zk.exists(path):
            zk.set(path, data)
        else:
            zk.create(path, data, makepath=True)
    for rel in sorted(existing - set(files), key=len, reverse=True):
        if not any(f.startswith(rel + "/") for f in files):
            zk.delete(f"{root}/{rel}", recursive=True)
