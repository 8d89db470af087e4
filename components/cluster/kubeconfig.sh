# Print a self-contained kubeconfig for the context: only that context, credentials
# inlined. Its output is a secret; nothing else goes to stdout.
config=$(kubectl "${kubectl_args[@]}" config view --raw --minify --flatten) ||
  lamina_die "could not read the kubeconfig of context $LAMINA_KUBE_CONTEXT; see kubectl's message above"
if [ -z "$config" ]; then
  lamina_die "the kubeconfig of context $LAMINA_KUBE_CONTEXT is empty"
fi
printf '%s\n' "$config"
