#!/usr/bin/env bash
# Hand-run smoke test of the test/demo Solr (not part of pytest):
# install, then for standalone and cloud: start, post 3 documents, search with
# highlighting and facets, stop with SIGTERM; check the exit status, that the
# process is gone, and print the timings.
#
#   solr/smoke-test.sh [standalone] [cloud]     (default: both)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
modes=("$@")
[[ ${#modes[@]} -gt 0 ]] || modes=(standalone cloud)

now() { date +%s.%N; }
since() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$(now)"; }
json_get() { python3 -c "import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2], {}, {'d': d}))" "$1" "$2"; }

t=$(now)
"$HERE/install.sh" >/dev/null
echo "install: $(since "$t") s"

DOCS='[
 {"id":"1","doc_id":1,"title":"Invoice March 2024","content":"Thank you for your order. The invoice total is 120 EUR.",
  "correspondent":"ACME Corp","document_type":"Invoice","tags":["Finance","Tax 2024"],"owner":"alice",
  "view_users":["alice","bob"],"view_groups":["family"],"asn":1001,"created":"2024-03-15T00:00:00Z",
  "added":"2024-03-16T10:00:00Z","modified":"2024-03-16T10:00:00Z","year":2024,"path":"ACME Corp/2024/a.yml",
  "checksum":["aaa","bbb"],"original_sha256":"aaa","archive_sha256":"bbb","notes":["paid by card"]},
 {"id":"2","doc_id":2,"title":"Steuerbescheid 2023","content":"Der Steuerbescheid über die Einkommensteuer. Müller Straße 5.",
  "correspondent":"Finanzamt München","document_type":"Bescheid","tags":["Steuern"],"owner":"bob",
  "view_users":["bob"],"created":"2024-05-02T00:00:00Z","added":"2024-05-03T10:00:00Z",
  "modified":"2024-05-03T10:00:00Z","year":2024,"path":"Finanzamt/2024/b.yml","checksum":["ccc"]},
 {"id":"3","doc_id":3,"title":"Apple receipt","content":"Receipt for an invoice-free purchase of a charger.",
  "correspondent":"Apple","document_type":"Receipt","tags":["Finance"],"owner":"alice","view_users":["alice"],
  "created":"2023-11-20T00:00:00Z","added":"2023-11-21T10:00:00Z","modified":"2023-11-21T10:00:00Z",
  "year":2023,"path":"Apple/2023/c.yml","checksum":["ddd"]}
]'

for mode in "${modes[@]}"; do
  base="$(mktemp -d "${TMPDIR:-/tmp}/paperfs-smoke.XXXXXX")"
  rmdir "$base"
  out="$(mktemp)"
  t=$(now)
  "$HERE/run.sh" "$mode" --base-dir "$base" >"$out" 2>"$base.stderr" </dev/null &
  pid=$!
  until grep -q '^PAPERFS_SOLR_' "$out"; do
    kill -0 "$pid" 2>/dev/null || { echo "$mode: launcher died:"; cat "$out" "$base.stderr"; exit 1; }
    sleep 0.1
  done
  line="$(grep '^PAPERFS_SOLR_' "$out")"
  [[ $line == PAPERFS_SOLR_READY* ]] || { echo "$mode: $line"; kill "$pid"; exit 1; }
  echo "$mode: ready in $(since "$t") s: ${line#PAPERFS_SOLR_READY }"
  info="${line#PAPERFS_SOLR_READY }"
  url="$(json_get "$info" "d['urls'][-1]")"
  coll="$(json_get "$info" "d['collection']")"

  curl -fsS -H 'Content-Type: application/json' "$url/$coll/update?commitWithin=500" --data-binary "$DOCS" >/dev/null
  sleep 1.5
  rsp="$(curl -fsS "$url/$coll/select" --data-urlencode 'q=invoice' \
           --data-urlencode 'fq=owner:alice OR view_users:alice OR view_groups:family' \
           -d hl=true -d facet=true -d facet.field=tags -d facet.field=year -d fl=id,title \
           -d 'sort=title_sort asc' -d wt=json -d indent=false)"
  echo "$mode: hits $(json_get "$rsp" "[x['id'] for x in d['response']['docs']]")," \
       "highlight $(json_get "$rsp" "d['highlighting']['1']['content']")," \
       "facets $(json_get "$rsp" "d['facet_counts']['facet_fields']")"
  [[ "$(json_get "$rsp" "d['response']['numFound']")" == 2 ]] || { echo "$mode: expected 2 hits"; kill "$pid"; exit 1; }
  echo "$mode: schema $(json_get "$(curl -fsS "$url/$coll/schema/name?wt=json")" "d['name']")"

  t=$(now)
  kill -TERM "$pid"
  status=0
  wait "$pid" || status=$?
  echo "$mode: stopped in $(since "$t") s, exit status $status"
  [[ $status == 0 ]] || exit 1
  if pgrep -f "base-dir $base" >/dev/null; then echo "$mode: processes left behind!"; exit 1; fi
  rm -rf "$base" "$base.stderr" "$out"
done
echo "smoke test passed"
