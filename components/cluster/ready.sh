# Wait, bounded, until the cluster answers and every node is Ready, and check that the API
# server listens on the port the network policy opens; print the node names.
# Reads: LAMINA_READY_TIMEOUT_SECONDS, LAMINA_API_SERVER_PORT,
#        LAMINA_EXPECTED_NODES (one per line; empty: any), LAMINA_READY_POLL_SECONDS
#        (default 2).
timeout=$LAMINA_READY_TIMEOUT_SECONDS
poll=${LAMINA_READY_POLL_SECONDS:-2}
deadline=$(( SECONDS + timeout ))
jsonpath='{range .items[*]}{.metadata.name}{"="}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}'
while :; do
  ready=""
  waiting=""
  if nodes=$(kubectl "${kubectl_args[@]}" get nodes "--output=jsonpath=$jsonpath" 2>/dev/null); then
    while IFS= read -r node; do
      case $node in
        "") ;;
        *=True) ready="$ready ${node%=*}" ;;
        *) waiting="$waiting ${node%=*}" ;;
      esac
    done <<LIST
$nodes
LIST
    if [ -n "$ready" ] && [ -z "$waiting" ]; then break; fi
    last="not Ready:${waiting:- no node registered yet}"
  else
    last="the API server did not answer"
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    kubectl "${kubectl_args[@]}" get nodes >&2 || true
    lamina_die "timed out after ${timeout}s (lamina:cluster.readyTimeout) waiting for every node of context $LAMINA_KUBE_CONTEXT to be Ready; last seen: $last. Look with: kubectl --context $LAMINA_KUBE_CONTEXT get nodes"
  fi
  sleep "$poll"
done
lamina_log "every node of context $LAMINA_KUBE_CONTEXT is Ready:$ready"
# The nodes the program pins volumes to by name must be the ones there.
while IFS= read -r want; do
  if [ -z "$want" ]; then continue; fi
  case "$ready " in
    *" $want "*) ;;
    *) lamina_die "context $LAMINA_KUBE_CONTEXT has the nodes$ready, not $want, which the program names it by (the VM's hostname, colima start --hostname); was the VM made with another hostname? Look with: kubectl --context $LAMINA_KUBE_CONTEXT get nodes" ;;
  esac
done <<LIST
${LAMINA_EXPECTED_NODES:-}
LIST

# Pods reach the API server through the kubernetes Service, translated to its endpoints
# before the network policy matches: the endpoints' port is the one that must be open.
ports=$(kubectl "${kubectl_args[@]}" get endpointslices --namespace=default \
  --selector=kubernetes.io/service-name=kubernetes "--output=jsonpath={.items[*].ports[*].port}") ||
  lamina_die "could not read the endpoints of Service default/kubernetes on context $LAMINA_KUBE_CONTEXT; see kubectl's message above"
for port in $ports; do
  if [ "$port" != "$LAMINA_API_SERVER_PORT" ]; then
    lamina_die "the API server of context $LAMINA_KUBE_CONTEXT listens on port $port (the endpoints of Service default/kubernetes), but lamina:cluster.apiServerPort is $LAMINA_API_SERVER_PORT, the port the network policy opens to the pods that read the API. Colima keeps the port a VM was created with (before Colima 0.9.1 or without --k3s-listen-port, a random one). Set it: pulumi config set --path lamina:cluster.apiServerPort $port"
  fi
done
if [ -z "$ports" ]; then
  lamina_die "Service default/kubernetes on context $LAMINA_KUBE_CONTEXT has no endpoints; the API server's port cannot be checked"
fi
for node in $ready; do printf '%s\n' "$node"; done
