# Helpers shared by the scripts that manage a Colima profile.
lamina_need colima "brew install colima"

gib=1073741824

# json_field JSON NAME: the value of a top-level string or number field of a one-line
# JSON object, as printed by colima list --json and colima status --json.
json_field() {
  printf '%s\n' "$1" | sed -n -e "s/.*\"$2\":\"\([^\"]*\)\".*/\1/p" -e "s/.*\"$2\":\([0-9][0-9]*\).*/\1/p"
}

# profile_line PROFILE: the colima list --json line of PROFILE, empty when it does not exist.
profile_line() {
  local instances line
  instances=$(colima list --json) || lamina_die "colima list failed; see its message above"
  while IFS= read -r line; do
    case $line in
      *"\"name\":\"$1\""*) printf '%s\n' "$line"; return 0 ;;
    esac
  done <<LIST
$instances
LIST
  return 0
}
