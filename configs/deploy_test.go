package configs

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// scaledObject is the part of KEDA's keda.sh/v1alpha1 ScaledObject these
// manifests use (KEDA's Go module is not a dependency here); decoding is
// strict, so a misspelt field still fails.
type scaledObject struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		ScaleTargetRef struct {
			Name string `json:"name"`
		} `json:"scaleTargetRef"`
		MinReplicaCount int `json:"minReplicaCount"`
		MaxReplicaCount int `json:"maxReplicaCount"`
		Triggers        []struct {
			Type     string            `json:"type"`
			Metadata map[string]string `json:"metadata"`
		} `json:"triggers"`
	} `json:"spec"`
}

// manifests decodes every document of a multi-document YAML file into its
// Kubernetes API type, rejecting unknown fields.
func manifests(t *testing.T, path string) (deployments map[string]*appsv1.Deployment, scaled map[string]*scaledObject, kinds []string) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	deployments, scaled = map[string]*appsv1.Deployment{}, map[string]*scaledObject{}
	for i, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(b), -1) {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		var tm metav1.TypeMeta
		require.NoError(t, yaml.Unmarshal([]byte(doc), &tm), "document %d", i)
		kinds = append(kinds, tm.Kind)
		var obj any
		switch tm.APIVersion + " " + tm.Kind {
		case "v1 Namespace":
			obj = &corev1.Namespace{}
		case "v1 ConfigMap":
			obj = &corev1.ConfigMap{}
		case "apps/v1 Deployment":
			d := &appsv1.Deployment{}
			obj = d
			defer func() { deployments[d.Name] = d }()
		case "keda.sh/v1alpha1 ScaledObject":
			s := &scaledObject{}
			obj = s
			defer func() { scaled[s.Name] = s }()
		default:
			t.Fatalf("document %d: unexpected %s %s", i, tm.APIVersion, tm.Kind)
		}
		require.NoError(t, yaml.UnmarshalStrict([]byte(doc), obj), "document %d (%s)", i, tm.Kind)
	}
	return deployments, scaled, kinds
}

func stripComments(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// The Kubernetes manifests are the kubernetes targets of deployment.yaml:
// one Deployment per target with the same name, image, replicas and
// resources, running `tars worker --target <name>`, probed on /livez and
// /readyz, the cuda pool asking for nvidia.com/gpu and the hyperlight pool
// for KVM through a device plugin (no hostPath, no privileges), pinned
// images pulled IfNotPresent, and a KEDA ScaledObject on each pool's queue
// backlog.
func TestKubernetesManifests(t *testing.T) {
	deps, scaled, kinds := manifests(t, "deploy/kubernetes/workers.yaml")
	assert.Equal(t, []string{"Namespace", "ConfigMap", "Deployment", "Deployment", "Deployment", "ScaledObject", "ScaledObject", "ScaledObject"}, kinds)
	d := Default().Deployment
	var targets []string
	for _, tg := range d.Targets {
		if tg.Kind != KindKubernetes {
			continue
		}
		targets = append(targets, tg.ID)
		t.Run(tg.ID, func(t *testing.T) {
			dep := deps[tg.ID]
			require.NotNil(t, dep, "no Deployment %s for the kubernetes target of that name", tg.ID)
			assert.Equal(t, tg.Namespace, dep.Namespace)
			require.NotNil(t, dep.Spec.Replicas)
			assert.Equal(t, int32(max(1, tg.Replicas)), *dep.Spec.Replicas)
			pod := dep.Spec.Template.Spec
			require.Len(t, pod.Containers, 1)
			c := pod.Containers[0]
			assert.Equal(t, tg.Image, c.Image)
			assert.Regexp(t, `^[^:]+(:[0-9][^:]*|@sha256:[0-9a-f]{64})$`, c.Image, "image pinned to a version or digest, never latest")
			assert.Equal(t, corev1.PullIfNotPresent, c.ImagePullPolicy)
			require.GreaterOrEqual(t, len(c.Args), 3)
			assert.Equal(t, []string{"worker", "--target", tg.ID}, c.Args[:3])
			assert.Equal(t, slices.Contains(c.Args, "--no-workflows"), !slices.Contains(tg.Runtimes(), "native"),
				"the interpreter runs beside the native pool only")

			// Probes on the metrics port, which the ConfigMap sets.
			require.NotNil(t, c.LivenessProbe)
			require.NotNil(t, c.ReadinessProbe)
			assert.Equal(t, "/livez", c.LivenessProbe.HTTPGet.Path)
			assert.Equal(t, "/readyz", c.ReadinessProbe.HTTPGet.Path)
			require.Len(t, c.Ports, 1)
			assert.Equal(t, int32(9090), c.Ports[0].ContainerPort)
			assert.Equal(t, c.Ports[0].Name, c.LivenessProbe.HTTPGet.Port.String())
			assert.Equal(t, c.Ports[0].Name, c.ReadinessProbe.HTTPGet.Port.String())

			// Draining: the pod's grace outlasts the worker's.
			grace := c.Args[slices.Index(c.Args, "--shutdown-grace")+1]
			require.NotNil(t, pod.TerminationGracePeriodSeconds)
			assert.Greater(t, *pod.TerminationGracePeriodSeconds, int64(mustSeconds(t, grace)))

			// Resources follow the target.
			cpu := resource.MustParse(tg.Resources.CPU)
			mem := resource.MustParse(fmt.Sprintf("%dMi", tg.Resources.MemoryMiB))
			assert.True(t, cpu.Equal(c.Resources.Requests[corev1.ResourceCPU]), "cpu request %v, target %s", c.Resources.Requests.Cpu(), tg.Resources.CPU)
			assert.True(t, mem.Equal(c.Resources.Requests[corev1.ResourceMemory]), "memory request")
			assert.True(t, mem.Equal(c.Resources.Limits[corev1.ResourceMemory]), "memory limit")
			gpus := c.Resources.Limits["nvidia.com/gpu"]
			assert.Equal(t, int64(tg.Resources.GPUs), gpus.Value(), "nvidia.com/gpu")
			kvm := c.Resources.Limits["devices.kubevirt.io/kvm"]
			assert.Equal(t, tg.Resources.KVM, kvm.Value() == 1, "devices.kubevirt.io/kvm")

			// Non-root, no privileges, nothing from the host.
			require.NotNil(t, pod.SecurityContext)
			assert.True(t, *pod.SecurityContext.RunAsNonRoot)
			require.NotNil(t, c.SecurityContext)
			assert.False(t, *c.SecurityContext.AllowPrivilegeEscalation)
			assert.Nil(t, c.SecurityContext.Privileged)
			assert.True(t, *c.SecurityContext.ReadOnlyRootFilesystem)
			assert.Equal(t, []corev1.Capability{"ALL"}, c.SecurityContext.Capabilities.Drop)
			for _, v := range pod.Volumes {
				assert.Nil(t, v.HostPath, "volume %s mounts a host path", v.Name)
			}

			// Scaled on the backlog of the queues its pools poll.
			so := scaled[tg.ID]
			require.NotNil(t, so, "no ScaledObject for %s", tg.ID)
			assert.Equal(t, tg.ID, so.Spec.ScaleTargetRef.Name)
			assert.Equal(t, tg.Namespace, so.Namespace)
			assert.Equal(t, max(1, tg.Replicas), so.Spec.MinReplicaCount)
			assert.Greater(t, so.Spec.MaxReplicaCount, so.Spec.MinReplicaCount)
			var queues []string
			for _, tr := range so.Spec.Triggers {
				assert.Equal(t, "temporal", tr.Type)
				assert.NotEmpty(t, tr.Metadata["endpoint"])
				assert.NotEmpty(t, tr.Metadata["targetQueueSize"])
				if tr.Metadata["queueTypes"] == "activity" {
					queues = append(queues, tr.Metadata["taskQueue"])
				}
			}
			var want []string
			for _, rt := range tg.Runtimes() {
				want = append(want, d.Queue(tg, rt))
			}
			assert.ElementsMatch(t, want, queues)
		})
	}
	assert.Len(t, deps, len(targets), "a Deployment with no kubernetes target in deployment.yaml")
	assert.Len(t, scaled, len(targets))
}

func mustSeconds(t *testing.T, d string) int {
	t.Helper()
	require.True(t, strings.HasSuffix(d, "s"), "grace %q in seconds", d)
	n, err := strconv.Atoi(strings.TrimSuffix(d, "s"))
	require.NoError(t, err)
	return n
}

// dockerInstr is one Containerfile instruction.
type dockerInstr struct {
	stage int // index of the FROM it belongs to
	cmd   string
	args  string
}

// parseContainerfile reads instructions, joining continuation lines and
// dropping comments. It knows Dockerfile syntax well enough for these
// checks, not heredocs.
func parseContainerfile(t *testing.T, path string) []dockerInstr {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var out []dockerInstr
	stage := -1
	var cur strings.Builder
	sc := bufio.NewScanner(f)
	flush := func() {
		line := strings.TrimSpace(cur.String())
		cur.Reset()
		if line == "" {
			return
		}
		cmd, args, _ := strings.Cut(line, " ")
		cmd = strings.ToUpper(cmd)
		if cmd == "FROM" {
			stage++
		}
		out = append(out, dockerInstr{stage: stage, cmd: cmd, args: strings.TrimSpace(args)})
	}
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(l), "#") {
			continue
		}
		if strings.HasSuffix(l, "\\") {
			cur.WriteString(strings.TrimSuffix(l, "\\") + " ")
			continue
		}
		cur.WriteString(l)
		flush()
	}
	flush()
	require.NoError(t, sc.Err())
	return out
}

// The Containerfile builds a static binary in one stage and ships it alone,
// non-root, with CA certificates and without any guest (the test guests
// include a hostile one); .dockerignore keeps local builds and VCS data
// out of the build context.
func TestContainerfile(t *testing.T) {
	ins := parseContainerfile(t, "deploy/Containerfile")
	var froms []dockerInstr
	for _, in := range ins {
		if in.cmd == "FROM" {
			froms = append(froms, in)
		}
	}
	require.GreaterOrEqual(t, len(froms), 2, "multi-stage: build, then runtime")
	last := len(froms) - 1
	runtimeBase := strings.Fields(froms[last].args)[0]
	assert.NotContains(t, runtimeBase, "golang", "the runtime stage carries no toolchain")

	var build string
	for _, in := range ins {
		if in.cmd == "RUN" && strings.Contains(in.args, "go build") {
			build = in.args
		}
		if in.stage == last && (in.cmd == "COPY" || in.cmd == "ADD") {
			assert.NotRegexp(t, `guests|\.wasm|escape`, in.args, "the image ships no guest modules: %s", in.args)
		}
	}
	require.NotEmpty(t, build, "no go build")
	assert.Contains(t, build, "CGO_ENABLED=0")
	assert.Contains(t, build, "-trimpath")
	assert.Contains(t, build, "./cmd/tars")

	var user string
	certs := strings.HasPrefix(runtimeBase, "gcr.io/distroless/static")
	for _, in := range ins {
		if in.stage != last {
			continue
		}
		switch in.cmd {
		case "USER":
			user = in.args
		case "COPY":
			certs = certs || strings.Contains(in.args, "ca-certificates")
		}
	}
	assert.True(t, certs, "the runtime stage has CA certificates (TLS to Temporal Cloud, model APIs)")
	require.NotEmpty(t, user, "no USER in the runtime stage")
	uid, _, _ := strings.Cut(user, ":")
	assert.NotContains(t, []string{"root", "0"}, uid)

	di, err := os.ReadFile("../.dockerignore")
	require.NoError(t, err, "no .dockerignore at the repository root")
	ignored := map[string]bool{}
	for _, l := range strings.Split(string(di), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			ignored[strings.TrimSuffix(l, "/")] = true
		}
	}
	for _, p := range []string{"bin", ".git"} {
		assert.True(t, ignored[p], ".dockerignore lacks %s", p)
	}
}

// hardening are the directives that bring the unit to an exposure of at
// most 4.0 in systemd-analyze security; checked as text where the analyzer
// is missing.
var hardening = []string{
	"NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "PrivateMounts=yes",
	"ProtectKernelTunables=yes", "ProtectKernelModules=yes", "ProtectKernelLogs=yes",
	"ProtectControlGroups=yes", "ProtectClock=yes", "ProtectHostname=yes", "ProtectProc=invisible",
	"RestrictNamespaces=yes", "RestrictRealtime=yes", "RestrictSUIDSGID=yes", "LockPersonality=yes",
	"CapabilityBoundingSet=", "SystemCallArchitectures=native", "SystemCallFilter=@system-service", "DevicePolicy=closed", "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
	"DynamicUser=yes", "UMask=0077",
}

// The systemd unit starts the worker the way the CLI expects, names only
// paths that `make install` puts in place, and is hardened: exposure of at
// most 4.0 in systemd-analyze security.
func TestSystemdUnit(t *testing.T) {
	b, err := os.ReadFile("deploy/tars-worker.service")
	require.NoError(t, err)
	unit := string(b)
	assert.Contains(t, unit, "\nExecStart=/usr/local/bin/tars worker ")
	assert.Contains(t, unit, "SupplementaryGroups=kvm")
	for _, h := range hardening {
		assert.Contains(t, unit, "\n"+h+"\n", "unit lacks %s", h)
	}
	// make install puts in place every path the unit's directives name.
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatalf("make is needed to check the install steps: %v", err)
	}
	dest := t.TempDir()
	fake := dest + "/tars-binary"
	require.NoError(t, os.WriteFile(fake, []byte("#!/bin/sh\n"), 0o755))
	out, err := exec.Command("make", "-C", "..", "install", "DESTDIR="+dest+"/root", "BIN="+fake).CombinedOutput()
	require.NoError(t, err, "make install: %s", out)
	installed, err := os.ReadFile(dest + "/root/etc/systemd/system/tars-worker.service")
	require.NoError(t, err, "make install did not install the unit")
	named := 0
	for _, l := range strings.Split(string(installed), "\n") {
		if strings.HasPrefix(l, "#") || !strings.Contains(l, "=") {
			continue
		}
		for _, p := range regexp.MustCompile(`/(?:usr/local|etc/tars)/[A-Za-z0-9_./-]+`).FindAllString(l, -1) {
			named++
			_, err := os.Stat(dest + "/root" + p)
			assert.NoError(t, err, "the unit names %s (%s), which make install does not create", p, l)
		}
	}
	assert.GreaterOrEqual(t, named, 2, "the binary and the settings file")

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skipf("systemd-analyze not installed (apt-get install systemd): checked the hardening directives only: %v", err)
	}
	out, err = exec.Command(analyze, "security", "--offline=true", "--no-pager", "deploy/tars-worker.service").CombinedOutput()
	require.NoError(t, err, "%s", out)
	m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`).FindSubmatch(out)
	require.NotNil(t, m, "%s", out)
	score, err := strconv.ParseFloat(string(m[1]), 64)
	require.NoError(t, err)
	assert.LessOrEqual(t, score, 4.0, "systemd-analyze security: %s", bytes.TrimSpace(out))
	t.Logf("systemd-analyze security exposure: %.1f", score)
}
