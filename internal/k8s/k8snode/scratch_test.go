package k8snode

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestScratchSandbox(t *testing.T) {
	ctx := context.Background()
	host, err := snapshotHost(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := os.MkdirTemp("/dev/shm", "iter8-node-")
	c := &Cluster{dir: dir, host: host}
	for _, d := range []string{"containerd", "cni", "images"} {
		_ = os.MkdirAll(filepath.Join(dir, d), 0o700)
	}
	imgs, err := buildImages(ctx, filepath.Join(dir, "images"), "/tmp/iter8-bin-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Log(imgs)
	if c.sb, err = newSandbox(ctx); err != nil {
		t.Fatal(err)
	}
	out, err := c.sb.run(ctx, true, "sh", "-c", "ip addr; ip route; mount | grep -E ' /run | /var/lib '; ls /run")
	t.Log(out, err)
	ctrdConf, _ := writeFile(dir, "containerd.toml", containerdConfig(dir))
	_, _ = writeFile(filepath.Join(dir, "cni"), "10-iter8.conflist", cniConfig(dir))
	if err := c.start("containerd", "containerd", "--config", ctrdConf); err != nil {
		t.Fatal(err)
	}
	if err := c.waitContainerd(ctx); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{imgs.iter8, imgs.pause} {
		out, err := c.sb.run(ctx, true, "ctr", "--address", containerdSocket(dir), "-n", "k8s.io", "images", "import", a)
		t.Log(out, err)
	}
	out, err = c.sb.run(ctx, true, "ctr", "--address", containerdSocket(dir), "-n", "k8s.io", "run", "--rm", "--user", "65532", imgs.iter8Ref, "x1", "iter8", "version")
	t.Log(out, err)
	out, err = c.sb.run(ctx, true, "ctr", "--address", containerdSocket(dir), "-n", "k8s.io", "run", "--rm", imgs.iter8Ref, "x2", "bash", "-c", "echo $BASH_VERSION; id; ls /bin | wc -l")
	t.Log(out, err)
	l, err := c.sb.listen("tcp", NodeIP+":0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { cn, _ := l.Accept(); if cn != nil { cn.Close() } }()
	cn, err := c.sb.dial(ctx, "tcp", l.Addr().String())
	t.Log("dial", cn, err)
	time.Sleep(time.Second)
	t.Log(c.Logs("containerd", 1500))
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
}
