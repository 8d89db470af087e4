#!/usr/bin/env bash
# Checks that a refactoring changes nothing the program declares: renders every stack
# offline, in both formats, at two git revisions (the working tree when the second is
# omitted) and prints a table of their SHA-256 sums; exits 1 when any differs.
# No Pulumi CLI, backend, cluster or passphrase is needed.
#
#   scripts/render-same.sh <base revision> [<head revision>]
#   RENDER_SAME_KEEP=<dir> keeps the renders there, to name what differs.
set -euo pipefail

if [ "$#" -lt 1 ] || [ "$#" -gt 2 ]; then
  echo "usage: scripts/render-same.sh <base revision> [<head revision>]" >&2
  exit 2
fi
root=$(git rev-parse --show-toplevel)
stacks=(development production staging compact)
formats=(json yaml)
# Production's Grafana password lives only in the Mac's stack file.
secret=(--assume-secret lamina:grafana.adminPassword)

work=$(mktemp -d)
trap 'git -C "$root" worktree remove --force "$work/base" >/dev/null 2>&1 || true; git -C "$root" worktree remove --force "$work/head" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

render() { # side dir
  (cd "$2" && go build -o "$work/lamina-$1" ./cmd/lamina)
  for stack in "${stacks[@]}"; do
    for format in "${formats[@]}"; do
      "$work/lamina-$1" render -s "$stack" --format "$format" --dir "$2" "${secret[@]}" >"$work/$1-$stack.$format"
    done
  done
}

git -C "$root" worktree add --detach "$work/base" "$1" >/dev/null 2>&1
render base "$work/base"
if [ "$#" -eq 2 ]; then
  git -C "$root" worktree add --detach "$work/head" "$2" >/dev/null 2>&1
  render head "$work/head"
else
  render head "$root"
fi

if [ -n "${RENDER_SAME_KEEP:-}" ]; then
  # Keeps the renders, to name what differs: base-<stack>.<format> and head-<stack>.<format>.
  mkdir -p "$RENDER_SAME_KEEP" && cp "$work"/base-* "$work"/head-* "$RENDER_SAME_KEEP"/
fi

differ=0
printf '| stack | format | %s | %s |\n|---|---|---|---|\n' "$1" "${2:-working tree}"
for stack in "${stacks[@]}"; do
  for format in "${formats[@]}"; do
    a=$(sha256sum <"$work/base-$stack.$format" | cut -c1-12)
    b=$(sha256sum <"$work/head-$stack.$format" | cut -c1-12)
    mark=""
    if [ "$a" != "$b" ]; then mark=" (differs)"; differ=1; fi
    printf '| %s | %s | %s | %s%s |\n' "$stack" "$format" "$a" "$b" "$mark"
  done
done
exit "$differ"
