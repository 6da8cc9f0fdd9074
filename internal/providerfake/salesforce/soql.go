package salesforce

import (
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// This file models the subset of SOQL an integration needs (SOQL and SOSL
// Reference: "SOQL SELECT Syntax", "Comparison Operators", "Quoted String
// Escape Sequences", "Reserved Characters"):
//
//	SELECT field[, field...] FROM object
//	  [WHERE condition [AND|OR condition...]]   (parentheses and NOT allowed)
//	  [ORDER BY field [ASC|DESC] [NULLS FIRST|LAST]]
//	  [LIMIT n] [OFFSET n]
//
// with conditions "field op literal" (op one of = != <> < <= > >= LIKE) and
// "field [NOT] IN (literal, ...)". Literals are single-quoted strings with
// backslash escapes, true, false, null. Anything else (aggregates,
// relationship paths, GROUP BY, date literals, bind variables) is refused
// the way a malformed query is.

type tokKind int

const (
	tkEOF tokKind = iota
	tkIdent
	tkString
	tkNumber
	tkSymbol
	tkError // a lexical error, reported when the parser reaches it
)

type token struct {
	kind       tokKind
	text       string // identifier or symbol as written; decoded string value
	raw        string // as written in the query
	pos        int    // byte offset
	likeEscape bool   // string contained \% or \_
	err        error  // for tkError
}

type soqlError struct {
	code string
	msg  string
}

func (e *soqlError) Error() string { return e.code + ": " + e.msg }

type soqlParser struct {
	q    string
	toks []token
	i    int
}

// located formats a message the way the API reports query errors: the query,
// a caret under the offending position, its row and column, then the reason.
func (p *soqlParser) located(pos int, reason string) string {
	row, col, lineStart := 1, 1, 0
	for i := 0; i < pos && i < len(p.q); i++ {
		if p.q[i] == '\n' {
			row++
			lineStart = i + 1
		}
	}
	col = pos - lineStart + 1
	lineEnd := strings.IndexByte(p.q[lineStart:], '\n')
	line := p.q[lineStart:]
	if lineEnd >= 0 {
		line = p.q[lineStart : lineStart+lineEnd]
	}
	return fmt.Sprintf("\n%s\n%s^\nERROR at Row:%d:Column:%d\n%s", line, strings.Repeat(" ", col-1), row, col, reason)
}

func (p *soqlParser) malformed(t token) error {
	if t.kind == tkError {
		return t.err
	}
	what := "<EOF>"
	if t.kind != tkEOF {
		what = "'" + t.raw + "'"
		if t.kind == tkString {
			what = t.raw
		}
	}
	return &soqlError{"MALFORMED_QUERY", p.located(t.pos, "unexpected token: "+what)}
}

// lex splits a query into tokens. A lexical error becomes a tkError token so
// that, as in Salesforce, an earlier syntax error is the one reported.
func lex(q string) ([]token, error) {
	toks, err := lexAll(q)
	if err != nil {
		le := err.(*lexError)
		toks = append(toks, token{kind: tkError, pos: le.pos, err: le.err}, token{kind: tkEOF, pos: len(q)})
	}
	return toks, nil
}

type lexError struct {
	pos int
	err error
}

func (e *lexError) Error() string { return e.err.Error() }

func lexAll(q string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(q) {
		c := q[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '\'':
			start := i
			i++
			var b strings.Builder
			like := false
			closed := false
			for i < len(q) {
				ch := q[i]
				if ch == '\'' {
					closed = true
					i++
					break
				}
				if ch != '\\' {
					b.WriteByte(ch)
					i++
					continue
				}
				if i+1 >= len(q) {
					break
				}
				e := q[i+1]
				switch e {
				case 'n', 'N':
					b.WriteByte('\n')
				case 'r', 'R':
					b.WriteByte('\r')
				case 't', 'T':
					b.WriteByte('\t')
				case 'b', 'B':
					b.WriteByte('\b')
				case 'f', 'F':
					b.WriteByte('\f')
				case '"', '\'', '\\':
					b.WriteByte(e)
				case '%', '_':
					like = true
					b.WriteByte('\\')
					b.WriteByte(e)
				case 'u':
					if i+6 <= len(q) {
						if n, err := strconv.ParseUint(q[i+2:i+6], 16, 16); err == nil {
							b.WriteRune(rune(n))
							i += 6
							continue
						}
					}
					fallthrough
				default:
					lit := q[start:]
					if end := strings.IndexByte(lit[1:], '\''); end >= 0 {
						lit = lit[:end+2]
					}
					return toks, &lexError{start, &soqlError{"MALFORMED_QUERY", fmt.Sprintf("Invalid string literal %s. Illegal character sequence '\\%c' in string literal.", lit, e)}}
				}
				i += 2
			}
			if !closed {
				return toks, &lexError{start, &soqlError{"MALFORMED_QUERY", fmt.Sprintf("line 1:%d no viable alternative at character '''", start)}}
			}
			toks = append(toks, token{kind: tkString, text: b.String(), raw: q[start:i], pos: start, likeEscape: like})
		case c == '_' || unicode.IsLetter(rune(c)):
			start := i
			for i < len(q) && (q[i] == '_' || q[i] == '.' || unicode.IsLetter(rune(q[i])) || unicode.IsDigit(rune(q[i]))) {
				i++
			}
			toks = append(toks, token{kind: tkIdent, text: q[start:i], raw: q[start:i], pos: start})
		case c >= '0' && c <= '9' || c == '-' && i+1 < len(q) && q[i+1] >= '0' && q[i+1] <= '9':
			start := i
			i++
			for i < len(q) && (q[i] >= '0' && q[i] <= '9' || q[i] == '.' || q[i] == '-' || q[i] == ':' || q[i] == 'T' || q[i] == 'Z') {
				i++
			}
			toks = append(toks, token{kind: tkNumber, text: q[start:i], raw: q[start:i], pos: start})
		default:
			start := i
			for _, sym := range []string{"!=", "<>", "<=", ">=", "=", "<", ">", ",", "(", ")"} {
				if strings.HasPrefix(q[i:], sym) {
					i += len(sym)
					toks = append(toks, token{kind: tkSymbol, text: sym, raw: sym, pos: start})
					break
				}
			}
			if i == start {
				return toks, &lexError{start, &soqlError{"MALFORMED_QUERY", fmt.Sprintf("line 1:%d no viable alternative at character '%c'", start, c)}}
			}
		}
	}
	toks = append(toks, token{kind: tkEOF, pos: len(q)})
	return toks, nil
}

func (p *soqlParser) peek() token { return p.toks[p.i] }
func (p *soqlParser) next() token {
	t := p.toks[p.i]
	if t.kind != tkEOF {
		p.i++
	}
	return t
}

func (p *soqlParser) isKeyword(t token, kw string) bool {
	return t.kind == tkIdent && strings.EqualFold(t.text, kw)
}

func (p *soqlParser) expectKeyword(kw string) error {
	t := p.next()
	if !p.isKeyword(t, kw) {
		return p.malformed(t)
	}
	return nil
}

var reserved = map[string]bool{"select": true, "from": true, "where": true, "and": true, "or": true, "not": true, "in": true,
	"like": true, "order": true, "by": true, "limit": true, "offset": true, "null": true, "true": true, "false": true,
	"group": true, "having": true, "with": true, "for": true, "using": true, "asc": true, "desc": true, "nulls": true}

func (p *soqlParser) ident() (token, error) {
	t := p.next()
	if t.kind != tkIdent || reserved[strings.ToLower(t.text)] {
		return t, p.malformed(t)
	}
	return t, nil
}

// Parsed query.

type cond struct {
	field  token
	op     string // = != < <= > >= like in notin
	values []token
}

type expr struct {
	op       string // and, or, not, cond
	children []*expr
	cond     *cond
}

type soqlQuery struct {
	fields    []token
	object    token
	where     *expr
	orderBy   *token
	desc      bool
	nullsLast bool
	limit     int
	offset    int
}

func parseSOQL(q string) (*soqlParser, *soqlQuery, error) {
	toks, err := lex(q)
	if err != nil {
		return nil, nil, err
	}
	p := &soqlParser{q: q, toks: toks}
	sq := &soqlQuery{limit: -1}
	if err := p.expectKeyword("SELECT"); err != nil {
		return p, nil, err
	}
	for {
		f, err := p.ident()
		if err != nil {
			return p, nil, err
		}
		sq.fields = append(sq.fields, f)
		if t := p.peek(); t.kind == tkSymbol && t.text == "," {
			p.next()
			continue
		}
		break
	}
	if err := p.expectKeyword("FROM"); err != nil {
		return p, nil, err
	}
	obj, err := p.ident()
	if err != nil {
		return p, nil, err
	}
	sq.object = obj
	if p.isKeyword(p.peek(), "WHERE") {
		p.next()
		e, err := p.parseOr()
		if err != nil {
			return p, nil, err
		}
		sq.where = e
	}
	if p.isKeyword(p.peek(), "ORDER") {
		p.next()
		if err := p.expectKeyword("BY"); err != nil {
			return p, nil, err
		}
		f, err := p.ident()
		if err != nil {
			return p, nil, err
		}
		sq.orderBy = &f
		if p.isKeyword(p.peek(), "ASC") {
			p.next()
		} else if p.isKeyword(p.peek(), "DESC") {
			p.next()
			sq.desc = true
		}
		sq.nullsLast = sq.desc // SOQL default: nulls first ascending, last descending
		if p.isKeyword(p.peek(), "NULLS") {
			p.next()
			t := p.next()
			switch {
			case p.isKeyword(t, "FIRST"):
				sq.nullsLast = false
			case p.isKeyword(t, "LAST"):
				sq.nullsLast = true
			default:
				return p, nil, p.malformed(t)
			}
		}
	}
	for _, kw := range []string{"LIMIT", "OFFSET"} {
		if p.isKeyword(p.peek(), kw) {
			p.next()
			t := p.next()
			n, err := strconv.Atoi(t.text)
			if t.kind != tkNumber || err != nil || n < 0 {
				return p, nil, p.malformed(t)
			}
			if kw == "LIMIT" {
				sq.limit = n
			} else {
				sq.offset = n
			}
		}
	}
	if t := p.next(); t.kind != tkEOF {
		return p, nil, p.malformed(t)
	}
	return p, sq, nil
}

func (p *soqlParser) parseOr() (*expr, error) {
	left, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	for p.isKeyword(p.peek(), "OR") {
		p.next()
		right, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		left = &expr{op: "or", children: []*expr{left, right}}
	}
	return left, nil
}

func (p *soqlParser) parseAnd() (*expr, error) {
	left, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	for p.isKeyword(p.peek(), "AND") {
		p.next()
		right, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		left = &expr{op: "and", children: []*expr{left, right}}
	}
	return left, nil
}

func (p *soqlParser) parseUnary() (*expr, error) {
	t := p.peek()
	if p.isKeyword(t, "NOT") {
		p.next()
		e, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		return &expr{op: "not", children: []*expr{e}}, nil
	}
	if t.kind == tkSymbol && t.text == "(" {
		p.next()
		e, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tkSymbol || c.text != ")" {
			return nil, p.malformed(c)
		}
		return e, nil
	}
	f, err := p.ident()
	if err != nil {
		return nil, err
	}
	c := &cond{field: f}
	op := p.next()
	switch {
	case op.kind == tkSymbol && op.text != "," && op.text != "(" && op.text != ")":
		c.op = op.text
		if c.op == "<>" {
			c.op = "!="
		}
	case p.isKeyword(op, "LIKE"):
		c.op = "like"
	case p.isKeyword(op, "IN"):
		c.op = "in"
	case p.isKeyword(op, "NOT") && p.isKeyword(p.peek(), "IN"):
		p.next()
		c.op = "notin"
	default:
		return nil, p.malformed(op)
	}
	if c.op == "in" || c.op == "notin" {
		if t := p.next(); t.kind != tkSymbol || t.text != "(" {
			return nil, p.malformed(t)
		}
		for {
			v, err := p.literal()
			if err != nil {
				return nil, err
			}
			c.values = append(c.values, v)
			t := p.next()
			if t.kind == tkSymbol && t.text == "," {
				continue
			}
			if t.kind == tkSymbol && t.text == ")" {
				break
			}
			return nil, p.malformed(t)
		}
	} else {
		v, err := p.literal()
		if err != nil {
			return nil, err
		}
		c.values = []token{v}
	}
	return &expr{op: "cond", cond: c}, nil
}

func (p *soqlParser) literal() (token, error) {
	t := p.next()
	switch {
	case t.kind == tkString, t.kind == tkNumber:
		return t, nil
	case p.isKeyword(t, "true"), p.isKeyword(t, "false"), p.isKeyword(t, "null"):
		return t, nil
	}
	return t, p.malformed(t)
}

// value is a resolved literal: nil, bool or string.
type boundCond struct {
	field  *Field
	op     string
	values []any
	likes  []*regexp.Regexp
}

func (s *Server) handleQuery(w http.ResponseWriter, r *http.Request, h http.Header) {
	q := r.URL.Query().Get("q")
	if strings.TrimSpace(q) == "" {
		writeJSON(w, http.StatusBadRequest, h, []apiError{{Message: "A query string has to be specified", ErrorCode: "MALFORMED_QUERY"}})
		return
	}
	s.mu.Lock()
	res, err := s.runQueryLocked(q)
	s.mu.Unlock()
	if err != nil {
		se := err.(*soqlError)
		writeJSON(w, http.StatusBadRequest, h, []apiError{{Message: se.msg, ErrorCode: se.code}})
		return
	}
	writeJSON(w, http.StatusOK, h, res)
}

type queryResult struct {
	TotalSize int          `json:"totalSize"`
	Done      bool         `json:"done"`
	Records   []recordJSON `json:"records"`
}

func (s *Server) runQueryLocked(q string) (*queryResult, error) {
	p, sq, err := parseSOQL(q)
	if err != nil {
		return nil, err
	}
	o := s.schemas[strings.ToLower(sq.object.text)]
	if o == nil || strings.Contains(sq.object.text, ".") {
		return nil, &soqlError{"INVALID_TYPE", p.located(sq.object.pos, fmt.Sprintf("sObject type '%s' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.", sq.object.text))}
	}
	resolve := func(t token) (*Field, error) {
		if dot := strings.IndexByte(t.text, '.'); dot >= 0 {
			return nil, &soqlError{"INVALID_FIELD", p.located(t.pos, fmt.Sprintf("Didn't understand relationship '%s' in field path. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names.", t.text[:dot]))}
		}
		f := o.field(t.text)
		if f == nil {
			return nil, &soqlError{"INVALID_FIELD", p.located(t.pos, fmt.Sprintf("No such column '%s' on entity '%s'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.", t.text, o.Name))}
		}
		return f, nil
	}
	var fields []*Field
	seen := map[string]bool{}
	for _, t := range sq.fields {
		f, err := resolve(t)
		if err != nil {
			return nil, err
		}
		if seen[f.Name] {
			return nil, &soqlError{"MALFORMED_QUERY", "duplicate field selected: " + f.Name}
		}
		seen[f.Name] = true
		fields = append(fields, f)
	}
	var bind func(e *expr) (func(*record) bool, error)
	bind = func(e *expr) (func(*record) bool, error) {
		switch e.op {
		case "and", "or":
			a, err := bind(e.children[0])
			if err != nil {
				return nil, err
			}
			b, err := bind(e.children[1])
			if err != nil {
				return nil, err
			}
			if e.op == "and" {
				return func(r *record) bool { return a(r) && b(r) }, nil
			}
			return func(r *record) bool { return a(r) || b(r) }, nil
		case "not":
			a, err := bind(e.children[0])
			if err != nil {
				return nil, err
			}
			return func(r *record) bool { return !a(r) }, nil
		}
		f, err := resolve(e.cond.field)
		if err != nil {
			return nil, err
		}
		bc, err := bindCond(p, f, e.cond)
		if err != nil {
			return nil, err
		}
		return bc.match, nil
	}
	match := func(*record) bool { return true }
	if sq.where != nil {
		if match, err = bind(sq.where); err != nil {
			return nil, err
		}
	}
	var rows []*record
	for _, r := range s.sortedLocked(strings.ToLower(o.Name)) {
		if match(r) {
			rows = append(rows, r)
		}
	}
	if sq.orderBy != nil {
		f, err := resolve(*sq.orderBy)
		if err != nil {
			return nil, err
		}
		sort.SliceStable(rows, func(i, j int) bool {
			a, b := rows[i].fields[f.Name], rows[j].fields[f.Name]
			if a == nil || b == nil {
				if a == nil && b == nil {
					return false
				}
				return (a == nil) != sq.nullsLast
			}
			c := compareValues(a, b)
			if sq.desc {
				return c > 0
			}
			return c < 0
		})
	}
	if sq.offset > 0 {
		if sq.offset >= len(rows) {
			rows = nil
		} else {
			rows = rows[sq.offset:]
		}
	}
	if sq.limit >= 0 && len(rows) > sq.limit {
		rows = rows[:sq.limit]
	}
	res := &queryResult{Done: true, Records: []recordJSON{}}
	for _, r := range rows {
		res.Records = append(res.Records, orderedRecord(s.renderLocked(o, r, fields), o, fields))
	}
	res.TotalSize = len(res.Records)
	return res, nil
}

func bindCond(p *soqlParser, f *Field, c *cond) (*boundCond, error) {
	bc := &boundCond{field: f, op: c.op}
	bad := func(t token, why string) error {
		return &soqlError{"INVALID_QUERY_FILTER_OPERATOR", p.located(t.pos, why)}
	}
	for _, v := range c.values {
		switch {
		case p.isKeyword(v, "null"):
			if c.op != "=" && c.op != "!=" && c.op != "in" && c.op != "notin" {
				return nil, bad(v, "invalid operator on null value")
			}
			bc.values = append(bc.values, nil)
		case p.isKeyword(v, "true"), p.isKeyword(v, "false"):
			if f.Type != "boolean" {
				return nil, bad(v, fmt.Sprintf("value of filter criterion for field '%s' must be of type %s and should not be enclosed in quotes", f.Name, f.Type))
			}
			bc.values = append(bc.values, strings.EqualFold(v.text, "true"))
		case v.kind == tkString:
			if f.Type == "boolean" || f.Type == "date" || f.Type == "datetime" {
				return nil, bad(v, fmt.Sprintf("value of filter criterion for field '%s' must be of type %s and should not be enclosed in quotes", f.Name, f.Type))
			}
			if v.likeEscape && c.op != "like" {
				return nil, &soqlError{"MALFORMED_QUERY", fmt.Sprintf("Invalid string literal %s. Illegal character sequence '\\%c' in string literal.", v.raw, v.text[strings.IndexByte(v.text, '\\')+1])}
			}
			if (f.Type == "id" || f.Type == "reference") && c.op != "like" {
				full, ok := normalizeID(v.text)
				if !ok {
					return nil, bad(v, "invalid ID field: "+v.text)
				}
				bc.values = append(bc.values, full)
				continue
			}
			if c.op == "like" {
				bc.likes = append(bc.likes, likeRegexp(v.text))
			}
			bc.values = append(bc.values, v.text)
		default: // number
			return nil, bad(v, fmt.Sprintf("value of filter criterion for field '%s' must be of type %s and should be enclosed in quotes", f.Name, f.Type))
		}
	}
	if c.op == "like" && !f.isText() {
		return nil, bad(c.field, "invalid operator on field "+f.Name)
	}
	return bc, nil
}

func likeRegexp(pat string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("(?is)^")
	for i := 0; i < len(pat); i++ {
		switch c := pat[i]; {
		case c == '\\' && i+1 < len(pat):
			b.WriteString(regexp.QuoteMeta(string(pat[i+1])))
			i++
		case c == '%':
			b.WriteString(".*")
		case c == '_':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

func (bc *boundCond) match(r *record) bool {
	v := r.fields[bc.field.Name]
	if s, ok := v.(string); ok && (bc.field.Type == "id" || bc.field.Type == "reference") {
		if full, ok := normalizeID(s); ok {
			v = full
		}
	}
	switch bc.op {
	case "like":
		s, ok := v.(string)
		if !ok {
			return false
		}
		for _, re := range bc.likes {
			if re.MatchString(s) {
				return true
			}
		}
		return false
	case "in", "notin":
		found := false
		for _, x := range bc.values {
			if equalValues(bc.field, v, x) {
				found = true
			}
		}
		return found == (bc.op == "in")
	}
	x := bc.values[0]
	switch bc.op {
	case "=":
		return equalValues(bc.field, v, x)
	case "!=":
		return !equalValues(bc.field, v, x)
	}
	if v == nil || x == nil {
		return false
	}
	c := compareValues(v, x)
	switch bc.op {
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	case ">=":
		return c >= 0
	}
	return false
}

// equalValues compares as SOQL's = does: text case-insensitively (IDs by
// their 18-character form), other values exactly.
func equalValues(f *Field, a, b any) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	as, aok := a.(string)
	bs, bok := b.(string)
	if aok && bok {
		if f.Type == "id" || f.Type == "reference" {
			return as == bs
		}
		return strings.EqualFold(as, bs)
	}
	return a == b
}

func compareValues(a, b any) int {
	as, aok := a.(string)
	bs, bok := b.(string)
	if aok && bok {
		return strings.Compare(strings.ToLower(as), strings.ToLower(bs))
	}
	ab, aok := a.(bool)
	bb, bok := b.(bool)
	if aok && bok {
		switch {
		case ab == bb:
			return 0
		case !ab:
			return -1
		}
		return 1
	}
	return strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
}
