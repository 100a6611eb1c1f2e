#!/usr/bin/env bash
# Install the paperfs test/demo Solr: fetch Apache Solr (org.apache.solr:
# solr-test-framework and its dependencies) from Maven Central into a cache
# folder as a flat lib/ of jars for solr/Launcher.java.
#
# Idempotent: if the cache already holds a complete lib/ (marker file), it does
# nothing. Safe to run concurrently (flock on the cache).
#
#   solr/install.sh            install if needed; prints the cache folder
#   solr/install.sh --print    print the cache folder only (no install)
#   solr/install.sh --force    reinstall
#
# Environment:
#   PAPERFS_SOLR_CACHE   the cache folder
#                        (default ${XDG_CACHE_HOME:-$HOME/.cache}/paperfs/solr-<version>)
#   PAPERFS_SOLR_M2      Maven local repository to use
#                        (default <cache>/m2, so nothing lands in ~/.m2;
#                         set to ~/.m2/repository to share downloads)
#
# The last line on stdout is always the cache folder (scripts may capture it).
set -euo pipefail

SOLR_VERSION=9.10.1          # keep in step with solr.version in solr/pom.xml
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

CACHE="${PAPERFS_SOLR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/paperfs/solr-$SOLR_VERSION}"
MARKER="$CACHE/lib/.paperfs-complete"

mode=install
case "${1:-}" in
  --print) mode=print ;;
  --force) mode=force ;;
  "") ;;
  -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
  *) echo "install.sh: unknown option: $1 (try --help)" >&2; exit 2 ;;
esac

if [[ $mode == print ]]; then
  echo "$CACHE"
  exit 0
fi

# What the marker records: a change to any of these means "reinstall".
fingerprint() {
  echo "solr=$SOLR_VERSION"
  sha256sum "$HERE/pom.xml" | cut -d' ' -f1
}

complete() {
  [[ -f $MARKER ]] && [[ "$(cat "$MARKER")" == "$(fingerprint)" ]]
}

if [[ $mode == install ]] && complete; then
  echo "paperfs Solr $SOLR_VERSION already installed in $CACHE" >&2
  echo "$CACHE"
  exit 0
fi

missing=()
command -v java >/dev/null 2>&1 || missing+=("java (JDK 17+; Debian: apt-get install openjdk-17-jdk-headless)")
command -v mvn  >/dev/null 2>&1 || missing+=("mvn (Debian: apt-get install maven)")
if ((${#missing[@]})); then
  echo "install.sh: cannot install the paperfs test Solr; missing:" >&2
  printf '  - %s\n' "${missing[@]}" >&2
  exit 3
fi
java_major="$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')"
if [[ -z $java_major || ${java_major%%.*} -lt 11 ]]; then
  echo "install.sh: Java 11 or newer is needed (found: ${java_major:-unknown}); Solr 9 runs on Java 11+, 17 recommended" >&2
  exit 3
fi

mkdir -p "$CACHE"
exec 9>"$CACHE/.install.lock"
flock 9
if [[ $mode == install ]] && complete; then   # another process finished meanwhile
  echo "$CACHE"
  exit 0
fi

M2="${PAPERFS_SOLR_M2:-$CACHE/m2}"
echo "installing Apache Solr $SOLR_VERSION (solr-test-framework) from Maven Central into $CACHE ..." >&2
start=$(date +%s)
rm -rf "$CACHE/lib.tmp"
LOG="$CACHE/install.log"
if ! mvn -B -ntp -Dstyle.color=never -f "$HERE/pom.xml" \
      -Dmaven.repo.local="$M2" \
      -Dpaperfs.solr.cache="$CACHE" \
      dependency:copy-dependencies -DoutputDirectory="$CACHE/lib.tmp" >"$LOG" 2>&1; then
  grep -E 'ERROR|FAIL' "$LOG" | head -20 >&2 || true
  echo "install.sh: Maven failed to fetch Solr $SOLR_VERSION (is Maven Central reachable? proxy settings in ~/.m2/settings.xml); full log: $LOG" >&2
  exit 4
fi
if ! ls "$CACHE/lib.tmp"/solr-core-*.jar >/dev/null 2>&1; then
  echo "install.sh: Maven finished but $CACHE/lib.tmp has no solr-core jar" >&2
  exit 4
fi
rm -rf "$CACHE/lib" "$CACHE/target"
mv "$CACHE/lib.tmp" "$CACHE/lib"
fingerprint > "$MARKER.tmp" && mv "$MARKER.tmp" "$MARKER"
echo "installed $(ls "$CACHE/lib" | wc -l) jars ($(du -sh "$CACHE/lib" | cut -f1)) in $(( $(date +%s) - start ))s:" >&2
echo "  jars:            $CACHE/lib" >&2
echo "  maven repo:      $M2" >&2
echo "  maven log:       $LOG" >&2
echo "$CACHE"
