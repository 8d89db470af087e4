#!/usr/bin/env bash
# Posts a Markdown file as a comment on the pull request, or updates this script's
# earlier comment of the same kind, so a pull request carries one of each.
#
#   GH_TOKEN=... GITHUB_REPOSITORY=owner/repo PR_NUMBER=12 scripts/pr-comment.sh <kind> <file.md>
set -euo pipefail

if [ "$#" -ne 2 ]; then
  echo "usage: scripts/pr-comment.sh <kind> <file.md>" >&2
  exit 2
fi
: "${GITHUB_REPOSITORY:?}" "${PR_NUMBER:?}" "${GH_TOKEN:?}"
marker="<!-- lamina:$1 -->"
body="$marker
$(cat "$2")"

id=$(gh api --paginate "repos/$GITHUB_REPOSITORY/issues/$PR_NUMBER/comments" \
  --jq ".[] | select(.body | startswith(\"$marker\")) | .id" | tail -n 1)
if [ -n "$id" ]; then
  gh api -X PATCH "repos/$GITHUB_REPOSITORY/issues/comments/$id" -f body="$body" >/dev/null
else
  gh api -X POST "repos/$GITHUB_REPOSITORY/issues/$PR_NUMBER/comments" -f body="$body" >/dev/null
fi
