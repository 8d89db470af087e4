# Helpers shared by the scripts that read the cluster through kubectl.
# Reads: LAMINA_KUBE_CONTEXT, and LAMINA_KUBECONFIG (empty: kubectl's own default,
# ~/.kube/config or $KUBECONFIG, where Colima writes its context).
lamina_need kubectl "brew install kubectl"

kubectl_args=("--context=$LAMINA_KUBE_CONTEXT")
if [ -n "${LAMINA_KUBECONFIG:-}" ]; then
  kubeconfig=$LAMINA_KUBECONFIG
  case $kubeconfig in
    "~/"*) kubeconfig="$HOME/${kubeconfig#"~/"}" ;;
  esac
  if [ ! -f "$kubeconfig" ]; then
    lamina_die "kubeconfig $kubeconfig does not exist (lamina:cluster.kubeconfig)"
  fi
  kubectl_args+=("--kubeconfig=$kubeconfig")
fi
