package configs

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tars-engine/tars/internal/diag"
	"github.com/tars-engine/tars/plan"
)

func TestDefault(t *testing.T) {
	c := Default()
	assert.Same(t, c, Default(), "parsed once")
	assert.GreaterOrEqual(t, len(c.Agents), 20)
	assert.Equal(t, []string{"research-and-innovation", "development", "operations", "quality-assurance",
		"lightweight-computing", "user-experience", "knowledge-management"}, c.Tree.DepartmentIDs())
	assert.Equal(t, []string{"native"}, c.Tree.Runtimes)
	for id := range c.Agents {
		team, dept := c.Tree.Home(id)
		assert.NotNil(t, team, "every default agent has a team: %s", id)
		assert.NotNil(t, dept, id)
	}
	assert.Equal(t, "echo", c.Models["default"].Provider)
	assert.Len(t, c.Deployment.Targets, 7)
	assert.Equal(t, "tars", c.Deployment.QueuePrefix)
}

func TestResolve(t *testing.T) {
	c := Default()
	a, ok := c.Resolve("retriever")
	require.True(t, ok)
	assert.Equal(t, "knowledge-management", a.Department)
	assert.Equal(t, "retrieval", a.Team)
	assert.Equal(t, []string{"incident-response"}, a.Swarms)
	assert.Equal(t, []string{"cuda", "native"}, a.Runtimes)
	assert.Nil(t, a.Model, "the retriever only runs tools")

	s, ok := c.Resolve("summarizer")
	require.True(t, ok)
	assert.Equal(t, []string{"release-train", "research-guild"}, s.Swarms)
	require.NotNil(t, s.Model)
	assert.Equal(t, plan.Model{Provider: "echo", Name: "echo", Temperature: func() *float64 { v := 0.2; return &v }(), MaxTokens: 1024}, *s.Model)
	s.Model.Name = "changed"
	s2, _ := c.Resolve("summarizer")
	assert.Equal(t, "echo", s2.Model.Name, "Resolve returns copies")

	// edge-analyst names its own chain; sandbox-keeper's comes from its
	// team (micro-vm), which overrides the department's [wasm, native].
	e, _ := c.Resolve("edge-analyst")
	assert.Equal(t, []string{"wasm"}, e.Runtimes)
	sk, _ := c.Resolve("sandbox-keeper")
	assert.Equal(t, []string{"hyperlight"}, sk.Runtimes)

	_, ok = c.Resolve("nobody")
	assert.False(t, ok)
}

func TestChainInheritance(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, AgentsFile, "agents:\n  - {id: a}\n  - {id: b}\n  - {id: c}\n  - {id: d}\n")
	write(t, dir, TreeFile, `defaults: {runtime: [native, wasm]}
departments:
  - id: top
    runtime: [cuda, native]
    teams:
      - {id: t1, agents: [a]}
      - {id: t2, runtime: [hyperlight], agents: [b]}
  - id: sub
    parent: top
    teams:
      - {id: t3, agents: [c]}
`)
	c, err := Load(dir)
	require.NoError(t, err)
	chain := func(id string) []string { a, _ := c.Resolve(id); return a.Runtimes }
	assert.Equal(t, []string{"cuda", "native"}, chain("a"), "department")
	assert.Equal(t, []string{"hyperlight"}, chain("b"), "team")
	assert.Equal(t, []string{"cuda", "native"}, chain("c"), "parent department")
	assert.Equal(t, []string{"native", "wasm"}, chain("d"), "tree defaults, outside the tree")
	// deployment.yaml was missing: the default is used.
	assert.Len(t, c.Deployment.Targets, 7)
}

func TestDeployment(t *testing.T) {
	d := Default().Deployment
	k := d.Target("tars-cuda")
	require.NotNil(t, k)
	assert.Equal(t, KindKubernetes, k.Kind)
	assert.Equal(t, 1, k.Replicas)
	assert.Equal(t, []string{"cuda"}, k.Runtimes())
	assert.Equal(t, "tars.cuda", d.Queue(k, "cuda"))
	h := d.Target("hyperlight")
	assert.True(t, h.Resources.KVM)
	assert.Equal(t, Pool{Runtime: "hyperlight", Capacity: 16, MemoryMiB: 64}, h.Pools[0])
	assert.Equal(t, Ceiling{}, h.Ceiling, "no ceiling block: the safe default")
	assert.Equal(t, Ceiling{HTTPHosts: []string{"api.openai.com"}, Env: []string{"OPENAI_API_KEY"}, MemoryMiB: 256},
		d.Target("native-service").Ceiling)
	assert.Nil(t, d.Target("nope"))
}

func TestLoadDefaultsDir(t *testing.T) {
	// The shipped files, loaded from disk, equal the embedded defaults.
	c, err := Load(".")
	require.NoError(t, err)
	assert.Equal(t, Default(), c)
}

func TestPrices(t *testing.T) {
	c := Default()
	assert.Equal(t, &plan.Price{Input: 0.15, Output: 0.60}, c.Price("gpt-4o-mini"))
	assert.NotNil(t, c.Price("echo"), "echo is priced, so usd budgets can be tried offline")
	assert.Nil(t, c.Price("my-local-model"))
}

func TestLoadErrors(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "missing"))
	assert.Error(t, err)
}

func write(t *testing.T, dir, name, src string) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644))
}

// TestInvalid checks faults with exact positions; each case writes one file
// and keeps the defaults for the others.
func TestInvalid(t *testing.T) {
	cases := []struct {
		name, file, src string
		want            []string
	}{
		{"unknown keys", AgentsFile, `agents:
  - id: planner
    rol: plans
    model: {provider: echo, temprature: 0.1}
  - id: planner
`, []string{
			"agents.yaml:3:5: unknown key \"rol\" in agent (did you mean \"role\"?)",
			"agents.yaml:4:29: unknown key \"temprature\" in model (did you mean \"temperature\"?)",
			"agents.yaml:5:9: duplicate agent \"planner\" (first at 2:9)",
		}},
		{"models", AgentsFile, `models:
  big: {provider: openai}
  Bad: {provider: echo}
agents:
  - id: a
    model: bigg
  - id: b
    model: {provider: echo, temperature: 3, max_tokens: 0, endpoint: ftp://x, api_key_env: "bad var"}
  - {id: c, runtime: [native, gpu, native, auto], tools: [echo, "wasm:", "cpu:x"]}
  - {id: Nope}
`, []string{
			"agents.yaml:2:8: an openai model needs a name (e.g. gpt-4o-mini)",
			"agents.yaml:2:8: an openai model needs an endpoint (e.g. https://api.openai.com/v1)",
			"agents.yaml:3:3: model name \"Bad\" must be lower-case letters, digits and dashes",
			"agents.yaml:6:12: unknown model \"bigg\" (no models are defined under models)",
			"agents.yaml:8:42: temperature must be between 0 and 2, not 3",
			"agents.yaml:8:57: max_tokens must be at least 1, not 0",
			"agents.yaml:8:70: endpoint \"ftp://x\" must be an http:// or https:// URL",
			"agents.yaml:8:92: api_key_env \"bad var\" must be an environment variable name",
			"agents.yaml:9:31: unknown runtime \"gpu\" in runtime (want native, wasm, hyperlight, cuda)",
			"agents.yaml:9:36: runtime native appears twice in runtime",
			"agents.yaml:9:44: runtime: auto is chosen per step in a metascript, not as a default chain",
			"agents.yaml:9:59: tools entry \"echo\" must be runtime:name (e.g. native:echo) or runtime:*",
			"agents.yaml:9:65: tools entry \"wasm:\" has no tool name after the colon",
			"agents.yaml:9:74: unknown runtime \"cpu\" in tools entry \"cpu:x\"",
			"agents.yaml:10:10: agent id \"Nope\" must be lower-case letters, digits and dashes, starting with a letter",
		}},
		{"prices", AgentsFile, `prices:
  gpt-4o-mini: {input: 0.15}
  cheap: {input: -1, output: 0.1, cached: 0.01}
  odd: 3
agents: []
`, []string{
			"agents.yaml:2:16: price of gpt-4o-mini needs output (US dollars per million tokens)",
			"agents.yaml:3:18: price input of cheap must not be negative",
			"agents.yaml:3:35: unknown key \"cached\" in price",
			"agents.yaml:4:8: price must be a mapping, not the number 3",
		}},
		{"tree", TreeFile, `departments:
  - id: ops
    parent: dev
    teams:
      - {id: sre, agents: [planner, log-analyst, planer]}
  - id: dev
    parent: ops
    teams:
      - {id: sre, agents: []}
      - {id: web, agents: [log-analyst]}
  - id: qa
    parent: qa
  - id: ux
    parent: uxx
swarms:
  - {id: s, agents: [planner, planner, ghost]}
`, []string{
			"agent-tree.yaml:3:13: department cycle: ops -> dev -> ops",
			"agent-tree.yaml:5:50: unknown agent \"planer\" in team sre (did you mean \"planner\"?)",
			"agent-tree.yaml:9:14: duplicate team \"sre\" (first at 5:14)",
			"agent-tree.yaml:10:28: agent \"log-analyst\" is already in team sre (at 5:37); an agent belongs to one team, group agents across teams with a swarm",
			"agent-tree.yaml:12:13: department qa cannot be its own parent",
			"agent-tree.yaml:14:13: unknown parent department \"uxx\" (did you mean \"ux\"?)",
			"agent-tree.yaml:16:31: agent \"planner\" is listed twice in swarm s",
			"agent-tree.yaml:16:40: unknown agent \"ghost\" in swarm s",
		}},
		{"deployment", DeploymentFile, `queue_prefix: TARS
targets:
  - id: box
    kind: servce
    image: x
    pools: {native: {capacity: -1}, gpu: {}, hyperlight: {}}
    resources: {cpu: lots}
  - id: pod
    kind: container
    pools: {cuda: {capacity: 2}}
    replicas: 2
  - id: box
    kind: service
`, []string{
			"deployment.yaml:1:15: queue_prefix \"TARS\" must be lower-case letters, digits, dots, dashes and underscores",
			"deployment.yaml:4:11: kind must be one of service, container, kubernetes, not \"servce\" (did you mean \"service\"?)",
			"deployment.yaml:6:32: capacity must not be negative (0 sizes the pool from the detected resources)",
			"deployment.yaml:6:37: unknown runtime \"gpu\" in pools (want native, wasm, hyperlight, cuda)",
			"deployment.yaml:6:46: the hyperlight pool needs resources.kvm: true",
			"deployment.yaml:7:22: cpu \"lots\" must be a number of cores such as \"2\" or \"500m\"",
			"deployment.yaml:8:5: container target pod needs an image",
			"deployment.yaml:10:13: the cuda pool needs resources.gpus of at least 1",
			"deployment.yaml:11:5: replicas applies only to kubernetes targets, not container",
			"deployment.yaml:12:9: duplicate target \"box\" (first at 3:9)",
		}},
		{"ceiling", DeploymentFile, `targets:
  - id: box
    kind: service
    pools: {native: {}}
    ceiling:
      shell: yes please
      http_hosts: ["https://api.example.com/v1", "api.*.com", ""]
      read_dirs: [data]
      env: [OPENAI_API_KEY, "A-B"]
      memory_mib: 0
      write_dir: /tmp
`, []string{
			"deployment.yaml:6:14: shell must be true or false, not \"yes please\"",
			"deployment.yaml:7:20: http_hosts entry \"https://api.example.com/v1\" must be a host such as api.example.com or 127.0.0.1:8080, not a URL",
			"deployment.yaml:7:50: http_hosts entry \"api.*.com\": a wildcard is written *.example.com",
			"deployment.yaml:7:63: http_hosts entry must not be empty",
			"deployment.yaml:8:19: read_dirs entry \"data\" must be an absolute path",
			"deployment.yaml:9:29: env entry \"A-B\" must be a variable name, or a prefix ending in * (e.g. TARS_SECRET_*)",
			"deployment.yaml:10:19: memory_mib must be at least 1, not 0",
			"deployment.yaml:11:7: unknown key \"write_dir\" in ceiling (did you mean \"write_dirs\"?)",
		}},
		{"yaml", TreeFile, "departments: [\n", []string{
			"agent-tree.yaml:2:1: yaml: did not find expected node content",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, tc.file, tc.src)
			_, err := Load(dir)
			var ds diag.Diagnostics
			require.True(t, errors.As(err, &ds), "want diagnostics, got %v", err)
			var got []string
			for _, d := range ds {
				got = append(got, filepath.Base(d.File)+":"+strconv.Itoa(d.Line)+":"+strconv.Itoa(d.Col)+": "+d.Msg)
			}
			assert.Equal(t, tc.want, got)
		})
	}
}
