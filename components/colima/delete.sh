# Delete the Colima profile. The host data directory is only mounted into the VM, so it
# and everything in it stays where it is.
# Reads: LAMINA_PROFILE LAMINA_DATA_DIR.
profile=$LAMINA_PROFILE
if [ -z "$(profile_line "$profile")" ]; then
  lamina_log "Colima profile $profile does not exist; nothing to delete"
  exit 0
fi
lamina_log "deleting Colima profile $profile; the data under $LAMINA_DATA_DIR stays on the host"
colima delete "--profile=$profile" --force
