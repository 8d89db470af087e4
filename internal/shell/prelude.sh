set -euo pipefail
# Runs under bash 3.2 (macOS /bin/bash) and later: no associative arrays, no ${x,,},
# no mapfile, and no "${empty[@]}" under set -u.

lamina_log() { printf 'lamina: %s\n' "$*" >&2; }
lamina_die() { printf 'lamina: error: %s\n' "$*" >&2; exit 1; }

# lamina_need COMMAND HOW: stop with an install hint when COMMAND is not on PATH.
lamina_need() {
  if ! command -v "$1" >/dev/null 2>&1; then
    printf 'lamina: error: %s not found on PATH; install it with: %s\n' "$1" "$2" >&2
    exit 127
  fi
}
