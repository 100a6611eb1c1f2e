#!/usr/bin/env bash
# Start the paperfs test/demo Solr (a real Apache Solr 9 in one JVM).
#
#   solr/run.sh [standalone|cloud] [launcher options]
#
#   solr/run.sh                         standalone node, core "paperfs", any free port
#   solr/run.sh standalone --port 8983  the usual Solr port
#   solr/run.sh cloud                   2 nodes + embedded ZooKeeper, collection 2 shards x 2 replicas
#   solr/run.sh cloud --nodes 3 --shards 3 --replicas 2
#
# Installs Solr first if needed (solr/install.sh, cached), compiles the launcher
# once per version of solr/Launcher.java, then runs it. Defaults added unless given:
#   --configset <repo>/config/solr/paperfs
#   --base-dir  a new temporary folder, deleted again on exit
#               (with an explicit --base-dir it is kept, and this script execs
#                java, so the PID is Java's and signals go straight to it)
# Other options (see solr/Launcher.java): --collection NAME, --port N, --nodes N,
# --shards N, --replicas N, --property K=V (e.g. paperfs.language=de), --no-collection,
# --exit-on-eof (stop when stdin closes), --watch-pid PID (stop when PID exits).
#
# Prints one line "PAPERFS_SOLR_READY {json}" to stdout when ready (URLs, ZK
# address, collection), logs to stderr (WARN+) and <base-dir>/logs/solr.log.
# Stop with Ctrl-C or SIGTERM (exit status 0). In cloud mode, lines on stdin
# "stop-node N" / "start-node N" / "status" / "shutdown" control the nodes.
#
# Environment:
#   PAPERFS_SOLR_CACHE      where Solr is installed (see solr/install.sh)
#   PAPERFS_SOLR_JAVA_OPTS  JVM options (default: -Xmx512m standalone, -Xmx1g cloud)
#   JAVA                    java binary (default: java on PATH)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
JAVA="${JAVA:-java}"

mode=standalone
if [[ $# -gt 0 && $1 != -* ]]; then
  mode="$1"
  shift
fi
case "$mode" in
  standalone|cloud) ;;
  -h|--help|help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
  *) echo "run.sh: mode must be 'standalone' or 'cloud', not '$mode' (try --help)" >&2; exit 2 ;;
esac

have_configset=0 have_base=0
for arg in "$@"; do
  case "$arg" in
    --configset|--configset=*) have_configset=1 ;;
    --base-dir|--base-dir=*) have_base=1 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
  esac
done

CACHE="$("$HERE/install.sh" | tail -n 1)"
[[ -d $CACHE/lib ]] || { echo "run.sh: install.sh did not produce $CACHE/lib" >&2; exit 3; }

# Compile the launcher once per content (saves ~3 s per start over source mode).
sum="$(sha256sum "$HERE/Launcher.java" | cut -c1-16)"
CLASSES="$CACHE/launcher/$sum"
if [[ ! -f $CLASSES/Launcher.class ]]; then
  mkdir -p "$CACHE/launcher"
  tmp="$(mktemp -d "$CACHE/launcher/.build.XXXXXX")"
  if ! javac -nowarn -d "$tmp" -cp "$CACHE/lib/*" "$HERE/Launcher.java" >&2; then
    rm -rf "$tmp"
    echo "run.sh: compiling solr/Launcher.java failed (javac from a JDK 11+ is needed)" >&2
    exit 3
  fi
  if [[ -f $CLASSES/Launcher.class ]]; then rm -rf "$tmp"; else mv -T "$tmp" "$CLASSES" 2>/dev/null || rm -rf "$tmp"; fi
fi

if [[ -z ${PAPERFS_SOLR_JAVA_OPTS:-} ]]; then
  if [[ $mode == cloud ]]; then heap=1g; else heap=512m; fi
  PAPERFS_SOLR_JAVA_OPTS="-Xms128m -Xmx$heap -XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError"
fi
# shellcheck disable=SC2206
java_cmd=("$JAVA" $PAPERFS_SOLR_JAVA_OPTS -Djava.awt.headless=true -Dfile.encoding=UTF-8
          -Dpaperfs.solr.dir="$HERE"
          -cp "$CLASSES:$CACHE/lib/*" Launcher "$mode")
[[ $have_configset == 1 ]] || java_cmd+=(--configset "$ROOT/config/solr/paperfs")

if [[ $have_base == 1 ]]; then
  exec "${java_cmd[@]}" "$@"
fi

# No --base-dir: use a temporary one, forward signals, clean up afterwards.
base="$(mktemp -d "${TMPDIR:-/tmp}/paperfs-solr.XXXXXX")"
exec 3<&0
"${java_cmd[@]}" --base-dir "$base" "$@" <&3 &
pid=$!
# A background job of a non-interactive shell ignores SIGINT, so Ctrl-C is
# passed on as SIGTERM (same clean shutdown).
forward() { kill -TERM "$pid" 2>/dev/null || true; }
trap forward TERM INT HUP
status=0
while :; do
  wait "$pid" && status=0 || status=$?
  # wait returns >128 when a trapped signal interrupts it; keep waiting for java
  kill -0 "$pid" 2>/dev/null || break
done
rm -rf "$base"
exit "$status"
