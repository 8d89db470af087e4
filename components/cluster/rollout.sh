# Wait, bounded, until every pod of a workload is Ready (kubectl rollout status), and say
# so on stderr; stdout stays empty.
# Reads: LAMINA_ROLLOUT_WORKLOAD (kind/name), LAMINA_ROLLOUT_NAMESPACE,
#        LAMINA_ROLLOUT_TIMEOUT_SECONDS.
if ! kubectl "${kubectl_args[@]}" rollout status "$LAMINA_ROLLOUT_WORKLOAD" \
  "--namespace=$LAMINA_ROLLOUT_NAMESPACE" "--timeout=${LAMINA_ROLLOUT_TIMEOUT_SECONDS}s" >&2; then
  lamina_die "$LAMINA_ROLLOUT_WORKLOAD in namespace $LAMINA_ROLLOUT_NAMESPACE (context $LAMINA_KUBE_CONTEXT) did not have every pod Ready within ${LAMINA_ROLLOUT_TIMEOUT_SECONDS}s. Look with: kubectl --context $LAMINA_KUBE_CONTEXT --namespace $LAMINA_ROLLOUT_NAMESPACE describe $LAMINA_ROLLOUT_WORKLOAD"
fi
lamina_log "every pod of $LAMINA_ROLLOUT_WORKLOAD in namespace $LAMINA_ROLLOUT_NAMESPACE is Ready"
