package zoom

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/mail"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Rate-limit categories and the Pro plan's per-second limits ("Rate limits"
// in the Zoom API reference: Light 30/s, Medium 20/s, Heavy 10/s). Each
// endpoint's "Rate Limit Label" gives its category.
var qpsLimit = map[string]int{"Light": 30, "Medium": 20, "Heavy": 10}

const (
	msgQPS   = "You have reached the maximum per-second rate limit for this API. Try again later."
	msgDaily = "You have reached the maximum daily rate limit for this API. Refer to the response header for details on when you can make another request."
)

// route is one API endpoint: method, path pattern (":id" matches one
// segment) and rate-limit category.
type route struct {
	method   string
	pattern  string
	category string
	handle   func(s *Server, w http.ResponseWriter, r *http.Request, h http.Header, args []string, body []byte)
}

var routes = []route{
	{"GET", "/users/:user", "Light", (*Server).getUser},
	{"GET", "/users/:user/meetings", "Medium", (*Server).listMeetings},
	{"GET", "/users/:user/webinars", "Medium", (*Server).listWebinars},
	{"GET", "/meetings/:id", "Light", (*Server).getMeeting},
	{"GET", "/webinars/:id", "Light", (*Server).getWebinar},
	{"POST", "/meetings/:id/registrants", "Light", (*Server).addMeetingRegistrant},
	{"POST", "/webinars/:id/registrants", "Light", (*Server).addWebinarRegistrant},
	{"GET", "/meetings/:id/registrants", "Medium", (*Server).listMeetingRegistrants},
	{"GET", "/webinars/:id/registrants", "Medium", (*Server).listWebinarRegistrants},
	{"GET", "/meetings/:id/registrants/questions", "Light", (*Server).meetingQuestions},
	{"GET", "/webinars/:id/registrants/questions", "Light", (*Server).webinarQuestions},
}

func match(pattern, path string) ([]string, bool) {
	ps, xs := strings.Split(pattern, "/"), strings.Split(path, "/")
	if len(ps) != len(xs) {
		return nil, false
	}
	var args []string
	for i := range ps {
		if strings.HasPrefix(ps[i], ":") {
			if xs[i] == "" {
				return nil, false
			}
			args = append(args, xs[i])
		} else if ps[i] != xs[i] {
			return nil, false
		}
	}
	return args, true
}

func (s *Server) handleAPI(w http.ResponseWriter, r *http.Request, body []byte) {
	s.apiRequests.Add(1)
	if s.failAPI.Serve(w, r) {
		return
	}

	if r.URL.Query().Has("access_token") {
		writeJSON(w, http.StatusUnauthorized, nil, apiError{Code: 124, Message: "Invalid access token, this access token is not supported as query parameter string."})
		return
	}
	if code, msg := s.checkAuth(r); code != 0 {
		writeJSON(w, http.StatusUnauthorized, nil, apiError{Code: code, Message: msg})
		return
	}

	path := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v2"), "/")
	var found *route
	var args []string
	pathKnown := false
	for i := range routes {
		a, ok := match(routes[i].pattern, path)
		if !ok {
			continue
		}
		pathKnown = true
		if routes[i].method == r.Method {
			found, args = &routes[i], a
			break
		}
	}
	if found == nil {
		if pathKnown {
			writeJSON(w, http.StatusMethodNotAllowed, nil, apiError{Code: 405, Message: "Method Not Allowed"})
			return
		}
		writeJSON(w, http.StatusNotFound, nil, apiError{Code: 404, Message: "Not Found"})
		return
	}

	h := http.Header{}
	s.mu.Lock()
	limit := qpsLimit[found.category]
	now := s.opts.Now()
	win := s.qps[found.category]
	if win == nil || win.second != now.Unix() {
		win = &qpsWindow{second: now.Unix()}
		s.qps[found.category] = win
	}
	win.count++
	remaining := limit - win.count
	forced := s.forced
	if forced == 0 && s.opts.EnforceQPS && remaining < 0 {
		forced = RateLimitQPS
	}
	s.mu.Unlock()
	h.Set("X-RateLimit-Category", found.category)
	h.Set("X-RateLimit-Type", "QPS")
	h.Set("X-RateLimit-Limit", strconv.Itoa(limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(max(remaining, 0)))
	switch forced {
	case RateLimitQPS:
		h.Set("X-RateLimit-Remaining", "0")
		h.Set("Retry-After", now.UTC().Truncate(time.Second).Add(time.Second).Format(time.RFC3339))
		writeJSON(w, http.StatusTooManyRequests, h, apiError{Code: 429, Message: msgQPS})
		return
	case RateLimitDaily:
		h.Set("X-RateLimit-Type", "Daily-limit")
		h.Set("X-RateLimit-Remaining", "0")
		y, m, d := now.UTC().Date()
		h.Set("Retry-After", time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC).Format(time.RFC3339))
		writeJSON(w, http.StatusTooManyRequests, h, apiError{Code: 429, Message: msgDaily})
		return
	}
	found.handle(s, w, r, h, args, body)
}

// checkAuth validates the bearer token; it returns a Zoom error code and
// message, or 0.
func (s *Server) checkAuth(r *http.Request) (int, string) {
	auth := r.Header.Get("Authorization")
	const p = "Bearer "
	if len(auth) <= len(p) || !strings.EqualFold(auth[:len(p)], p) {
		return 124, "Invalid access token."
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.access[strings.TrimSpace(auth[len(p):])]
	switch {
	case !ok || t.grant.revoked:
		return 124, "Invalid access token."
	case t.expired:
		return 124, "Access token is expired."
	}
	return 0, ""
}

func (s *Server) isMe(user string) bool {
	return user == "me" || user == s.opts.User.ID || strings.EqualFold(user, s.opts.User.Email)
}

func zoomTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

func (s *Server) getUser(w http.ResponseWriter, r *http.Request, h http.Header, args []string, _ []byte) {
	if !s.isMe(args[0]) {
		writeJSON(w, http.StatusNotFound, h, apiError{Code: 1001, Message: "User does not exist: " + args[0] + "."})
		return
	}
	u := s.opts.User
	writeJSON(w, http.StatusOK, h, map[string]any{
		"id": u.ID, "first_name": u.FirstName, "last_name": u.LastName, "display_name": strings.TrimSpace(u.FirstName + " " + u.LastName),
		"email": u.Email, "type": 2, "role_name": "Owner", "pmi": 5551234567, "use_pmi": false,
		"personal_meeting_url": s.kit.URL() + "/j/5551234567", "timezone": u.Timezone, "verified": 1, "dept": "",
		"created_at": "2020-01-01T00:00:00Z", "user_created_at": "2020-01-01T00:00:00Z", "last_login_time": zoomTime(s.opts.Now()),
		"pic_url": "", "language": "en-US", "phone_number": "", "status": "active", "role_id": "0",
		"account_id": s.opts.AccountID, "account_number": 1234567890, "cluster": "us05", "login_types": []int{100},
	})
}

// pageParams reads page_size (default 30, at most 300) and next_page_token.
func (s *Server) pageParams(w http.ResponseWriter, r *http.Request, h http.Header, key string) (size, offset int, ok bool) {
	q := r.URL.Query()
	size = 30
	if v := q.Get("page_size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeJSON(w, http.StatusBadRequest, h, apiError{Code: 300, Message: "Validation Failed.", Errors: []fieldError{{Field: "page_size", Message: "Invalid field."}}})
			return 0, 0, false
		}
		size = min(n, 300)
	}
	if tok := q.Get("next_page_token"); tok != "" {
		s.mu.Lock()
		c, found := s.pageTokens[tok]
		s.mu.Unlock()
		if !found || c.key != key {
			writeJSON(w, http.StatusBadRequest, h, apiError{Code: 300, Message: "Invalid next_page_token."})
			return 0, 0, false
		}
		offset = c.offset
	}
	return size, offset, true
}

// page slices items and registers a token for the rest.
func (s *Server) page(key string, total, size, offset int) (lo, hi int, next string) {
	lo, hi = min(offset, total), min(offset+size, total)
	if hi < total {
		next = randToken(32)
		s.mu.Lock()
		s.pageTokens[next] = pageCursor{key: key, offset: hi}
		s.mu.Unlock()
	}
	return lo, hi, next
}

func (s *Server) listItem(e *event) map[string]any {
	return map[string]any{
		"uuid": e.UUID, "id": e.ID, "host_id": s.opts.User.ID, "topic": e.Topic, "type": e.Type,
		"start_time": zoomTime(e.StartTime), "duration": e.Duration, "timezone": e.Timezone, "agenda": e.Agenda,
		"created_at": zoomTime(e.created), "join_url": s.joinURL(e),
	}
}

func (s *Server) joinURL(e *event) string {
	if e.webinar {
		return fmt.Sprintf("%s/w/%d", s.kit.URL(), e.ID)
	}
	return fmt.Sprintf("%s/j/%d", s.kit.URL(), e.ID)
}

func (s *Server) listMeetings(w http.ResponseWriter, r *http.Request, h http.Header, args []string, _ []byte) {
	s.listEvents(w, r, h, args, false)
}

func (s *Server) listWebinars(w http.ResponseWriter, r *http.Request, h http.Header, args []string, _ []byte) {
	s.listEvents(w, r, h, args, true)
}

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request, h http.Header, args []string, webinar bool) {
	if !s.isMe(args[0]) {
		writeJSON(w, http.StatusNotFound, h, apiError{Code: 1001, Message: "User does not exist: " + args[0] + "."})
		return
	}
	typ := r.URL.Query().Get("type")
	if typ == "" {
		typ = "scheduled"
	}
	if !webinar {
		switch typ {
		case "scheduled", "live", "upcoming", "upcoming_meetings", "previous_meetings":
		default:
			writeJSON(w, http.StatusBadRequest, h, apiError{Code: 300, Message: "Validation Failed.", Errors: []fieldError{{Field: "type", Message: "Invalid field."}}})
			return
		}
	}
	key := fmt.Sprintf("%v/%s", webinar, typ)
	size, offset, ok := s.pageParams(w, r, h, key)
	if !ok {
		return
	}
	s.mu.Lock()
	now := s.opts.Now()
	var items []map[string]any
	for _, e := range s.sortedEventsLocked(webinar) {
		end := e.StartTime.Add(time.Duration(e.Duration) * time.Minute)
		recurringNoTime := e.Type == 3 || e.Type == 6
		keep := true
		if !webinar {
			switch typ {
			case "live":
				keep = e.Live
			case "upcoming", "upcoming_meetings":
				keep = recurringNoTime || e.Live || !end.Before(now)
			case "previous_meetings":
				keep = !recurringNoTime && end.Before(now)
			}
		}
		if keep {
			items = append(items, s.listItem(e))
		}
	}
	s.mu.Unlock()
	lo, hi, next := s.page(key, len(items), size, offset)
	listKey := "meetings"
	if webinar {
		listKey = "webinars"
	}
	page := items[lo:hi]
	if page == nil {
		page = []map[string]any{}
	}
	writeJSON(w, http.StatusOK, h, map[string]any{
		"page_size": size, "total_records": len(items), "next_page_token": next, listKey: page,
	})
}

// lookup parses a meeting or webinar ID from the path. It writes the error
// and returns nil when the ID is malformed or unknown; notFound formats the
// 404 message.
func (s *Server) lookup(w http.ResponseWriter, h http.Header, raw string, webinar bool, notFound string) *event {
	kind := "meeting"
	if webinar {
		kind = "webinar"
	}
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		writeJSON(w, http.StatusBadRequest, h, apiError{Code: 300, Message: "Invalid " + kind + " id."})
		return nil
	}
	s.mu.Lock()
	e := s.events[id]
	s.mu.Unlock()
	if e == nil || e.webinar != webinar {
		writeJSON(w, http.StatusNotFound, h, apiError{Code: 3001, Message: fmt.Sprintf(notFound, raw)})
		return nil
	}
	return e
}

func (s *Server) getMeeting(w http.ResponseWriter, r *http.Request, h http.Header, args []string, _ []byte) {
	if e := s.lookup(w, h, args[0], false, "Meeting %s is not found or has expired."); e != nil {
		s.writeEvent(w, h, e)
	}
}

func (s *Server) getWebinar(w http.ResponseWriter, r *http.Request, h http.Header, args []string, _ []byte) {
	if e := s.lookup(w, h, args[0], true, "Webinar does not exist: %s."); e != nil {
		s.writeEvent(w, h, e)
	}
}

func (s *Server) writeEvent(w http.ResponseWriter, h http.Header, e *event) {
	s.mu.Lock()
	out := s.listItem(e)
	settings := map[string]any{
		"approval_type": e.ApprovalType, "registration_type": 1, "registrants_confirmation_email": true,
		"registrants_email_notification": true, "host_video": false, "auto_recording": "none",
	}
	if e.ApprovalType != 2 {
		out["registration_url"] = fmt.Sprintf("%s/meeting/register/%s", s.kit.URL(), e.regURLToken)
		settings["registration_url"] = out["registration_url"]
	}
	out["settings"] = settings
	out["host_email"] = s.opts.User.Email
	out["status"] = "waiting"
	if e.Live {
		out["status"] = "started"
	}
	out["start_url"] = fmt.Sprintf("%s/s/%d?zak=%s", s.kit.URL(), e.ID, randToken(16))
	out["password"] = ""
	out["pre_schedule"] = false
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, h, out)
}

func (s *Server) addMeetingRegistrant(w http.ResponseWriter, r *http.Request, h http.Header, args []string, body []byte) {
	e := s.lookup(w, h, args[0], false, "Meeting does not exist: %s.")
	if e == nil {
		return
	}
	s.addRegistrant(w, r, h, e, body)
}

func (s *Server) addWebinarRegistrant(w http.ResponseWriter, r *http.Request, h http.Header, args []string, body []byte) {
	e := s.lookup(w, h, args[0], true, "Webinar does not exist: %s.")
	if e == nil {
		return
	}
	s.addRegistrant(w, r, h, e, body)
}

// registrantFields are the body fields of "Add a meeting registrant"; all
// strings except custom_questions, auto_approve and language.
var registrantFields = map[string]bool{"email": true, "first_name": true, "last_name": true, "address": true, "city": true,
	"state": true, "zip": true, "country": true, "phone": true, "comments": true, "industry": true, "job_title": true,
	"no_of_employees": true, "org": true, "purchasing_time_frame": true, "role_in_purchase_process": true, "language": true}

func invalidBody(w http.ResponseWriter, h http.Header) {
	writeJSON(w, http.StatusBadRequest, h, apiError{Code: 300, Message: "Request Body should be a valid JSON object."})
}

func (s *Server) addRegistrant(w http.ResponseWriter, r *http.Request, h http.Header, e *event, body []byte) {
	ct := r.Header.Get("Content-Type")
	if !strings.HasPrefix(strings.ToLower(ct), "application/json") {
		invalidBody(w, h)
		return
	}
	var in map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&in); err != nil || in == nil || len(bytes.TrimSpace(body[dec.InputOffset():])) != 0 {
		invalidBody(w, h)
		return
	}
	str := map[string]string{}
	var errs []fieldError
	for k, raw := range in {
		switch {
		case registrantFields[k]:
			var v string
			if json.Unmarshal(raw, &v) != nil {
				errs = append(errs, fieldError{Field: k, Message: "Invalid field."})
				continue
			}
			str[k] = v
		case k == "auto_approve":
			var b bool
			if json.Unmarshal(raw, &b) != nil {
				errs = append(errs, fieldError{Field: k, Message: "Invalid field."})
			}
		case k == "custom_questions":
		default:
			// Unknown fields are ignored, as by the API.
		}
	}
	var custom []map[string]string
	if raw, ok := in["custom_questions"]; ok && json.Unmarshal(raw, &custom) != nil {
		errs = append(errs, fieldError{Field: "custom_questions", Message: "Invalid field."})
	}
	if a, err := mail.ParseAddress(str["email"]); str["email"] == "" || err != nil || a.Address != str["email"] {
		errs = append(errs, fieldError{Field: "email", Message: "Invalid field."})
	}
	if str["first_name"] == "" || utf8.RuneCountInString(str["first_name"]) > 64 {
		errs = append(errs, fieldError{Field: "first_name", Message: "Invalid field."})
	}
	if utf8.RuneCountInString(str["last_name"]) > 64 {
		errs = append(errs, fieldError{Field: "last_name", Message: "Invalid field."})
	}
	s.mu.Lock()
	for _, q := range e.Questions {
		if q.Required && strings.TrimSpace(str[q.FieldName]) == "" {
			errs = append(errs, fieldError{Field: q.FieldName, Message: "Invalid field."})
		}
	}
	for _, cq := range e.CustomQuestions {
		if !cq.Required {
			continue
		}
		answered := false
		for _, a := range custom {
			if a["title"] == cq.Title && a["value"] != "" {
				answered = true
			}
		}
		if !answered {
			errs = append(errs, fieldError{Field: "custom_questions", Message: "Invalid field."})
		}
	}
	approval := e.ApprovalType
	s.mu.Unlock()
	if approval == 2 {
		// Registration off is checked before the body's fields.
		if e.webinar {
			writeJSON(w, http.StatusBadRequest, h, apiError{Code: 3000, Message: fmt.Sprintf("Registration not enabled for this webinar: %d", e.ID)})
		} else {
			writeJSON(w, http.StatusNotFound, h, apiError{Code: 404, Message: fmt.Sprintf("Registration has not been enabled for this meeting: %d.", e.ID)})
		}
		return
	}
	if len(errs) > 0 {
		writeJSON(w, http.StatusBadRequest, h, apiError{Code: 300, Message: "Validation Failed.", Errors: errs})
		return
	}
	autoApprove := false
	if raw, ok := in["auto_approve"]; ok {
		_ = json.Unmarshal(raw, &autoApprove)
	}

	s.mu.Lock()
	var reg *Registrant
	for _, x := range e.registrants {
		if strings.EqualFold(x.Email, str["email"]) {
			reg = x // registering the same email again returns the existing registration
		}
	}
	if reg == nil {
		reg = &Registrant{ID: randToken(22), Email: str["email"], FirstName: str["first_name"], LastName: str["last_name"],
			CreateTime: s.opts.Now().UTC().Truncate(time.Second), Fields: map[string]any{}, CustomQuestions: custom}
		for k, v := range str {
			if k != "email" && k != "first_name" && k != "last_name" {
				reg.Fields[k] = v
			}
		}
		reg.Status = "approved"
		if approval == 1 && !autoApprove {
			reg.Status = "pending"
		}
		reg.JoinURL = fmt.Sprintf("%s?tk=%s", s.joinURL(e), randToken(43))
		e.registrants = append(e.registrants, reg)
	}
	out := map[string]any{
		"id": e.ID, "registrant_id": reg.ID, "start_time": zoomTime(e.StartTime), "topic": e.Topic,
		"occurrences": []any{},
	}
	if reg.Status == "approved" {
		// "The API will not return this field if the meeting was created
		// with the approval_type field value of 1 (manual approval)."
		out["join_url"] = reg.JoinURL
	}
	if !e.webinar {
		out["participant_pin_code"] = 100000 + len(e.registrants)
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, h, out)
}

func (s *Server) listMeetingRegistrants(w http.ResponseWriter, r *http.Request, h http.Header, args []string, _ []byte) {
	if e := s.lookup(w, h, args[0], false, "Meeting does not exist: %s."); e != nil {
		s.listRegistrants(w, r, h, e)
	}
}

func (s *Server) listWebinarRegistrants(w http.ResponseWriter, r *http.Request, h http.Header, args []string, _ []byte) {
	if e := s.lookup(w, h, args[0], true, "Webinar does not exist: %s."); e != nil {
		s.listRegistrants(w, r, h, e)
	}
}

func (s *Server) listRegistrants(w http.ResponseWriter, r *http.Request, h http.Header, e *event) {
	status := r.URL.Query().Get("status")
	if status == "" {
		status = "approved"
	}
	if status != "approved" && status != "pending" && status != "denied" {
		writeJSON(w, http.StatusBadRequest, h, apiError{Code: 300, Message: "Validation Failed.", Errors: []fieldError{{Field: "status", Message: "Invalid field."}}})
		return
	}
	key := fmt.Sprintf("reg/%d/%s", e.ID, status)
	size, offset, ok := s.pageParams(w, r, h, key)
	if !ok {
		return
	}
	s.mu.Lock()
	var items []map[string]any
	for _, x := range e.registrants {
		if x.Status != status {
			continue
		}
		item := map[string]any{"id": x.ID, "email": x.Email, "first_name": x.FirstName, "last_name": x.LastName,
			"status": x.Status, "create_time": zoomTime(x.CreateTime), "join_url": x.JoinURL, "custom_questions": x.CustomQuestions}
		if x.CustomQuestions == nil {
			item["custom_questions"] = []any{}
		}
		for k, v := range x.Fields {
			item[k] = v
		}
		items = append(items, item)
	}
	s.mu.Unlock()
	lo, hi, next := s.page(key, len(items), size, offset)
	page := items[lo:hi]
	if page == nil {
		page = []map[string]any{}
	}
	writeJSON(w, http.StatusOK, h, map[string]any{"page_size": size, "total_records": len(items), "next_page_token": next, "registrants": page})
}

func (s *Server) meetingQuestions(w http.ResponseWriter, r *http.Request, h http.Header, args []string, _ []byte) {
	if e := s.lookup(w, h, args[0], false, "Meeting does not exist: %s."); e != nil {
		s.writeQuestions(w, h, e)
	}
}

func (s *Server) webinarQuestions(w http.ResponseWriter, r *http.Request, h http.Header, args []string, _ []byte) {
	if e := s.lookup(w, h, args[0], true, "Webinar does not exist: %s."); e != nil {
		s.writeQuestions(w, h, e)
	}
}

func (s *Server) writeQuestions(w http.ResponseWriter, h http.Header, e *event) {
	s.mu.Lock()
	qs := append([]Question{}, e.Questions...)
	cqs := append([]CustomQuestion{}, e.CustomQuestions...)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, h, map[string]any{"questions": qs, "custom_questions": cqs})
}
