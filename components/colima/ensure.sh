# Make the Colima profile match the requested settings: create it when absent, start it
# when stopped, restart it when its size or settings changed, leave it alone otherwise.
# A smaller disk or another architecture than the existing VM's is refused before
# the VM is touched. It runs after the data directories part (storage.DataDirsPart),
# which has created the directory it mounts. Progress goes to stderr; stdout is a
# key=value summary.
# Reads: LAMINA_PROFILE LAMINA_CPUS LAMINA_MEMORY_GIB LAMINA_DISK_GIB LAMINA_ARCH
#        LAMINA_K3S_VERSION LAMINA_K3S_PORT LAMINA_K3S_ARGS LAMINA_DNS (one item per line)
#        LAMINA_DATA_DIR LAMINA_NODE_CIDR LAMINA_VM_GENERATION, LAMINA_KUBERNETES (unset:
#        true), LAMINA_VM_TYPE (unset: vz) and PULUMI_COMMAND_STDOUT (the last summary).
profile=$LAMINA_PROFILE
data_dir=$LAMINA_DATA_DIR

# Colima 0.9.1 is the first release with --k3s-listen-port; without it a new k3s listens
# on a random port, which the network policy does not let pods reach. (vz with
# --network-address, --k3s-arg, virtiofs mounts, list --json and --activate are older.)
version=$(colima version 2>/dev/null | sed -n 's/^colima version v\{0,1\}\([0-9][0-9]*\.[0-9][0-9]*\.[0-9][0-9]*\).*/\1/p' || true)
if [ -z "$version" ]; then
  lamina_die "could not read colima's version from 'colima version'; 0.9.1 or later is needed: brew upgrade colima"
fi
IFS=. read -r major minor patch <<VERSION
$version
VERSION
if [ $(( major * 1000000 + minor * 1000 + patch )) -lt 9001 ]; then
  lamina_die "colima $version is too old; 0.9.1 or later is needed (for --k3s-listen-port): brew upgrade colima"
fi

# LAMINA_VM_TYPE=krunkit gives containers the Mac's GPU. Colima gives a krunkit VM a
# reachable address from 0.10.2 on, through its own vmnet helper, which it installs with
# sudo the first time (/opt/colima, /etc/sudoers.d/colima): a prompt no `pulumi up` can
# answer, so it must be there already. Colima turns any mount type but sshfs into 9p for
# a VM that is not vz, which Lima's krunkit driver refuses: the data directory is
# mounted with reverse sshfs.
# driver_of TYPE: how colima status names a VM type (nothing for a type it does not know).
driver_of() {
  case $1 in
    vz) printf 'macOS Virtualization.Framework\n' ;;
    krunkit) printf 'Krunkit\n' ;;
    qemu) printf 'QEMU\n' ;;
  esac
}
vm_type=${LAMINA_VM_TYPE:-vz}
driver=$(driver_of "$vm_type")
mount_type=virtiofs
if [ "$vm_type" = krunkit ]; then
  mount_type=sshfs
  if [ $(( major * 1000000 + minor * 1000 + patch )) -lt 10002 ]; then
    lamina_die "colima $version cannot give a krunkit VM (lamina:colima.vmType krunkit) a reachable address; 0.10.2 or later is needed: brew upgrade colima"
  fi
  lamina_need krunkit "brew tap slp/krun && brew install krunkit (Apple silicon, macOS 14 or later)"
  # (LAMINA_COLIMA_OPT and LAMINA_SUDOERS_DIR stand in for /opt/colima and /etc/sudoers.d
  # in the tests.)
  for f in "${LAMINA_COLIMA_OPT:-/opt/colima}/bin/socket_vmnet" "${LAMINA_SUDOERS_DIR:-/etc/sudoers.d}/colima"; do
    if [ ! -e "$f" ]; then
      lamina_die "lamina:colima.vmType is krunkit, and Colima's network helper is not installed ($f is missing). Colima installs it with sudo the first time it starts such a VM, which pulumi up cannot answer. Nothing was changed. Create the VM once in a terminal, where sudo can ask for your password: colima start --profile $profile --vm-type krunkit --arch aarch64 --network-address --mount-type sshfs; then pulumi up again, which sizes it."
    fi
  done
fi
# LAMINA_KUBERNETES=false (the Docker target) starts the docker runtime without k3s.
kubernetes=${LAMINA_KUBERNETES:-true}
start_args=(start "--profile=$profile" --runtime=docker "--vm-type=$vm_type" "--arch=$LAMINA_ARCH"
  "--cpu=$LAMINA_CPUS" "--memory=$LAMINA_MEMORY_GIB" "--disk=$LAMINA_DISK_GIB")
if [ "$kubernetes" = true ]; then
  start_args+=(--kubernetes "--kubernetes-version=$LAMINA_K3S_VERSION")
fi
start_args+=(--network-address "--mount-type=$mount_type" "--mount=$data_dir:w")
if [ "$kubernetes" = true ]; then
  while IFS= read -r arg; do
    if [ -n "$arg" ]; then start_args+=("--k3s-arg=$arg"); fi
  done <<LIST
$LAMINA_K3S_ARGS
LIST
fi
while IFS= read -r ip; do
  if [ -n "$ip" ]; then start_args+=("--dns=$ip"); fi
done <<LIST
$LAMINA_DNS
LIST

# A fingerprint of everything Colima is started with, so that a change of k3s arguments,
# DNS or mount is applied by a restart even when the size stays the same.
sum=$(printf '%s\n' "${start_args[@]}" | cksum)
settings=${sum%% *}
# Not in the fingerprint, as a restart would not apply them: Colima sets k3s's port when
# it creates a VM and keeps it after (cluster-ready checks the port k3s really has), and
# --activate=false leaves the user's current Docker and kubectl contexts alone (with two
# stacks side by side, the last one started would win).
if [ "$kubernetes" = true ]; then start_args+=("--k3s-listen-port=$LAMINA_K3S_PORT"); fi
start_args+=(--activate=false)
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
  if [ -n "$previous" ] && [ "$previous" != "$settings" ]; then reasons="$reasons k3s, DNS or mount settings;"; fi
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
    if [ -n "$reasons" ]; then
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

if ! [[ $address =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
  lamina_die "Colima profile $profile has no reachable address (got '$address'); it needs --network-address, which Colima supports with vz on macOS 13 or later"
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
