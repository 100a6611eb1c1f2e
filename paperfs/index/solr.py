"""Apache Solr index backend (Solr 9, standalone core or SolrCloud collection).

``SolrIndex`` answers the ``Index`` interface from a Solr core (``index.url``)
or SolrCloud collection (``index.zk_hosts``); with ``index.backend: solr``
the writer and the readers reach it through ``MirroredIndex``
(paperfs/index/mirrored.py), which keeps the embedded catalog beside it. One
part per responsibility, each in its own module:

* solr_client.py: the pysolr clients, the connection, its schema check,
  errors in one line (``SolrUnavailableError``, ``SolrSetupError``);
* solr_documents.py: what Solr holds for a document, written and read back,
  and the writer's lookups answered by Solr;
* solr_writes.py: updates with the commit policy, rebuilds in bulk;
* solr_search.py: ranked search, listings, single documents, more like this;
* solr_facets.py: facets and suggestions;
* solr_admin.py: the configset and ``paperfs solr init``;
* solr_query.py: the query language compiled to ``q`` + ``fq``.

Importing this module imports pysolr; ``paperfs.index.factory`` imports it
only when the configuration names Solr.
"""

from __future__ import annotations

from paperfs.index.base import Index
from paperfs.index.solr_admin import SolrAdmin, default_configset
from paperfs.index.solr_client import (SCHEMA_NAME, SCHEMA_VERSION, SolrIndexError,
                                       SolrSetupError, SolrUnavailableError)
from paperfs.index.solr_documents import SolrLookups, solr_document
from paperfs.index.solr_facets import SolrFacets
from paperfs.index.solr_search import SolrSearch
from paperfs.index.solr_writes import SolrWrites


class SolrIndex(SolrWrites, SolrLookups, SolrSearch, SolrFacets, Index):
    """An Index on a Solr core (``url``) or SolrCloud collection (``zk_hosts``).

    Nothing is contacted until the first call; then the schema is checked
    once. ``timeout`` bounds every request; in SolrCloud a request that
    fails on one replica is retried on others for up to ``timeout``.
    """


__all__ = ["SolrIndex", "SolrAdmin", "default_configset", "SolrIndexError",
           "SolrUnavailableError", "SolrSetupError", "SCHEMA_NAME", "SCHEMA_VERSION",
           "solr_document"]
