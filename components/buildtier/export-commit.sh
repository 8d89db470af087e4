# Export the tree of one commit of the Lamina checkout for the build tier's check, into
# $LAMINA_BUILD_DIR/sources/<commit>, which the VM mounts and the check's pod reads.
# Everyone may read it: inside the VM, virtiofs shows a pod only the bits for others.
# An export already there is kept, since a commit's tree never changes; a half-done one
# never takes its final name. Without a commit, nothing is exported.
# Reads: LAMINA_CHECKOUT, LAMINA_COMMIT (may be empty), LAMINA_BUILD_DIR.
checkout=$LAMINA_CHECKOUT
commit=$LAMINA_COMMIT
if [ -z "$commit" ]; then
  exit 0
fi
lamina_need git "xcode-select --install (or brew install git)"
sources=$LAMINA_BUILD_DIR/sources
dest=$sources/$commit
if [ -d "$dest" ]; then
  lamina_log "the tree of commit $commit is already exported to $dest"
  exit 0
fi
git -C "$checkout" cat-file -e "$commit^{commit}" 2>/dev/null ||
  lamina_die "commit $commit is not in $checkout (lamina:build.commit); git fetch it there, or check another commit"
tmp=$(mktemp -d "$sources/.export.XXXXXX") ||
  lamina_die "cannot create a directory in $sources; is lamina:data.dir yours?"
if ! git -C "$checkout" archive --format=tar "$commit" | tar -x -f - -C "$tmp"; then
  rm -rf "$tmp"
  lamina_die "could not export commit $commit of $checkout into $tmp"
fi
chmod -R a+rX "$tmp"
mv "$tmp" "$dest" || lamina_die "could not move the export of $commit to $dest"
lamina_log "exported the tree of commit $commit to $dest"
