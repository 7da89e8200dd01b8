package metascripts

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/tars-engine/tars/configs"
	"github.com/tars-engine/tars/plan"
)

func examples(t testing.TB) []string {
	files, err := filepath.Glob("examples/*.yaml")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 6)
	return files
}

func compileExample(t *testing.T, name string, o Options) *plan.Plan {
	t.Helper()
	p, err := CompileFile(filepath.Join("examples", name+".yaml"), o)
	require.NoError(t, err)
	return p
}

func stepIDs(p *plan.Plan) []string {
	out := make([]string, len(p.Steps))
	for i, s := range p.Steps {
		out[i] = s.ID
	}
	return out
}

func TestExamplesCompile(t *testing.T) {
	for _, f := range examples(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			p, err := CompileFile(f, Options{Catalog: pools(), Config: configs.Default()})
			require.NoError(t, err)
			src, err := os.ReadFile(f)
			require.NoError(t, err)
			sum := sha256.Sum256(src)
			assert.Equal(t, hex.EncodeToString(sum[:]), p.SHA256)
			assert.Equal(t, f, p.Source)
			assert.Equal(t, plan.SchemaVersion, p.Schema)
			assert.Equal(t, strings.TrimSuffix(filepath.Base(f), ".yaml"), p.Name, "file name and metascript name agree, so call can find it")
			for _, s := range p.Steps {
				assert.NotEmpty(t, s.Agent+s.Kind)
				if s.Kind == plan.KindTool || s.Kind == plan.KindReason {
					assert.NotEmpty(t, s.Runtimes, s.ID)
				}
			}
			for _, a := range p.Agents {
				assert.NotEmpty(t, a.Department, "every example uses agents placed in the default tree: %s", a.ID)
			}
		})
	}
}

func TestIncidentTriagePlan(t *testing.T) {
	cat := pools()
	p := compileExample(t, "incident-triage", Options{Catalog: cat})
	assert.Equal(t, []string{"plan", "scan", "similar", "approve", "fix"}, stepIDs(p))

	plan0 := p.Step("plan")
	assert.Equal(t, plan.KindReason, plan0.Kind)
	assert.Equal(t, ReasonTool, plan0.Tool)
	assert.Equal(t, []string{"native"}, plan0.Runtimes)
	var with map[string]any
	require.NoError(t, json.Unmarshal(plan0.With, &with))
	assert.Equal(t, map[string]any{"provider": "echo", "name": "echo", "max_tokens": float64(2048), "temperature": float64(0),
		"price": map[string]any{"input": 0.15, "output": 0.6}}, with["model"], "temperature 0 is kept, not dropped")
	assert.Contains(t, with["system"], "You lead incident response")
	assert.Equal(t, "Plan an investigation of: ${inputs.incident}. Services involved: ${inputs.services}.", with["prompt"])
	assert.Equal(t, "examples/incident-triage.yaml:48:5", plan0.Pos)

	scan := p.Step("scan")
	assert.Equal(t, "log-scan", scan.Tool)
	assert.Equal(t, []string{"wasm"}, scan.Runtimes)
	assert.Equal(t, map[string]string{"wasm": cat["wasm"]["log-scan"]}, scan.Digests)
	assert.Equal(t, "inputs.services", scan.Foreach, "foreach is stored as bare CEL")
	assert.Equal(t, 4, scan.Concurrency)
	assert.JSONEq(t, `{"service":"${item}","text":"${inputs.logs[item]}"}`, string(scan.With))
	assert.Equal(t, &plan.Retry{Attempts: 3, Backoff: plan.Duration(1e9)}, scan.Retry)
	assert.Equal(t, "30s", scan.Timeout.D().String())

	similar := p.Step("similar")
	assert.Equal(t, []string{"cuda", "native"}, similar.Runtimes)
	assert.Empty(t, similar.Digests, "native and cuda tools have no artifact digest")
	assert.Equal(t, "10s", similar.ScheduleToStart.D().String())

	approve := p.Step("approve")
	assert.Equal(t, plan.KindApproval, approve.Kind)
	assert.Equal(t, "reject", approve.Approval.Default)
	assert.Equal(t, "30s", approve.Approval.Timeout.D().String())
	assert.Empty(t, approve.Runtimes)

	fix := p.Step("fix")
	assert.Equal(t, []string{"hyperlight"}, fix.Runtimes)
	assert.Equal(t, plan.IsolationHardware, fix.MinIsolation)
	assert.Equal(t, "steps.approve.approved", fix.When)
	assert.Equal(t, map[string]string{"hyperlight": cat["hyperlight"]["policy-check"]}, fix.Digests)

	retriever := p.Agent("retriever")
	require.NotNil(t, retriever)
	assert.Equal(t, "knowledge-management", retriever.Department)
	assert.Equal(t, "retrieval", retriever.Team)
	assert.Equal(t, []string{"incident-response"}, retriever.Swarms)
	assert.Equal(t, []string{"cuda", "native"}, retriever.Runtimes)

	assert.Equal(t, []plan.Output{
		{Name: "plan", Value: json.RawMessage(`"${steps.plan.output}"`)},
		{Name: "errors", Value: json.RawMessage(`"${steps.scan.output}"`)},
		{Name: "decision", Value: json.RawMessage(`"${steps.approve.output}"`)},
		{Name: "fixed", Value: json.RawMessage(`"${steps.fix.status == \"ok\"}"`)},
	}, p.Outputs)
	assert.Equal(t, 200, p.Policy.MaxSteps)
	assert.Equal(t, map[string]float64{"tokens": 20000}, p.Policy.Budgets)
	assert.Equal(t, 64, p.Policy.Grants.MemoryMiB)
}

func TestChainsResolved(t *testing.T) {
	// Inherited chains are narrowed to runtimes that offer the tool; auto
	// lists every runtime that can run it.
	dq := compileExample(t, "data-quality", Options{Catalog: pools()})
	assert.Equal(t, []string{"validate", "stats", "quarantine", "report"}, stepIDs(dq))
	assert.Equal(t, []string{"wasm"}, dq.Step("validate").Runtimes, "agent chain [wasm, native] narrowed to wasm")
	assert.Equal(t, plan.OnError{Action: plan.OnErrorStep, Step: "quarantine"}, dq.Step("validate").OnError)
	assert.Equal(t, []string{"wasm"}, dq.Step("stats").Runtimes)
	assert.Equal(t, plan.IsolationSandbox, dq.Step("stats").MinIsolation)
	assert.Equal(t, []string{"native"}, dq.Step("report").Runtimes)
	inline := dq.Agent("csv-inspector")
	require.NotNil(t, inline)
	assert.Equal(t, "quality-assurance", inline.Department)
	assert.Equal(t, "data-quality", inline.Team)

	rn := compileExample(t, "release-notes", Options{Catalog: pools()})
	assert.Equal(t, []string{"grouped", "draft", "polish", "render", "verify"}, stepIDs(rn))
	render := rn.Step("render")
	assert.True(t, render.Auto)
	assert.Equal(t, []string{"native"}, render.Runtimes)

	// auto with a tool two runtimes offer lists both, in plan.Runtimes order.
	src := []byte("metascript: auto\nsteps:\n  - id: k\n    runtime: auto\n    tool: vector.topk\n")
	p, err := Compile("auto.yaml", src, Options{Catalog: pools()})
	require.NoError(t, err)
	assert.Equal(t, []string{"native", "cuda"}, p.Steps[0].Runtimes)
	assert.True(t, p.Steps[0].Auto)

	// With no runtime and no agent, the tree's default chain applies.
	p, err = Compile("default.yaml", []byte("metascript: d\nsteps:\n  - {id: a, tool: echo}\n"), Options{Catalog: pools()})
	require.NoError(t, err)
	assert.Equal(t, []string{"native"}, p.Steps[0].Runtimes)
}

func TestTopologicalOrderTiesByDeclaration(t *testing.T) {
	src := []byte(`metascript: order
steps:
  - {id: e, needs: [d], tool: echo}
  - {id: a, tool: echo}
  - {id: d, needs: [b, c], tool: echo}
  - {id: c, needs: [a], tool: echo}
  - {id: b, tool: echo}
`)
	p, err := Compile("order.yaml", src, Options{Catalog: pools()})
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "c", "b", "d", "e"}, stepIDs(p))
}

func TestWeeklyBriefingChildren(t *testing.T) {
	p := compileExample(t, "weekly-briefing", Options{Catalog: pools()})
	require.Len(t, p.Children, 2)
	assert.Equal(t, "research-digest", p.Children["research-digest"].Name)
	assert.Equal(t, "release-notes", p.Children["release-notes"].Name)
	assert.Equal(t, &plan.Call{Metascript: "release-notes", Inputs: json.RawMessage(`{"release":"${inputs.release}"}`)}, p.Step("notes").Call)
	assert.JSONEq(t, `"Week of ${inputs.release}: ${size(inputs.topics)} topics researched, notes ready"`, string(p.Step("headline").Set))
	assert.Equal(t, "approve", p.Step("publish").Approval.Default)
}

func TestCustomLookup(t *testing.T) {
	var asked []string
	o := Options{Catalog: pools(), Lookup: func(name string) (string, error) {
		asked = append(asked, name)
		return filepath.Join("examples", name+".yaml"), nil
	}}
	src := []byte("metascript: p\nsteps:\n  - id: c\n    call: {metascript: release-notes, inputs: {release: v1}}\n")
	p, err := Compile(filepath.Join(t.TempDir(), "p.yaml"), src, o)
	require.NoError(t, err)
	assert.Equal(t, []string{"release-notes"}, asked)
	assert.Contains(t, p.Children, "release-notes")
}

// TestNativeOnlyExamples: at least three examples run with the native pool
// alone (children included) and finish without a person: every approval
// has a timeout and a default.
func TestNativeOnlyExamples(t *testing.T) {
	var nativeOnly []string
	for _, f := range examples(t) {
		p, err := CompileFile(f, Options{Catalog: pools()})
		require.NoError(t, err)
		if allNative(p) {
			nativeOnly = append(nativeOnly, p.Name)
		}
	}
	assert.GreaterOrEqual(t, len(nativeOnly), 3, "native-only examples: %v", nativeOnly)
	assert.Subset(t, nativeOnly, []string{"release-notes", "research-digest", "weekly-briefing"})
}

func allNative(p *plan.Plan) bool {
	for _, s := range p.Steps {
		for _, rt := range s.Runtimes {
			if rt != plan.RuntimeNative {
				return false
			}
		}
		if s.Approval != nil && (s.Approval.Timeout == 0 || s.Approval.Default == "") {
			return false
		}
		if s.While != nil && s.While.Max > 10 {
			return false
		}
	}
	for _, c := range p.Children {
		if !allNative(c) {
			return false
		}
	}
	return true
}

func TestPlanJSONRoundTrip(t *testing.T) {
	for _, f := range examples(t) {
		p, err := CompileFile(f, Options{Catalog: pools()})
		require.NoError(t, err)
		b, err := json.Marshal(p)
		require.NoError(t, err)
		var back plan.Plan
		require.NoError(t, json.Unmarshal(b, &back))
		assert.Equal(t, p, &back, f)
		b2, err := json.Marshal(&back)
		require.NoError(t, err)
		assert.Equal(t, string(b), string(b2), f)
	}
}

func TestCompileIsDeterministic(t *testing.T) {
	for _, f := range examples(t) {
		p1, err := CompileFile(f, Options{Catalog: pools()})
		require.NoError(t, err)
		p2, err := CompileFile(f, Options{Catalog: pools()})
		require.NoError(t, err)
		b1, _ := json.Marshal(p1)
		b2, _ := json.Marshal(p2)
		assert.Equal(t, string(b1), string(b2))
	}
}

func TestDiagnostics(t *testing.T) {
	_, err := Compile("x.yaml", []byte("metascript: x\nsteps:\n  - {id: b, needs: [zz], tool: echo}\n  - {id: a, tool: ecko}\n"), Options{Catalog: pools()})
	var ds Diagnostics
	require.True(t, errors.As(err, &ds))
	require.Len(t, ds, 2)
	assert.Equal(t, Diagnostic{File: "x.yaml", Line: 3, Col: 21, Msg: `unknown step "zz" in needs`}, ds[0])
	assert.Equal(t, "x.yaml:3:21: unknown step \"zz\" in needs\nx.yaml:4:19: unknown tool \"ecko\": no runtime offers it (did you mean \"echo\"?)", err.Error())
}

func TestCompileFileErrors(t *testing.T) {
	_, err := CompileFile(filepath.Join(t.TempDir(), "missing.yaml"), Options{Catalog: pools()})
	require.Error(t, err)
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestGraph(t *testing.T) {
	p := compileExample(t, "incident-triage", Options{Catalog: pools()})
	g := Graph(p)
	for _, want := range []string{
		"flowchart TD\n",
		`  subgraph agent_retriever["retriever · knowledge-management/retrieval"]`,
		`    s_similar["similar<br/>tool vector.topk<br/>cuda → native"]`,
		`    s_scan["scan<br/>tool log-scan<br/>wasm<br/>foreach ×4"]`,
		`    s_plan("plan<br/>reason<br/>native")`,
		`  s_approve{"approve<br/>approval"}`,
		`    s_fix["fix<br/>tool policy-check<br/>hyperlight (≥ hardware)<br/>when"]`,
		"  s_plan --> s_scan\n",
		"  s_approve --> s_fix\n",
	} {
		assert.Contains(t, g, want)
	}
	dq := compileExample(t, "data-quality", Options{Catalog: pools()})
	assert.Contains(t, Graph(dq), "  s_validate -. on_error .-> s_quarantine\n")
	assert.Equal(t, Graph(dq), Graph(dq))
}

// TestGrammarCoverage: together the examples use every key of the
// language, so that each construct is shown working.
func TestGrammarCoverage(t *testing.T) {
	used := map[string]bool{}
	for _, f := range examples(t) {
		src, err := os.ReadFile(f)
		require.NoError(t, err)
		var doc yaml.Node
		require.NoError(t, yaml.Unmarshal(src, &doc))
		collectKeys(doc.Content[0], metascriptObj, used)
	}
	// Only meaningful with an openai model, which examples must not need.
	skip := map[string]bool{"model.endpoint": true, "model.api_key_env": true}
	for _, o := range objects {
		for _, f := range o.fields {
			k := o.name + "." + f.name
			if !skip[k] {
				assert.True(t, used[k], "no example uses %s", k)
			}
		}
	}
	for _, want := range []string{"runtime=auto", "on_error=continue", "on_error=fail", "isolation=hardware", "isolation=sandbox", "agents=string", "agents=mapping", "model=string", "model=mapping"} {
		assert.True(t, used[want], "no example uses %s", want)
	}
}

func collectKeys(n *yaml.Node, o *object, used map[string]bool) {
	if n.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i].Value, n.Content[i+1]
		f := o.field(k)
		if f == nil {
			continue
		}
		used[o.name+"."+k] = true
		if v.Kind == yaml.ScalarNode {
			used[k+"="+v.Value] = true
		}
		if f.orObject != nil {
			used[k+"="+map[bool]string{true: "mapping", false: "string"}[v.Kind == yaml.MappingNode]] = true
			collectKeys(v, f.orObject, used)
		}
		switch f.shape {
		case shObject:
			collectKeys(v, f.obj, used)
		case shMapOf:
			for j := 1; j < len(v.Content); j += 2 {
				collectKeys(v.Content[j], f.obj, used)
			}
		case shListOf:
			for _, it := range v.Content {
				used[k+"="+map[bool]string{true: "mapping", false: "string"}[it.Kind == yaml.MappingNode]] = true
				collectKeys(it, f.obj, used)
			}
		}
	}
}
