# Create the host data directory tree before the VM mounts it. Never removes anything.
# Reads: LAMINA_DATA_DIR, LAMINA_DATA_SUBDIRS (one name per line).
data_dir=$LAMINA_DATA_DIR
while IFS= read -r sub; do
  if [ -z "$sub" ]; then continue; fi
  mkdir -p "$data_dir/$sub" ||
    lamina_die "cannot create $data_dir/$sub; create it yourself or choose another lamina:data.dir"
done <<LIST
$LAMINA_DATA_SUBDIRS
LIST
lamina_log "host data directory $data_dir is ready"
printf '%s\n' "$data_dir"
