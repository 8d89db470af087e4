# Make the Colima profile match the requested settings: create it when absent, start it
# when stopped, restart it when its size or settings changed, leave it alone otherwise.
# A smaller disk or another architecture than the existing VM's is refused before
# the VM is touched. It runs after the data directories part (storage.DataDirsPart),
# which has created the directory it mounts. Progress goes to stderr; stdout is a
# key=value summary.
# Reads: LAMINA_PROFILE LAMINA_CPUS LAMINA_MEMORY_GIB LAMINA_DISK_GIB LAMINA_ARCH
#        LAMINA_K3S_VERSION LAMINA_START_ARGS (colima start's arguments, one per line:
#        ColimaVMArgs.StartArgs) LAMINA_DATA_DIR LAMINA_NODE_CIDR LAMINA_VM_GENERATION,
#        LAMINA_KUBERNETES (unset: true), LAMINA_VM_TYPE (unset: vz),
#        LAMINA_COLIMA_SUDOERS (krunkit: the text Colima's helper needs),
#        LAMINA_START_ONLY (set: start a stopped VM, never restart a running one) and
#        PULUMI_COMMAND_STDOUT (the last summary).
profile=$LAMINA_PROFILE

# Colima 0.10.0 is the first release with --port-forwarder=none, which keeps k3s's API
# server and the kubelet off the Mac's network interfaces (0.9.1 brought
# --k3s-listen-port; vz with --network-address, --k3s-arg, virtiofs mounts, list --json,
# --activate and delete --data are older).
version=$(colima version 2>/dev/null | sed -n 's/^colima version v\{0,1\}\([0-9][0-9]*\.[0-9][0-9]*\.[0-9][0-9]*\).*/\1/p' || true)
if [ -z "$version" ]; then
  lamina_die "could not read colima's version from 'colima version'; 0.10.0 or later is needed: brew upgrade colima"
fi
IFS=. read -r major minor patch <<VERSION
$version
VERSION
release=$(( major * 1000000 + minor * 1000 + patch ))
if [ "$release" -lt 10000 ]; then
  lamina_die "colima $version is too old; 0.10.0 or later is needed (for --port-forwarder=none, which keeps k3s off your network): brew upgrade colima"
fi

# colima start's arguments: every setting the program owns, passed each time.
start_args=(start)
while IFS= read -r arg; do
  if [ -n "$arg" ]; then start_args+=("$arg"); fi
done <<LIST
$LAMINA_START_ARGS
LIST
# The same start as a command line a user can run in a terminal.
start_command="colima$(printf ' %q' "${start_args[@]}")"

# driver_of TYPE: how colima status names a VM type (nothing for a type it does not know;
# config/config.go DriverLabel at v0.10.3).
driver_of() {
  case $1 in
    vz) printf 'macOS Virtualization.Framework\n' ;;
    krunkit) printf 'Krunkit\n' ;;
    qemu) printf 'QEMU\n' ;;
  esac
}
vm_type=${LAMINA_VM_TYPE:-vz}
driver=$(driver_of "$vm_type")

# LAMINA_VM_TYPE=krunkit gives containers the Mac's GPU. Colima gives a krunkit VM a
# reachable address from 0.10.2 on, through its own network helper (socket_vmnet on
# 192.168.106.0/24). Before it starts one it checks what daemon/process/vmnet/deps.go
# lists at v0.10.3: /opt/colima/bin/socket_vmnet and socket_vmnet_client, the directory
# /opt/colima/run, and /etc/sudoers.d/colima holding its own embedded text
# (embedded/sudoers.go); whatever fails it installs with sudo, a prompt no `pulumi up` can
# answer, and if that fails it starts the VM without an address, warning only
# (daemon.go: "network failure is not fatal"). So all of it must be there already.
if [ "$vm_type" = krunkit ]; then
  if [ "$release" -lt 10002 ]; then
    lamina_die "colima $version cannot give a krunkit VM (lamina:colima.vmType krunkit) a reachable address; 0.10.2 or later is needed: brew upgrade colima"
  fi
  lamina_need krunkit "brew tap slp/krun && brew install krunkit (Apple silicon, macOS 14 or later)"
  # (LAMINA_COLIMA_OPT and LAMINA_SUDOERS_DIR stand in for /opt/colima and /etc/sudoers.d
  # in the tests.)
  opt=${LAMINA_COLIMA_OPT:-/opt/colima}
  sudoers=${LAMINA_SUDOERS_DIR:-/etc/sudoers.d}/colima
  problem=""
  for f in "$opt/bin/socket_vmnet" "$opt/bin/socket_vmnet_client"; do
    if [ ! -x "$f" ]; then problem="$problem $f is missing;"; fi
  done
  if [ ! -d "$opt/run" ]; then problem="$problem $opt/run is missing;"; fi
  if [ ! -r "$sudoers" ]; then
    problem="$problem $sudoers is missing;"
  else
    want=${LAMINA_COLIMA_SUDOERS%$'\n'}
    have=$(cat "$sudoers")
    case $have in
      *"$want"*) ;;
      *)
        # The text is Colima 0.10.0 to 0.10.3's; a later Colima may ask for another.
        if [ "$release" -le 10003 ]; then
          problem="$problem $sudoers does not hold the permissions colima $version asks for (one from an older Colima?);"
        else
          lamina_log "warning: $sudoers differs from what Colima 0.10.0 to 0.10.3 install; colima $version may ask for sudo to replace it"
        fi
        ;;
    esac
  fi
  if [ -n "$problem" ]; then
    lamina_die "lamina:colima.vmType is krunkit, and Colima's network helper is not ready:$problem Colima would install it with sudo when it starts the VM, which pulumi up cannot answer, and without it the VM has no address. Nothing was changed. Run the start this stack makes once in a terminal, where sudo can ask for your password (after colima stop --profile $profile if the VM runs): $start_command; then pulumi up again."
  fi
fi
# LAMINA_KUBERNETES=false (the Docker target) starts the docker runtime without k3s.
kubernetes=${LAMINA_KUBERNETES:-true}

# A fingerprint of everything Colima is started with, so that a change of k3s arguments,
# DNS, mount or port forwarding is applied by a restart even when the size stays the same.
# Not in it, as a restart would not apply them: the k3s port, which Colima sets when it
# creates a VM and keeps after, and --activate.
settings_args=()
for arg in "${start_args[@]}"; do
  case $arg in
    --k3s-listen-port=* | --activate=*) ;;
    *) settings_args+=("$arg") ;;
  esac
done
sum=$(printf '%s\n' "${settings_args[@]}" | cksum)
settings=${sum%% *}
previous=$(printf '%s\n' "${PULUMI_COMMAND_STDOUT:-}" | sed -n 's/^settings=//p')

line=$(profile_line "$profile")
status=""
if [ -n "$line" ]; then status=$(json_field "$line" status); fi

# existing_driver: the existing VM's type as colima status names it; when the VM is
# stopped, from the settings Colima keeps beside Lima's instance (empty if not found).
existing_driver() {
  local state
  if [ "$status" = Running ]; then
    json_field "$(colima status "--profile=$profile" --json)" driver
    return 0
  fi
  state="${LIMA_HOME:-${COLIMA_HOME:-$HOME/.colima}/_lima}/colima-$profile/colima.yaml"
  if [ -f "$state" ]; then driver_of "$(sed -n 's/^vmType: *//p' "$state")"; fi
}
# wrong_type DRIVER WHAT: refuse a VM of another type (Colima would keep it, saying so
# only in a warning); WHAT says what was done before.
wrong_type() {
  lamina_die "profile $profile is a VM of type '$1' but lamina:colima.vmType asks for $vm_type ($driver); the VM type is fixed when a VM is created, and Colima keeps the old one. $2 Set lamina:colima.vmType back, or delete the VM on purpose (colima delete --profile $profile) to create it anew."
}

# check_existing: refuse what Colima cannot change, and say what a restart would apply.
reasons=""
check_existing() {
  local arch cpus memory disk memory_gib disk_gib existing
  existing=$(existing_driver)
  if [ -n "$existing" ] && [ "$existing" != "$driver" ]; then wrong_type "$existing" "Nothing was changed."; fi
  arch=$(json_field "$line" arch)
  cpus=$(json_field "$line" cpus)
  memory=$(json_field "$line" memory)
  disk=$(json_field "$line" disk)
  memory_gib=$(( (${memory:-0} + gib / 2) / gib ))
  disk_gib=$(( (${disk:-0} + gib - 1) / gib ))
  if [ -n "$arch" ] && [ "$arch" != "$LAMINA_ARCH" ]; then
    lamina_die "profile $profile is $arch but lamina:colima.arch asks for $LAMINA_ARCH; the architecture is fixed when a VM is created. Nothing was changed. Set lamina:colima.arch to $arch, or delete the VM on purpose (colima delete --profile $profile) to create it anew."
  fi
  if [ "$LAMINA_DISK_GIB" -lt "$disk_gib" ]; then
    lamina_die "lamina:colima.diskGiB is $LAMINA_DISK_GIB GiB but profile $profile already has a $disk_gib GiB disk, and Colima cannot shrink a disk. Nothing was changed. Set lamina:colima.diskGiB to $disk_gib or more."
  fi
  if [ "${cpus:-0}" -ne "$LAMINA_CPUS" ]; then reasons="$reasons cores $cpus -> $LAMINA_CPUS;"; fi
  if [ "$memory_gib" -ne "$LAMINA_MEMORY_GIB" ]; then reasons="$reasons memory $memory_gib -> $LAMINA_MEMORY_GIB GiB;"; fi
  if [ "$LAMINA_DISK_GIB" -gt "$disk_gib" ]; then reasons="$reasons disk $disk_gib -> $LAMINA_DISK_GIB GiB;"; fi
  if [ -n "$previous" ] && [ "$previous" != "$settings" ]; then reasons="$reasons k3s, DNS, mount or port forwarding settings;"; fi
}

case $status in
  "")
    what="k3s $LAMINA_K3S_VERSION"
    if [ "$kubernetes" != true ]; then what="Docker without Kubernetes"; fi
    lamina_log "creating Colima profile $profile: $LAMINA_CPUS cores, $LAMINA_MEMORY_GIB GiB memory, $LAMINA_DISK_GIB GiB disk, $what"
    colima "${start_args[@]}"
    ;;
  Stopped)
    check_existing
    lamina_log "starting stopped Colima profile $profile with the requested settings"
    colima "${start_args[@]}"
    ;;
  Running)
    check_existing
    if [ -n "${LAMINA_START_ONLY:-}" ]; then
      lamina_log "Colima profile $profile is running; left alone"
    elif [ -n "$reasons" ]; then
      lamina_log "restarting Colima profile $profile to apply:$reasons"
      colima stop "--profile=$profile"
      colima "${start_args[@]}"
    else
      lamina_log "Colima profile $profile is running with the requested settings; left alone"
    fi
    ;;
  *)
    lamina_die "Colima profile $profile is in state '$status', which this program does not change; look with: colima status --profile $profile"
    ;;
esac

status_json=$(colima status "--profile=$profile" --json) ||
  lamina_die "colima status failed for profile $profile; see its message above"
running=$(json_field "$status_json" driver)
if [ -n "$running" ] && [ "$running" != "$driver" ]; then wrong_type "$running" "The VM runs as it was; nothing else was changed."; fi
address=$(json_field "$status_json" ip_address)
docker_host=$(json_field "$status_json" docker_socket)
if [ -z "$docker_host" ]; then docker_host="unix://$HOME/.colima/$profile/docker.sock"; fi

# colima status leaves ip_address out when the VM has no reachable address (app/app.go
# at v0.10.3): a krunkit VM whose network helper failed starts anyway.
if ! [[ $address =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
  if [ "$vm_type" = krunkit ]; then
    lamina_die "Colima profile $profile is running without a reachable address (got '$address'): Colima gives a krunkit VM its address through its network helper (socket_vmnet under /opt/colima) and only warns when that fails. Look for 'error starting network' in colima's output above or in ~/.colima/$profile/daemon/, run lamina doctor, then pulumi up again; the VM itself is running."
  fi
  lamina_die "Colima profile $profile is running without a reachable address (got '$address'); it is started with --network-address, which Colima supports with vz on macOS 13 or later. Run lamina doctor, then pulumi up again; the VM itself is running."
fi
ip_number() {
  local IFS=.
  set -- $1
  printf '%s\n' $(( ($1 << 24) + ($2 << 16) + ($3 << 8) + $4 ))
}
net=${LAMINA_NODE_CIDR%/*}
bits=${LAMINA_NODE_CIDR#*/}
mask=$(( bits == 0 ? 0 : (0xFFFFFFFF << (32 - bits)) & 0xFFFFFFFF ))
if [ $(( $(ip_number "$address") & mask )) -ne $(( $(ip_number "$net") & mask )) ]; then
  lamina_die "the VM's address $address is outside lamina:cluster.nodeCIDR $LAMINA_NODE_CIDR, so LoadBalancer addresses from it would not be reachable from macOS. Set lamina:cluster.nodeCIDR to the VM's network and run pulumi up again; the VM itself is ready."
fi

# The generation is in the summary, so that what reads the cluster reads it again after
# the VM was brought back.
printf 'profile=%s\naddress=%s\ndocker_host=%s\nsettings=%s\ngeneration=%s\n' "$profile" "$address" "$docker_host" "$settings" "${LAMINA_VM_GENERATION:-}"
