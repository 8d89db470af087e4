#!/usr/bin/env bash
# Renders both stacks offline at two git revisions and prints, as Markdown, the
# difference in the Kubernetes objects they declare and the policy check of the second.
# No Pulumi CLI, backend, cluster or passphrase is needed.
#
#   scripts/render-diff.sh <base revision> <head revision>  > diff.md
set -euo pipefail

if [ "$#" -ne 2 ]; then
  echo "usage: scripts/render-diff.sh <base revision> <head revision>" >&2
  exit 2
fi
base=$1 head=$2
stacks=(development production staging)
# Production's Grafana password lives only in the Mac's stack file.
secret=(--assume-secret lamina:grafana.adminPassword)
# GitHub refuses comments over 65536 characters.
limit=60000

work=$(mktemp -d)
trap 'git worktree remove --force "$work/base" >/dev/null 2>&1 || true; git worktree remove --force "$work/head" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

for side in base head; do
  rev=${!side}
  if ! git worktree add --detach "$work/$side" "$rev" >"$work/worktree.log" 2>&1; then
    cat "$work/worktree.log" >&2
    echo "render-diff: cannot check out $rev" >&2
    exit 1
  fi
  for stack in "${stacks[@]}"; do
    if ! (cd "$work/$side" && go run ./cmd/lamina render -s "$stack" --format yaml "${secret[@]}") \
      >"$work/$side-$stack.yaml" 2>"$work/$side-$stack.err"; then
      printf '# %s does not render\n' "$rev" >"$work/$side-$stack.yaml"
      head -c 2000 "$work/$side-$stack.err" | sed 's/^/# /' >>"$work/$side-$stack.yaml"
    fi
  done
done

# Everything below goes to report.md, printed at the end within GitHub's limit.
exec 3>&1 >"$work/report.md"

echo "## Offline render: what this change declares"
echo
echo "\`lamina render\` of both stacks at \`$(git rev-parse --short "$base")\` (base) and \`$(git rev-parse --short "$head")\` (head): every Kubernetes object, no cluster involved."
for stack in "${stacks[@]}"; do
  echo
  echo "### $stack"
  if diff -u --label "base/$stack.yaml" --label "head/$stack.yaml" "$work/base-$stack.yaml" "$work/head-$stack.yaml" >"$work/$stack.diff"; then
    echo
    echo "No change."
    continue
  fi
  # Lines removed or added, past the two header lines.
  changed=$(tail -n +3 "$work/$stack.diff" | grep -c '^[-+]' || true)
  echo
  echo "<details><summary>$changed changed lines</summary>"
  echo
  echo '```diff'
  head -c "$((limit / ${#stacks[@]}))" "$work/$stack.diff"
  echo
  echo '```'
  if [ "$(wc -c <"$work/$stack.diff")" -gt "$((limit / ${#stacks[@]}))" ]; then
    echo
    echo "(cut; run \`scripts/render-diff.sh $base $head\` for the whole diff)"
  fi
  echo
  echo "</details>"
done

echo
echo "### Policy pack (head)"
for stack in "${stacks[@]}"; do
  echo
  echo '```'
  (cd "$work/head" && go run ./cmd/lamina check -s "$stack" "${secret[@]}" 2>&1 | head -c 2000) || true
  echo '```'
done

exec 1>&3 3>&-
head -c 64000 "$work/report.md"
if [ "$(wc -c <"$work/report.md")" -gt 64000 ]; then
  printf '\n\n(cut at 64000 characters for GitHub)\n'
fi
