# Wait, bounded, until the cluster answers and every node is Ready; print the node names.
# Reads: LAMINA_READY_TIMEOUT_SECONDS, LAMINA_READY_POLL_SECONDS (default 2).
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
for node in $ready; do printf '%s\n' "$node"; done
