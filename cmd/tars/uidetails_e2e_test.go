package main

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tars-engine/tars/internal/devserver"
	"github.com/tars-engine/tars/plan"
	"github.com/tars-engine/tars/workflows"
)

var (
	reListItem = regexp.MustCompile(`(?s)<li[^>]*>(.*?)</li>`)
	reTag      = regexp.MustCompile(`<[^>]*>`)
	// the iframe the Web UI renders a run's details in
	reDetailsFrame = regexp.MustCompile(`<iframe[^>]*src="(/render\?content=[^"]*)"[^>]*id="user-metadata-details"`)
)

// detailsPlan has the shapes the details list shows: agents, a fallback
// chain, needs and an on_error handler.
func detailsPlan() *plan.Plan {
	native := []string{"native"}
	return &plan.Plan{
		Schema: plan.SchemaVersion, Name: "ui-details", SHA256: "0123456789abcdef0123", Version: "1.0",
		Description: "Four steps, to show how the Web UI draws the run's details.",
		Agents: []plan.Agent{
			{ID: "planner", Department: "engineering", Team: "platform"},
			{ID: "release-manager", Department: "operations", Team: "release-management"},
		},
		Steps: []plan.Step{
			{ID: "plan", Kind: plan.KindTool, Agent: "planner", Runtimes: native, Tool: "echo", With: json.RawMessage(`{"value": "go"}`)},
			{ID: "check-notes", Kind: plan.KindTool, Agent: "release-manager", Needs: []string{"plan"}, Runtimes: native, Tool: "fail",
				With: json.RawMessage(`{"times": -1, "message": "notes are missing"}`), Retry: &plan.Retry{Attempts: 1},
				OnError: plan.OnError{Action: plan.OnErrorStep, Step: "draft-notes"}},
			{ID: "draft-notes", Kind: plan.KindTool, Agent: "release-manager", Needs: []string{"plan"}, Runtimes: native, Tool: "echo",
				With: json.RawMessage(`{"value": "draft"}`)},
			{ID: "publish", Kind: plan.KindTool, Agent: "release-manager", Needs: []string{"check-notes", "draft-notes"}, Runtimes: native, Tool: "echo",
				With: json.RawMessage(`{"value": "published"}`)},
		},
	}
}

// TestWebUIDetailsChromium opens a run's page in the embedded Temporal Web
// UI in headless Chromium and checks that its details (workflows.Details)
// are drawn as a list with one item a step, not as a padless table; the
// screenshot is docs/ui-details.png (-update-golden writes it).
func TestWebUIDetailsChromium(t *testing.T) {
	chromium := needChromium(t)
	if testing.Short() {
		t.Skip("end-to-end: starts its own embedded Temporal server with the Web UI; run without -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv, err := devserver.Start(ctx, devserver.Options{SearchAttributes: searchAttributes(), Tuned: true, LogLevel: "error"})
	require.NoError(t, err)
	defer func() { _ = srv.Stop() }()
	require.NotEmpty(t, srv.UIAddress())

	g := &globals{}
	require.NoError(t, g.resolve())
	g.address, g.namespace, g.queuePrefix, g.logLevel = srv.FrontendAddress(), srv.Namespace(), "uidetails", "error"
	c, err := g.dial(ctx)
	require.NoError(t, err)
	defer c.Close()
	e := &testEnv{t: t, g: g, srv: srv, c: c}
	e.startWorkers(true, "native")
	defer e.stopWorkers()

	p := detailsPlan()
	o := workflows.Options{QueuePrefix: g.queuePrefix}
	run, err := workflows.StartRun(ctx, c, workflows.StartOptions(p, newRunID(p.Name), o), p.Name, workflows.RunInput{Plan: p, Options: o})
	require.NoError(t, err)
	require.NoError(t, run.Get(ctx, nil))

	page := srv.UIAddress() + "/namespaces/" + url.PathEscape(g.namespace) + "/workflows/" + url.PathEscape(run.GetID()) + "/" + run.GetRunID() + "/user-metadata"
	dom := string(headless(t, chromium, page, "--virtual-time-budget=20000", "--dump-dom"))
	if dir := os.Getenv("TARS_TEST_ARTIFACTS"); dir != "" {
		_ = os.WriteFile(filepath.Join(dir, "ui-details.html"), []byte(dom), 0o644)
	}
	// The UI renders the details' markdown in an iframe of its own
	// (/render?content=...): load that page too.
	m := reDetailsFrame.FindStringSubmatch(dom)
	require.NotNil(t, m, "the run's page has a details iframe")
	src := strings.ReplaceAll(m[1], "&amp;", "&")
	frame := string(headless(t, chromium, srv.UIAddress()+src, "--virtual-time-budget=10000", "--dump-dom"))
	if dir := os.Getenv("TARS_TEST_ARTIFACTS"); dir != "" {
		_ = os.WriteFile(filepath.Join(dir, "ui-details-frame.html"), []byte(frame), 0o644)
	}
	// Every step is a list item of the rendered details, whole: id, tool,
	// agent, runtime, needs and on_error in one item.
	var items []string
	for _, m := range reListItem.FindAllStringSubmatch(frame, -1) {
		items = append(items, strings.TrimSpace(reTag.ReplaceAllString(m[1], "")))
	}
	for _, s := range p.Steps {
		found := false
		for _, it := range items {
			found = found || strings.HasPrefix(it, s.ID+" — ")
		}
		assert.True(t, found, "step %s is a list item of the details; items: %q", s.ID, items)
	}
	assert.Contains(t, items, "check-notes — tool fail · agent release-manager · on native · after plan · on error: draft-notes")
	assert.False(t, regexp.MustCompile(`<td[^>]*>\s*check-notes\s*</td>`).MatchString(frame), "no table cells")

	shot := filepath.Join(t.TempDir(), "ui-details.png")
	headless(t, chromium, page, "--virtual-time-budget=20000", "--screenshot="+shot, "--window-size=1400,1000", "--hide-scrollbars")
	b, err := os.ReadFile(shot)
	require.NoError(t, err)
	require.Greater(t, len(b), 20_000, "a screenshot of the page, not a blank one")
	if *updateGolden {
		require.NoError(t, os.WriteFile("../../docs/ui-details.png", b, 0o644))
	}
	if dir := os.Getenv("TARS_TEST_ARTIFACTS"); dir != "" {
		_ = os.WriteFile(filepath.Join(dir, "ui-details.png"), b, 0o644)
	}
}
