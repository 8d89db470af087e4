# Stop and delete the Colima profile with its disk: --data deletes the VM's data disk, which
# `colima delete` alone keeps and the next VM of the profile reattaches as it is, with its
# old size, images, containers and k3s datastore (app/app.go Delete and
# environment/vm/lima/disk.go at v0.10.3). The host data directory is only mounted into
# the VM, so it and everything in it stays where it is.
# Reads: LAMINA_PROFILE LAMINA_DATA_DIR.
profile=$LAMINA_PROFILE
line=$(profile_line "$profile")
if [ -z "$line" ]; then
  lamina_log "Colima profile $profile does not exist; nothing to delete"
  exit 0
fi
if [ "$(json_field "$line" status)" = Running ]; then
  lamina_log "stopping Colima profile $profile"
  colima stop "--profile=$profile"
fi
lamina_log "deleting Colima profile $profile and its disk (images, containers, k3s's datastore); the data under $LAMINA_DATA_DIR stays on the host"
colima delete "--profile=$profile" --force --data
