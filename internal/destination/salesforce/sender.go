package salesforce

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/switchyardhq/switchyard/internal/destination"
	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// config is a connection value's metadata, decoded once.
type config struct {
	memberStatus string
}

// maxMemberStatus is the length of CampaignMember.Status.
const maxMemberStatus = 40

func parseConfig(meta map[string]any) (*config, error) {
	c := &config{}
	switch v := meta[KeyMemberStatus].(type) {
	case nil:
	case string:
		c.memberStatus = strings.TrimSpace(v)
		if utf8.RuneCountInString(c.memberStatus) > maxMemberStatus {
			return nil, configError(KeyMemberStatus, "must be at most 40 characters")
		}
	default:
		return nil, configError(KeyMemberStatus, "must be a string")
	}
	return c, nil
}

// Provision decodes a connection value's metadata and returns its sender. It makes no call.
func (p *Provisioner) Provision(_ context.Context, pv destination.Provision) (destination.Sender, error) {
	if pv.Connection == nil {
		return nil, &switchyard.Error{Code: switchyard.EINVALID, Message: "The Salesforce connection is missing."}
	}
	c, err := parseConfig(pv.Connection.Metadata)
	if err != nil {
		return nil, err
	}
	tokens := pv.Tokens
	if tokens == nil {
		tokens = destination.NoCredentials{} // never authorized: every attempt says so
	}
	return &sender{p: p, c: c, conn: pv.Connection, tokens: tokens, scope: scopeOf(pv.Account, pv.Connection)}, nil
}

// scopeOf is the rate-limit scope of a connection: its org, as Identify named it, or the
// connection alone when the org is unknown.
func scopeOf(account string, conn *switchyard.Connection) string {
	switch {
	case strings.HasPrefix(account, AccountPrefix):
		return account
	case account != "":
		return AccountPrefix + account
	}
	return Type + ":connection:" + conn.ID.String()
}

// sender delivers for one Salesforce connection value. It is safe for concurrent use.
type sender struct {
	p      *Provisioner
	c      *config
	conn   *switchyard.Connection
	tokens destination.Tokens
	scope  string

	mu       sync.Mutex
	lastBase string
}

var (
	_ destination.Sender             = (*sender)(nil)
	_ destination.ActionDataSource   = (*sender)(nil)
	_ destination.FieldCatalogSource = (*sender)(nil)
	_ destination.Tester             = (*sender)(nil)
	_ destination.RateLimited        = (*sender)(nil)
)

// RateLimit is the org's scope and Switchyard's pace for it (see RequestsPerSecond).
func (s *sender) RateLimit() (string, float64, int) { return s.scope, RequestsPerSecond, Burst }

// Deliver runs the rule's action for the event's person. It never retries (but for
// DoAuthorized's one refresh on a 401).
func (s *sender) Deliver(ctx context.Context, req *destination.Request) destination.Result {
	if req == nil {
		return invalid(switchyard.OutcomeInvalidRequest, "delivery request without an event")
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	var res destination.Result
	switch req.Action {
	case ActionAddToCampaign:
		res = s.addToCampaign(ctx, req)
	case ActionRemoveFromCampaign:
		res = s.removeFromCampaign(ctx, req)
	case ActionUpdateProperty:
		res = s.updateProperty(ctx, req)
	default:
		res = invalid(switchyard.OutcomeInvalidRequest, "unknown Salesforce action "+quote(req.Action)+": use add_to_campaign, remove_from_campaign or update_property")
	}
	if res.Outcome == switchyard.OutcomeRateLimited && res.RateLimitScope == "" {
		res.RateLimitScope = s.scope
	}
	return res
}

func invalid(o switchyard.Outcome, msg string) destination.Result {
	return destination.Result{Outcome: o, Message: msg}
}

// quote shows a value from an event or rule in a message, bounded.
func quote(s string) string {
	if utf8.RuneCountInString(s) > 80 {
		r := []rune(s)
		s = string(r[:80]) + "…"
	}
	b, _ := json.Marshal(s)
	return string(b)
}

// ready gets the connection's token and checks it names an instance, before the first call.
func (s *sender) ready(ctx context.Context) *destination.Result {
	tok, err := s.tokens.Token(ctx)
	if err != nil {
		res := destination.TokenResult(err)
		res.Message = s.redact(res.Message, nil)
		return &res
	}
	if _, err := s.base(tok); err != nil {
		res := destination.Result{Outcome: switchyard.OutcomeInvalidRequest, Message: "the Salesforce instance URL is not usable: " + strings.TrimPrefix(err.Error(), "salesforce: ")}
		if err == errNoInstance {
			res = destination.Result{Outcome: switchyard.OutcomeAuthFailed, Deactivate: switchyard.InactiveOAuthReauthorizationNeeded,
				Message: "The Salesforce token does not name the org's instance (instance_url): connect the account again."}
		}
		return &res
	}
	return nil
}

// campaignParam reads the rule's campaign id.
func campaignParam(req *destination.Request) (string, *destination.Result) {
	id, _ := req.Params[ParamID].(string)
	id = strings.TrimSpace(id)
	if id == "" {
		r := invalid(switchyard.OutcomeInvalidRequest, "the rule has no campaign id: set metadata.id to a Salesforce Campaign id")
		return "", &r
	}
	if !validID(id) || !strings.HasPrefix(id, "701") {
		r := invalid(switchyard.OutcomeInvalidRequest, "the rule's campaign id "+quote(id)+" is not a Salesforce Campaign id (15 or 18 characters starting with 701)")
		return "", &r
	}
	return id, nil
}

// personEmail is the event's email: the mapped "email" field, else the payload's "email".
func personEmail(req *destination.Request) (string, *destination.Result) {
	var email string
	for k, v := range req.Fields {
		if strings.EqualFold(k, "email") {
			if str, ok := v.(string); ok && strings.TrimSpace(str) != "" {
				email = str
			}
		}
	}
	if email == "" && req.Event != nil && len(req.Event.Payload) > 0 {
		var payload map[string]any
		if json.Unmarshal(req.Event.Payload, &payload) == nil {
			email, _ = payload["email"].(string)
		}
	}
	email = strings.TrimSpace(email)
	if email == "" {
		r := invalid(switchyard.OutcomeInvalidRequest, "the event has no email: map a payload field to the Salesforce field email (or send \"email\" in the payload)")
		return "", &r
	}
	if !strings.Contains(email, "@") || strings.ContainsFunc(email, unicode.IsControl) {
		r := invalid(switchyard.OutcomeInvalidRequest, "the event's email "+quote(email)+" is not an email address")
		return "", &r
	}
	return email, nil
}

// findContact returns the id of the (oldest) Contact whose Email is email, "" if there is none.
func (s *sender) findContact(ctx context.Context, email string) (string, answer) {
	var recs []struct {
		ID string `json:"Id"`
	}
	a := s.query(ctx, "SELECT Id FROM Contact WHERE Email = "+soqlQuote(email)+" ORDER BY Id ASC LIMIT 1", &recs)
	if !a.ok() || len(recs) == 0 {
		return "", a
	}
	return recs[0].ID, a
}

// contactFields are the fields of a new Contact: the mapped fields (nulls left out), the email,
// and LastName — required by Salesforce — from the mapping, else the last word of a mapped full
// name, else the email's local part. The full name (Contact.Name) is computed by Salesforce and
// never written; a generated default mapping may still hold it, since the payload's "name"
// matches it.
func contactFields(req *destination.Request, email string) map[string]any {
	out := make(map[string]any, len(req.Fields)+2)
	lastName, fullName, hasFirst := "", "", false
	for k, v := range req.Fields {
		if v == nil || strings.EqualFold(k, "email") {
			continue
		}
		str, _ := v.(string)
		switch {
		case strings.EqualFold(k, "lastname"):
			lastName = strings.TrimSpace(str)
			continue
		case strings.EqualFold(k, "name"):
			fullName = strings.TrimSpace(str)
			continue
		case strings.EqualFold(k, "firstname"):
			hasFirst = strings.TrimSpace(str) != ""
		}
		out[k] = v
	}
	if lastName == "" && fullName != "" {
		words := strings.Fields(fullName)
		lastName = words[len(words)-1]
		if !hasFirst && len(words) > 1 {
			out["FirstName"] = strings.Join(words[:len(words)-1], " ")
		}
	}
	if lastName == "" {
		lastName, _, _ = strings.Cut(email, "@")
		if r := []rune(lastName); len(r) > 80 {
			lastName = string(r[:80])
		}
	}
	out["LastName"] = lastName
	out["Email"] = email
	return out
}

// createContact creates a Contact with fields and returns its id. notFoundField, when not "",
// is a field whose absence from the org means the rule's target is missing
// (destination_not_found) rather than a mapping mistake.
func (s *sender) createContact(ctx context.Context, fields map[string]any, notFoundField string) (string, answer) {
	rules := rulesWith(func(_ int, e apiError) (switchyard.Outcome, bool) {
		if e.ErrorCode == "INVALID_FIELD" {
			if notFoundField != "" && strings.Contains(strings.ToLower(e.Message), "'"+strings.ToLower(notFoundField)+"'") {
				return switchyard.OutcomeDestinationNotFound, true
			}
			return switchyard.OutcomeMappingError, true // a mapped field the Contact does not have
		}
		return "", false
	})
	a := s.do(ctx, call{method: http.MethodPost, path: "/sobjects/Contact", body: fields, rules: rules})
	if !a.ok() {
		if a.res.Outcome == switchyard.OutcomeDestinationNotFound && notFoundField != "" {
			a.res = withMissingField(a.res, notFoundField)
		}
		return "", a
	}
	var created struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(a.body, &created) != nil || created.ID == "" {
		a.res = destination.Result{Outcome: switchyard.OutcomeRejectedServerError, HTTPStatus: a.res.HTTPStatus, Response: a.res.Response,
			Message: "Salesforce created the Contact but did not answer its id"}
		return "", a
	}
	return created.ID, a
}

// findOrCreateContact returns the id of the Contact with the event's email, creating it (with
// extra fields set) when there is none.
func (s *sender) findOrCreateContact(ctx context.Context, req *destination.Request, email string, extra map[string]any, notFoundField string) (id string, created bool, a answer) {
	id, a = s.findContact(ctx, email)
	if !a.ok() || id != "" {
		return id, false, a
	}
	fields := contactFields(req, email)
	for k, v := range extra {
		for f := range fields {
			if strings.EqualFold(f, k) {
				delete(fields, f)
			}
		}
		fields[k] = v
	}
	id, a = s.createContact(ctx, fields, notFoundField)
	return id, true, a
}

func (s *sender) addToCampaign(ctx context.Context, req *destination.Request) destination.Result {
	campaign, bad := campaignParam(req)
	if bad != nil {
		return *bad
	}
	email, bad := personEmail(req)
	if bad != nil {
		return *bad
	}
	if r := s.ready(ctx); r != nil {
		return *r
	}
	contact, created, a := s.findOrCreateContact(ctx, req, email, nil, "")
	if !a.ok() {
		return a.res
	}
	member := map[string]any{"CampaignId": campaign, "ContactId": contact}
	if s.c.memberStatus != "" {
		member["Status"] = s.c.memberStatus
	}
	already := false
	rules := rulesWith(func(status int, e apiError) (switchyard.Outcome, bool) {
		switch {
		case e.ErrorCode == "DUPLICATE_VALUE" && status == http.StatusBadRequest:
			// "Already a campaign member.": what the rule asks for is done.
			already = true
			return switchyard.OutcomeDelivered, true
		case (e.ErrorCode == "INVALID_CROSS_REFERENCE_KEY" || e.ErrorCode == "MALFORMED_ID" || e.ErrorCode == "ENTITY_IS_DELETED") &&
			(len(e.Fields) == 0 || slices.Contains(e.Fields, "CampaignId")):
			return switchyard.OutcomeDestinationNotFound, true // the campaign does not exist (any more)
		}
		return "", false
	})
	a = s.do(ctx, call{method: http.MethodPost, path: "/sobjects/CampaignMember", body: member, rules: rules})
	if !a.ok() {
		if a.res.Outcome == switchyard.OutcomeDestinationNotFound {
			a.res.Message = "Salesforce has no campaign " + campaign + " (" + a.res.Message + ")"
		}
		return a.res
	}
	who := "Contact " + contact
	if created {
		who = "new Contact " + contact
	}
	if already {
		a.res.Message = who + " is already a member of campaign " + campaign
	} else {
		a.res.Message = who + " added to campaign " + campaign
	}
	return a.res
}

func (s *sender) removeFromCampaign(ctx context.Context, req *destination.Request) destination.Result {
	campaign, bad := campaignParam(req)
	if bad != nil {
		return *bad
	}
	email, bad := personEmail(req)
	if bad != nil {
		return *bad
	}
	if r := s.ready(ctx); r != nil {
		return *r
	}
	contact, a := s.findContact(ctx, email)
	if !a.ok() {
		return a.res
	}
	if contact == "" {
		a.res.Message = "no Contact has this email: nothing to remove"
		return a.res
	}
	var members []struct {
		ID string `json:"Id"`
	}
	a = s.query(ctx, "SELECT Id FROM CampaignMember WHERE CampaignId = "+soqlQuote(campaign)+" AND ContactId = "+soqlQuote(contact)+" LIMIT 10", &members)
	if !a.ok() {
		return a.res
	}
	if len(members) == 0 {
		a.res.Message = "Contact " + contact + " is not a member of campaign " + campaign + ": nothing to remove"
		return a.res
	}
	gone := goneRules()
	for _, m := range members {
		if !validID(m.ID) {
			continue
		}
		if a = s.do(ctx, call{method: http.MethodDelete, path: "/sobjects/CampaignMember/" + m.ID, rules: gone}); !a.ok() {
			return a.res
		}
	}
	a.res.Message = "Contact " + contact + " removed from campaign " + campaign
	return a.res
}

// goneRules are the rules of deleting a campaign member: one removed meanwhile is gone already.
func goneRules() *destination.ProviderRules {
	return rulesWith(func(status int, e apiError) (switchyard.Outcome, bool) {
		if status == http.StatusNotFound && (e.ErrorCode == "ENTITY_IS_DELETED" || e.ErrorCode == "NOT_FOUND") {
			return switchyard.OutcomeDelivered, true
		}
		return "", false
	})
}

// fieldName reports whether s can be a field API name (FirstName, My_Field__c).
func fieldName(s string) bool {
	if s == "" || len(s) > 80 || !(s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z') {
		return false
	}
	for n := 0; n < len(s); n++ {
		c := s[n]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_') {
			return false
		}
	}
	return true
}

func (s *sender) updateProperty(ctx context.Context, req *destination.Request) destination.Result {
	field, _ := req.Params[ParamID].(string)
	field = strings.TrimSpace(field)
	if field == "" {
		return invalid(switchyard.OutcomeInvalidRequest, "the rule has no property: set metadata.id to a Contact picklist field name, e.g. LeadSource")
	}
	if !fieldName(field) || strings.EqualFold(field, "Id") {
		return invalid(switchyard.OutcomeInvalidRequest, "the rule's property "+quote(field)+" is not a Salesforce field name")
	}
	value, ok := req.Params[ParamValue]
	if str, isStr := value.(string); !ok || value == nil || isStr && strings.TrimSpace(str) == "" {
		return invalid(switchyard.OutcomeInvalidRequest, "the rule has no value: set metadata.value to one of the picklist's values")
	}
	switch value.(type) {
	case string, bool, float64, int, int64, json.Number:
	default:
		return invalid(switchyard.OutcomeInvalidRequest, "the rule's value must be a string, number or boolean")
	}
	email, bad := personEmail(req)
	if bad != nil {
		return *bad
	}
	if r := s.ready(ctx); r != nil {
		return *r
	}
	contact, created, a := s.findOrCreateContact(ctx, req, email, map[string]any{field: value}, field)
	if !a.ok() {
		return a.res
	}
	if created {
		a.res.Message = "new Contact " + contact + " created with " + field + " set"
		return a.res
	}
	rules := rulesWith(func(_ int, e apiError) (switchyard.Outcome, bool) {
		if e.ErrorCode == "INVALID_FIELD" {
			return switchyard.OutcomeDestinationNotFound, true // "No such column": the property does not exist
		}
		return "", false
	})
	a = s.do(ctx, call{method: http.MethodPatch, path: "/sobjects/Contact/" + contact, body: map[string]any{field: value}, rules: rules})
	if !a.ok() {
		return withMissingField(a.res, field)
	}
	a.res.Message = "Contact " + contact + ": " + field + " set"
	return a.res
}

// withMissingField says which property is missing on a destination_not_found.
func withMissingField(res destination.Result, field string) destination.Result {
	if res.Outcome == switchyard.OutcomeDestinationNotFound {
		res.Message = "the Contact has no field " + field + " (" + res.Message + ")"
	}
	return res
}
