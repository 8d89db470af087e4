# A build cache for the tools the tests run, outside the clone, so that a second clone,
# the next CI run on the same machine or `make e2e` after `.ci/run` build nothing they
# already have. Sourced by build-tools.sh (and by its test with a recipe of its own).
#
# An entry is a directory $LAMINA_TOOL_CACHE/<tool>-<key>, where the key is the SHA-256
# of everything that decides the tool's files: the recipe (the text of its build
# function and of the helpers every recipe uses), what the recipe says it reads (its
# pins: go.mod and go.sum, a source archive's checksum, versions), and the toolchain (Go's
# version and the go env a build depends on). A changed pin, recipe or Go misses.
# An entry is written whole or not at all (built in a temporary directory, renamed into
# place with its manifest), and checked against its manifest every time it is used: an
# entry whose files changed or went missing is rebuilt, never used. Two builders of the
# same entry (make tools in the background and .ci/run) take turns on a lock: the
# second uses what the first built.
#
#   LAMINA_TOOL_CACHE     where the entries live (default ${XDG_CACHE_HOME:-$HOME/.cache}/lamina/tools)
#   LAMINA_TOOLS_REPORT   a file that gets one line per tool: name, hit or built, seconds, key

tool_cache=${LAMINA_TOOL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lamina/tools}

# toolchain_fingerprint: what of the toolchain decides a binary. -trimpath in GOFLAGS and
# CGO_ENABLED change the output; gcc builds the cgo parts.
toolchain_fingerprint() {
  go version
  go env GOOS GOARCH GOAMD64 CGO_ENABLED GOFLAGS GOEXPERIMENT
  if [ "$(go env CGO_ENABLED)" = 1 ]; then "$(go env CC)" --version 2>/dev/null | head -n 1; fi
}

# input_digest ITEM...: the SHA-256 of each item: of a file's content, or of the text of
# anything else (a version, a flag).
input_digest() {
  local item
  for item in "$@"; do
    if [ -f "$item" ]; then
      printf 'file %s %s\n' "${item##*/}" "$(sha256sum <"$item" | cut -d' ' -f1)"
    else
      printf 'value %s\n' "$item"
    fi
  done
}

# tool_key NAME RECIPE ITEM...: the entry's key (64 hex digits), from the recipe function's
# text, its inputs and the toolchain. The helpers named in $tool_cache_helpers count as
# part of every recipe.
tool_key() {
  local name=$1 recipe=$2
  shift 2
  {
    printf 'lamina tool cache 1\ntool %s\n' "$name"
    declare -f "$recipe" ${tool_cache_helpers:-}
    input_digest "$@"
    toolchain_fingerprint
  } | sha256sum | cut -d' ' -f1
}

# tool_entry_ok DIR: the entry is complete and every file is as it was written.
tool_entry_ok() {
  [ -f "$1/.manifest" ] && (cd "$1" && sha256sum --check --quiet --status .manifest)
}

# tool_install ENTRY OUT: every file of the entry into OUT, as a hard link where OUT is on
# the same file system, else as a copy.
tool_install() {
  local f
  mkdir -p "$2"
  for f in "$1"/*; do
    ln -f "$f" "$2/" 2>/dev/null || cp -f "$f" "$2/"
  done
}

# tool_report NAME HOW SECONDS KEY: one line for the run's summary.
tool_report() {
  printf 'tool %-28s %-5s %5ss  key %s\n' "$1" "$2" "$3" "${4:0:16}"
  if [ -n "${LAMINA_TOOLS_REPORT:-}" ]; then
    printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "${4:0:16}" >>"$LAMINA_TOOLS_REPORT"
  fi
}

# cached NAME RECIPE OUT ITEM...: the files of tool NAME in OUT, from the cache when an
# entry of the same key is there and intact, else built by `RECIPE DIR` (which writes
# them into DIR) and kept. The key is printed.
cached() {
  local name=$1 recipe=$2 out=$3
  shift 3
  local key entry begin=$SECONDS fd tmp
  key=$(tool_key "$name" "$recipe" "$@")
  entry=$tool_cache/$name-${key:0:16}
  mkdir -p "$tool_cache"
  exec {fd}>"$entry.lock"
  flock "$fd"
  if [ -d "$entry" ] && ! tool_entry_ok "$entry"; then
    printf 'tool %s: the cache entry %s is incomplete or changed; rebuilding it\n' "$name" "$entry" >&2
    rm -rf "$entry"
  fi
  if [ -d "$entry" ]; then
    touch "$entry"
    tool_install "$entry" "$out"
    flock -u "$fd"
    exec {fd}>&-
    tool_report "$name" hit "$((SECONDS - begin))" "$key"
    return
  fi
  tmp=$(mktemp -d "$tool_cache/.$name.XXXXXX")
  if ! "$recipe" "$tmp"; then
    rm -rf "$tmp"
    flock -u "$fd"
    exec {fd}>&-
    printf 'tool %s: its build failed\n' "$name" >&2
    return 1
  fi
  (cd "$tmp" && sha256sum -- * >.manifest)
  mv "$tmp" "$entry"
  chmod 755 "$entry"
  tool_install "$entry" "$out"
  flock -u "$fd"
  exec {fd}>&-
  tool_prune "$name"
  tool_report "$name" built "$((SECONDS - begin))" "$key"
}

# tool_prune NAME: keep the three entries of NAME used last (a clone at another commit
# may still want the one before), and no entry another builder holds; and remove what
# builds that died left behind a day ago.
tool_prune() {
  local e fd
  for e in $(cd "$tool_cache" && ls -1dt -- "$1"-???????????????? 2>/dev/null | tail -n +4); do
    exec {fd}>"$tool_cache/$e.lock"
    if flock -n "$fd"; then rm -rf "${tool_cache:?}/$e" "$tool_cache/$e.lock"; fi
    exec {fd}>&-
  done
  find "$tool_cache" -maxdepth 1 -name ".$1.*" -mmin +1440 -exec rm -rf {} + 2>/dev/null || true
}
