# Stop and delete the Colima profile. The host data directory is only mounted into the VM, so it
# and everything in it stays where it is.
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
lamina_log "deleting Colima profile $profile; the data under $LAMINA_DATA_DIR stays on the host"
colima delete "--profile=$profile" --force
