package e2e

import (
	"context"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// metallbAddresses is the annotation by which the program asks MetalLB for an address.
const metallbAddresses = "metallb.io/loadBalancerIPs"

// simulateLoadBalancers does what MetalLB's controller would, the program's or one a
// cluster runs: it gives every Service of type LoadBalancer the address its annotation
// asks for (MetalLB's pods cannot serve anything here), so that what waits for the
// address (Helm's wait) sees it.
func simulateLoadBalancers(ctx context.Context, cs kubernetes.Interface) {
	every(ctx, 500*time.Millisecond, func() {
		services, err := cs.CoreV1().Services("").List(ctx, metav1.ListOptions{})
		if err != nil {
			return
		}
		for _, s := range services.Items {
			if s.Spec.Type != corev1.ServiceTypeLoadBalancer || len(s.Status.LoadBalancer.Ingress) > 0 {
				continue
			}
			address, _, _ := strings.Cut(s.Annotations[metallbAddresses], ",")
			if address == "" {
				continue // MetalLB would pick from the pool; nothing the program declares asks it to
			}
			s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: strings.TrimSpace(address)}}
			_, _ = cs.CoreV1().Services(s.Namespace).UpdateStatus(ctx, &s, metav1.UpdateOptions{})
		}
	})
}

// removeUnservedWebhooks deletes the admission webhook configurations the charts install
// (istiod's injector and validator, cert-manager's, MetalLB's) as they appear: their
// servers are pods, which kwok only pretends to run, so the API server would refuse, or
// time out on, every object they match. The objects are still created and validated by
// the API server itself; only the webhooks' own checks and Istio's sidecar injection are
// not exercised here.
func removeUnservedWebhooks(ctx context.Context, cs kubernetes.Interface) {
	every(ctx, 200*time.Millisecond, func() {
		if m, err := cs.AdmissionregistrationV1().MutatingWebhookConfigurations().List(ctx, metav1.ListOptions{}); err == nil {
			for _, w := range m.Items {
				_ = cs.AdmissionregistrationV1().MutatingWebhookConfigurations().Delete(ctx, w.Name, metav1.DeleteOptions{})
			}
		}
		if v, err := cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().List(ctx, metav1.ListOptions{}); err == nil {
			for _, w := range v.Items {
				_ = cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Delete(ctx, w.Name, metav1.DeleteOptions{})
			}
		}
	})
}

// every runs f each period until ctx is done.
func every(ctx context.Context, period time.Duration, f func()) {
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			f()
		}
	}
}
