package zoom

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// Bounds of the listings behind ActionData and FieldCatalog.
const (
	pageSize = 300 // Zoom's largest page
	maxPages = 5
	// maxDetails bounds the meetings (and, separately, webinars) read one by one to learn
	// whether registration is on: the listing does not say.
	maxDetails = 200
	// detailWorkers is how many of those reads run at once.
	detailWorkers = 4
)

// event is a meeting or webinar as the listings and GET /{meetings|webinars}/{id} give it.
type event struct {
	ID        int64  `json:"id"`
	Topic     string `json:"topic"`
	Type      int    `json:"type"`
	StartTime string `json:"start_time"`
	Duration  int    `json:"duration"`
	Settings  struct {
		ApprovalType *int `json:"approval_type"`
	} `json:"settings"`
}

// Test checks the credentials with GET /users/me (Light), the call Identify makes.
func (s *sender) Test(ctx context.Context) error {
	var u user
	res := s.getJSON(ctx, "/users/me", nil, &u)
	if res == nil {
		return nil
	}
	e := &switchyard.Error{Code: switchyard.EINVALID, Message: "The test call to Zoom (GET /users/me) failed: " + res.Message}
	if s.c.serverToServer() {
		for _, k := range []string{KeyAccountID, KeyClientID, KeyClientSecret} {
			e.Fields = append(e.Fields, switchyard.FieldError{Param: destination.ParamPrefix + k, Msg: "test call failed (" + string(res.Outcome) + ")"})
		}
	}
	return e
}

// ActionData lists the upcoming meetings and webinars whose registration is on:
// {"add_meeting_registrant": {"meetings": [{"id", "name", "start_time"}]},
// "add_webinar_registrant": {"webinars": [...]}}.
func (s *sender) ActionData(ctx context.Context) (map[string]any, error) {
	ms, err := s.registrable(ctx, meetings)
	if err != nil {
		return nil, err
	}
	ws, err := s.registrable(ctx, webinars)
	if err != nil {
		return nil, err
	}
	return map[string]any{
		ActionAddMeetingRegistrant: map[string]any{"meetings": items(ms)},
		ActionAddWebinarRegistrant: map[string]any{"webinars": items(ws)},
	}, nil
}

func items(es []event) []map[string]any {
	out := make([]map[string]any, 0, len(es))
	for _, e := range es {
		out = append(out, map[string]any{"id": strconv.FormatInt(e.ID, 10), "name": e.Topic, "start_time": e.StartTime})
	}
	return out
}

// FieldCatalog is the registrant fields, then the custom questions of the upcoming meetings and
// webinars that take registrants, keyed by title (the first question of a title gives its type).
func (s *sender) FieldCatalog(ctx context.Context) ([]destination.CatalogField, error) {
	out := standardCatalog()
	type source struct {
		k  kind
		id string
	}
	var sources []source
	for _, k := range []kind{meetings, webinars} {
		es, err := s.registrable(ctx, k)
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			sources = append(sources, source{k, strconv.FormatInt(e.ID, 10)})
		}
	}
	questions := make([][]customQuestion, len(sources))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(detailWorkers)
	for i, src := range sources {
		g.Go(func() error {
			qs, res := s.customQuestions(gctx, src.k, src.id)
			if res != nil {
				if res.Outcome == switchyard.OutcomeDestinationNotFound {
					return nil // deleted since it was listed
				}
				return resultError("reading the registration questions of "+src.k.noun+" "+src.id, res)
			}
			questions[i] = qs
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	seen := map[string]int{}
	for i, qs := range questions {
		for _, q := range qs {
			if q.Title == "" || registrantField[q.Title] {
				continue
			}
			ref := sources[i].k.noun + ":" + sources[i].id
			if n, ok := seen[q.Title]; ok {
				pm := out[n].ProviderMeta
				pm["events"] = append(pm["events"].([]string), ref)
				continue
			}
			seen[q.Title] = len(out)
			out = append(out, questionField(q, ref))
		}
	}
	return out, nil
}

// Documented values of the registrant's choice fields ("Add a meeting registrant").
var (
	purchasingTimeFrames   = []string{"Within a month", "1-3 months", "4-6 months", "More than 6 months", "No timeframe"}
	rolesInPurchaseProcess = []string{"Decision Maker", "Evaluator/Recommender", "Influencer", "Not involved"}
	numbersOfEmployees     = []string{"1-20", "21-50", "51-100", "101-500", "500-1,000", "1,001-5,000", "5,001-10,000", "More than 10,000"}
)

func standardCatalog() []destination.CatalogField {
	str := func(key, label, desc string) destination.CatalogField {
		return destination.CatalogField{Key: key, Label: label, Type: "string", Description: desc}
	}
	enum := func(key, label, desc string, values []string) destination.CatalogField {
		return destination.CatalogField{Key: key, Label: label, Type: "enum", Description: desc,
			Constraints: &destination.FieldConstraints{AllowedValues: append([]string(nil), values...)}}
	}
	email := str("email", "Email", "The registrant's email address. Required: without it nothing is sent.")
	email.Constraints = &destination.FieldConstraints{Format: "email", Required: true}
	first := str("first_name", "First name", "Required by Zoom; when no field is mapped, the email's local part is sent.")
	first.Constraints = &destination.FieldConstraints{MaxLength: maxNameLength}
	last := str("last_name", "Last name", "")
	last.Constraints = &destination.FieldConstraints{MaxLength: maxNameLength}
	phone := str("phone", "Phone", "")
	phone.Constraints = &destination.FieldConstraints{Format: "phone"}
	return []destination.CatalogField{
		email, first, last,
		str("address", "Address", ""),
		str("city", "City", ""),
		str("country", "Country", "Two-letter country code."),
		str("zip", "ZIP or postal code", ""),
		str("state", "State or province", ""),
		phone,
		str("industry", "Industry", ""),
		str("org", "Organization", ""),
		str("job_title", "Job title", ""),
		enum("purchasing_time_frame", "Purchasing time frame", "", purchasingTimeFrames),
		enum("role_in_purchase_process", "Role in purchase process", "", rolesInPurchaseProcess),
		enum("no_of_employees", "Number of employees", "", numbersOfEmployees),
		str("comments", "Questions and comments", ""),
	}
}

// questionField is the catalog field of a custom question: short → string, single (meetings)
// or single_radio/single_dropdown (webinars) → enum, multiple → multi_enum.
func questionField(q customQuestion, ref string) destination.CatalogField {
	f := destination.CatalogField{Key: q.Title, Label: q.Title, Type: "string",
		Description:  "Custom registration question.",
		ProviderMeta: map[string]any{"custom_question": true, "question_type": q.Type, "events": []string{ref}}}
	switch q.Type {
	case "single", "single_radio", "single_dropdown":
		f.Type = "enum"
	case "multiple":
		f.Type = "multi_enum"
	case "short", "":
	default:
		f.Type = "unknown"
	}
	if q.Required || (f.Type == "enum" || f.Type == "multi_enum") && len(q.Answers) > 0 {
		f.Constraints = &destination.FieldConstraints{Required: q.Required}
		if f.Type == "enum" || f.Type == "multi_enum" {
			f.Constraints.AllowedValues = append([]string(nil), q.Answers...)
		}
	}
	return f
}

// registrable lists the user's upcoming meetings (type=upcoming) or webinars and keeps those
// whose registration is on (settings.approval_type 0 or 1, from one GET per event).
func (s *sender) registrable(ctx context.Context, k kind) ([]event, error) {
	listed, err := s.upcoming(ctx, k)
	if err != nil || len(listed) == 0 {
		return nil, err
	}
	if len(listed) > maxDetails {
		listed = listed[:maxDetails]
	}
	keep := make([]bool, len(listed))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(detailWorkers)
	for i := range listed {
		g.Go(func() error {
			var e event
			id := strconv.FormatInt(listed[i].ID, 10)
			if res := s.getJSON(gctx, "/"+k.path+"/"+id, nil, &e); res != nil {
				if res.Outcome == switchyard.OutcomeDestinationNotFound {
					return nil
				}
				return resultError("reading "+k.noun+" "+id, res)
			}
			keep[i] = e.Settings.ApprovalType == nil || *e.Settings.ApprovalType != 2
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var out []event
	for i, e := range listed {
		if keep[i] {
			out = append(out, e)
		}
	}
	return out, nil
}

// upcoming pages through GET /users/me/meetings?type=upcoming (Medium) or GET
// /users/me/webinars (Medium; the webinars that have ended are left out here). An account
// without a webinar plan answers the webinar listing with an error: no webinars.
func (s *sender) upcoming(ctx context.Context, k kind) ([]event, error) {
	var out []event
	now := time.Now()
	next := ""
	for page := 0; page < maxPages; page++ {
		q := url.Values{"page_size": {strconv.Itoa(pageSize)}}
		if k == meetings {
			q.Set("type", "upcoming")
		}
		if next != "" {
			q.Set("next_page_token", next)
		}
		var body struct {
			NextPageToken string  `json:"next_page_token"`
			Meetings      []event `json:"meetings"`
			Webinars      []event `json:"webinars"`
		}
		if res := s.getJSON(ctx, "/users/me/"+k.path, q, &body); res != nil {
			if k == webinars && page == 0 && (res.HTTPStatus == http.StatusBadRequest || res.HTTPStatus == http.StatusForbidden) {
				return nil, nil
			}
			return nil, resultError("listing the "+k.path, res)
		}
		if k == webinars {
			for _, e := range body.Webinars {
				if !ended(e, now) {
					out = append(out, e)
				}
			}
		} else {
			out = append(out, body.Meetings...)
		}
		if body.NextPageToken == "" {
			break
		}
		next = body.NextPageToken
	}
	return out, nil
}

// ended reports whether a listed webinar is over: its start plus duration is past. Recurring
// webinars without a fixed time have no start_time and never end.
func ended(e event, now time.Time) bool {
	if e.StartTime == "" {
		return false
	}
	t, err := time.Parse(time.RFC3339, e.StartTime)
	if err != nil {
		return false
	}
	return t.Add(time.Duration(e.Duration) * time.Minute).Before(now)
}

// resultError turns a failed call behind ActionData or FieldCatalog into an error for the API:
// the provider's explanation, with the code of a rate limit or else EINVALID (the connection,
// not Switchyard, needs attention).
func resultError(what string, res *destination.Result) error {
	code := switchyard.EINVALID
	if res.Outcome == switchyard.OutcomeRateLimited {
		code = switchyard.ERATELIMITED
	}
	return &switchyard.Error{Code: code, Message: "Zoom: " + what + " failed: " + res.Message}
}
