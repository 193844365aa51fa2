//go:build linux

package k8snode

import (
	"fmt"
	"os"
	"path/filepath"
)

// The cluster's fixed addresses. They live only inside the cluster's network
// namespace; the host gets unreachable routes for them while it runs.
const (
	// NodeIP is the node's address, on a link inside the namespace. The API
	// server listens on it (port 6443).
	NodeIP = "10.255.0.1"
	// NodeCIDR is the node link's network.
	NodeCIDR = "10.255.0.0/24"
	// PodCIDR is the pods' network, on the bridge.
	PodCIDR = "10.244.0.0/24"
	// ServiceCIDR is the Services' ClusterIP range.
	ServiceCIDR = "10.96.0.0/24"
	// NodeName is the node's name.
	NodeName = "iter8-node"
	// PauseImage is the sandbox image containerd runs for every pod.
	PauseImage = "iter8.tools/pause:1"

	nodeLink = "iter8n0"
	bridge   = "iter8br0"
)

func writeFile(dir, name, content string) (string, error) {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		return "", fmt.Errorf("writing %s: %w", p, err)
	}
	return p, nil
}

func containerdConfig(dir string) string {
	return fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = %[3]q

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = %[4]q

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %[5]q
  # Root here lacks CAP_SYS_RESOURCE: runc must not lower oom_score_adj.
  restrict_oom_score_adj = true
  disable_apparmor = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = %[6]q
    max_conf_num = 1
`, filepath.Join(dir, "containerd", "root"), filepath.Join(dir, "containerd", "state"), containerdSocket(dir),
		filepath.Join(dir, "containerd", "opt"), PauseImage, filepath.Join(dir, "cni"))
}

// containerdSocket is containerd's default address, so that ctr and
// crictl need no flag on the node; /run is the cluster's own tmpfs (see
// hiddenDirs), so the host's /run/containerd is untouched.
func containerdSocket(string) string { return "/run/containerd/containerd.sock" }

// cniConfig is a bridge with host-local addresses. Pods get routes to the
// Services and the node only: nothing else exists in the namespace.
func cniConfig(dir string) string {
	return fmt.Sprintf(`{
  "cniVersion": "1.0.0",
  "name": "iter8",
  "plugins": [{
    "type": "bridge",
    "bridge": %q,
    "isGateway": true,
    "hairpinMode": true,
    "ipMasq": false,
    "ipam": {
      "type": "host-local",
      "ranges": [[{"subnet": %q}]],
      "routes": [{"dst": %q}, {"dst": %q}],
      "dataDir": %q
    }
  }]
}
`, bridge, PodCIDR, ServiceCIDR, NodeCIDR, filepath.Join(dir, "cni-ipam"))
}

func kubeletConfig(dir string) string {
	return fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: %[1]s
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
tlsCertFile: %[2]s/kubelet-serving.crt
tlsPrivateKeyFile: %[2]s/kubelet-serving.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: %[2]s/ca.crt}
authorization: {mode: AlwaysAllow}
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://%[3]s
imageServiceEndpoint: unix://%[3]s
# Nothing can be pulled again: never collect images.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: "1Mi"
  nodefs.available: "0%%"
  nodefs.inodesFree: "0%%"
  imagefs.available: "0%%"
  imagefs.inodesFree: "0%%"
resolvConf: ""
clusterDomain: cluster.local
volumePluginDir: %[4]s
maxPods: 110
serializeImagePulls: false
`, NodeIP, dir, containerdSocket(dir), filepath.Join(dir, "volume-plugins"))
}

func kubeProxyConfig(kubeconfig string) string {
	return fmt.Sprintf(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: %s
mode: iptables
hostnameOverride: %s
bindAddress: %s
clusterCIDR: %s
metricsBindAddress: 127.0.0.1:10249
healthzBindAddress: 127.0.0.1:10256
nodePortAddresses: [%s/32]
iptables:
  localhostNodePorts: false
# Zero leaves the kernel's conntrack settings alone.
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
`, kubeconfig, NodeName, NodeIP, PodCIDR, NodeIP)
}
