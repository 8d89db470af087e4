# Create the host data directory tree before the VM mounts it, and open each subdirectory
# to the pods that write it. Never removes anything, and changes no file's content.
# Reads: LAMINA_DATA_DIR, LAMINA_DATA_SUBDIRS (one name per line).
#
# The VM reaches the tree over virtiofs as the Mac user, who owns it. Inside the VM a
# pod runs as its own user (Prometheus 65534, Grafana 472, Loki 10001, ChromaDB and
# llm-serve from their security settings), chown and fsGroup have no effect, and the
# owner a process sees depends on who asked first (Apple's virtiofs shows the caller as
# the owner, and the guest caches that view): only the bits for others are the same for
# every user. So each subdirectory is writable by all, and the data directory itself is
# private to the Mac user, so that no other user of the Mac can reach into it.
data_dir=$LAMINA_DATA_DIR
mkdir -p "$data_dir" ||
  lamina_die "cannot create $data_dir; create it yourself or choose another lamina:data.dir"
chmod 0700 "$data_dir" ||
  lamina_die "cannot make $data_dir private to you (chmod 0700); is it yours? (lamina:data.dir)"
while IFS= read -r sub; do
  if [ -z "$sub" ]; then continue; fi
  mkdir -p "$data_dir/$sub" ||
    lamina_die "cannot create $data_dir/$sub; create it yourself or choose another lamina:data.dir"
  chmod 0777 "$data_dir/$sub" ||
    lamina_die "cannot open $data_dir/$sub to the pods that write it (chmod 0777); is it yours? (lamina:data.dir)"
done <<LIST
$LAMINA_DATA_SUBDIRS
LIST
lamina_log "host data directory $data_dir is ready: private to you, its subdirectories writable by the pods"
