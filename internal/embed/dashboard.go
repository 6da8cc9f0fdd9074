package embed

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/switchyardhq/switchyard/internal/api"
	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// bar is one hour of the dashboard's volume chart, in SVG units.
type bar struct {
	X, Width          int
	Y, Height         int // all events of the hour
	FailedY, FailedH  int // the failed ones, drawn over the bottom of the bar
	Label             string
	Total, Failed, OK int
}

// Chart geometry (SVG user units; the chart scales to the page's width).
const (
	chartWidth  = 480
	chartHeight = 120
)

// dashboard loads the last 24 hours of a workspace (or resource): events by status, the hourly
// volume chart, the attempts' success rate and failures by outcome, and the age of the backlog.
func (h *Handler) dashboard(ctx context.Context, ss *api.Session, resource, resourceID string) (any, int, error) {
	now := h.cfg.Now().UTC()
	since := now.Truncate(time.Hour).Add(-(dashboardHours - 1) * time.Hour)
	a, err := h.cfg.Store.WorkspaceActivity(ctx, store.WorkspaceActivityParams{OrganizationID: ss.OrganizationID,
		WorkspaceID: ss.WorkspaceID, Resource: resource, ResourceID: resourceID, Since: since, Now: now})
	if err != nil {
		return nil, 0, err
	}
	byStatus := map[switchyard.Status]int{}
	peak := 1
	for _, hour := range a.Hours {
		n := 0
		for st, c := range hour {
			byStatus[st] += c
			n += c
		}
		peak = max(peak, n)
	}
	step := chartWidth / max(1, len(a.Hours))
	var bars []bar
	for i, hour := range a.Hours {
		total := 0
		for _, c := range hour {
			total += c
		}
		failed := hour[switchyard.StatusFailed]
		height := total * chartHeight / peak
		failedH := failed * chartHeight / peak
		bars = append(bars, bar{X: i * step, Width: max(1, step-2), Y: chartHeight - height, Height: height,
			FailedY: chartHeight - failedH, FailedH: failedH, Total: total, Failed: failed, OK: hour[switchyard.StatusCompleted],
			Label: since.Add(time.Duration(i) * time.Hour).Format("15:04")})
	}
	type count struct {
		Status switchyard.Status
		N      int
	}
	var counts []count
	for _, s := range []switchyard.Status{switchyard.StatusCompleted, switchyard.StatusFailed, switchyard.StatusRetrying,
		switchyard.StatusPending, switchyard.StatusProcessing, switchyard.StatusCanceled} {
		counts = append(counts, count{s, byStatus[s]})
	}
	type failure struct {
		Outcome switchyard.Outcome
		N       int
	}
	var failures []failure
	for o, n := range a.FailedAttempts {
		failures = append(failures, failure{o, n})
	}
	sort.Slice(failures, func(i, j int) bool {
		if failures[i].N != failures[j].N {
			return failures[i].N > failures[j].N
		}
		return failures[i].Outcome < failures[j].Outcome
	})
	success := "—"
	if a.Attempts > 0 {
		success = fmt.Sprintf("%.1f %%", 100*float64(a.Delivered)/float64(a.Attempts))
	}
	backlog := "nothing waiting"
	if a.OldestDue != nil {
		backlog = "oldest waiting " + age(now.Sub(*a.OldestDue))
	}
	scope := ""
	if resource != "" {
		scope = resource + "/" + resourceID
	}
	return map[string]any{"Counts": counts, "Bars": bars, "ChartWidth": chartWidth, "ChartHeight": chartHeight,
		"Peak": peak, "Success": success, "Attempts": a.Attempts, "Failures": failures, "Backlog": backlog,
		"Hours": dashboardHours, "Scope": scope}, http.StatusOK, nil
}

// age is a duration as a person reads it: 45s, 12m, 3h, 2d.
func age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
