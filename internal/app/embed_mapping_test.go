package app_test

import (
	"encoding/json"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/switchyardhq/switchyard/internal/browsertest"
	"github.com/switchyardhq/switchyard/internal/store/storetest"
)

// mappingJSON is a connection's default mapping as GET …/mappings/default answers it.
type mappingJSON struct {
	Status  string `json:"status"`
	Mapping struct {
		Version int `json:"version"`
		Schema  struct {
			SchemaVersion int              `json:"schema_version"`
			Fields        []map[string]any `json:"fields"`
		} `json:"schema"`
	} `json:"mapping"`
}

// mappingRow is the CSS selector of the mapping editor's row (1-based) whose destination field is
// dest, found in the frame.
func mappingRow(t *testing.T, b *browsertest.Browser, dest string) string {
	t.Helper()
	n, err := chromedp.Run(b.Ctx, chromedp.Poll[int](`(function () {
		var rows = Array.from(document.querySelectorAll("[data-map-rows] > fieldset"));
		var i = rows.findIndex(function (r) { return r.querySelector('[data-m="dest"]').value === `+jsString(dest)+`; });
		return i < 0 ? null : i + 1; })()`, chromedp.WithPollingInFrame(frameNode(t, b)), chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil {
		t.Fatalf("the mapping row of %s: %v", dest, err)
	}
	return "[data-map-rows] > fieldset:nth-child(" + strconv.Itoa(n) + ")"
}

// The mapping editor of a HubSpot connection, driven as a customer does: rows for destination
// fields chosen from HubSpot's field catalog, sources, transforms with their parameters, rows
// removed; the saved mapping is exactly what the rows said. The API's 422 lands on the rows it
// names, and a version saved meanwhile is still refused with the saved version offered.
func TestEmbedMappingEditorInABrowser(t *testing.T) {
	t.Parallel()
	s := startSaaS(t, storetest.Dialects(t)[0])
	done := s.authorize(t, map[string]any{"workspace": s.creds.WorkspaceID, "type": "hubspot", "name": "Our HubSpot",
		"redirect_url": "https://app.example.com/integrations"})
	conn := done.Query().Get("connection_id")
	path := "/api/v1/connections/" + conn + "/mappings/default"
	var generated mappingJSON
	if code := s.call(t, "GET", path, nil, nil, &generated); code != 200 || generated.Status != "generated" || len(generated.Mapping.Schema.Fields) < 2 {
		t.Fatalf("the generated mapping: %d %+v", code, generated)
	}

	b := browsertest.New(t, 2*time.Minute)
	if err := chromedp.Do(b.Ctx, chromedp.EmulateViewport(1024, 900)); err != nil {
		t.Fatal(err)
	}
	host := s.host(t, func(origin string) *createdSessionJSON {
		return s.embedSession(t, map[string]any{"role": "admin", "allowed_origins": []string{origin}, "launch_page": "connections"})
	})
	if err := chromedp.Do(b.Ctx, chromedp.Navigate(host.URL+"/app")); err != nil {
		t.Fatal(err)
	}
	waitHost(t, b, "the handshake", `window.__messages.includes("meshes:navigate:connections")`)
	waitFrame(t, b, frameNode(t, b), "the mapping link", `document.querySelector('#main a[data-page="mapping"]') !== null`)
	clickFrame(t, b, `#main a[data-page="mapping"]`)
	rows := `document.querySelectorAll("[data-map-rows] > fieldset")`
	waitFrame(t, b, frameNode(t, b), "a row per generated field, the JSON folded away", `document.querySelector('[data-mapping-status="generated"]') !== null &&
		`+rows+`.length === `+strconv.Itoa(len(generated.Mapping.Schema.Fields))+` && !document.querySelector("[data-mapping-editor]").hidden &&
		!document.querySelector("[data-json-details]").open && `+labelled)
	audit(t, b, "the mapping editor")

	// Remove the phone row; add a website row read from user.site, trimmed and lower-cased, and
	// a lifecycle stage row set to a literal; give lastname a default before its to_string, moved
	// first; cut the company name to 20 characters.
	clickFrame(t, b, mappingRow(t, b, "phone")+" [data-remove-row]")
	clickFrame(t, b, "[data-add-row]")
	n := len(generated.Mapping.Schema.Fields)
	row := "[data-map-rows] > fieldset:nth-child(" + strconv.Itoa(n) + ")"
	waitFrame(t, b, frameNode(t, b), "the new row, focused", rows+`.length === `+strconv.Itoa(n)+` &&
		document.activeElement === document.querySelector(`+jsString(row+` [data-m="dest"]`)+`)`)
	// The select offers the catalog's writable fields, with their types; not the read-only ones.
	waitFrame(t, b, frameNode(t, b), "the catalog in the select", `(function () { var o = Array.from(document.querySelector(`+jsString(row+` [data-m="dest"]`)+`).options);
		return o.some(function (x) { return x.value === "website" && x.textContent.includes("string"); }) && !o.some(function (x) { return x.value === "hs_object_id"; }); })()`)
	choose(t, b, row+` [data-m="dest"]`, "website")
	typeFrame(t, b, row+` [data-m="source.path"]`, "user.site")
	typeFrame(t, b, row+" [data-add-transform]", kb.Enter) // from the keyboard
	waitFrame(t, b, frameNode(t, b), "the transform, focused", `document.activeElement === document.querySelector(`+jsString(row+` li [data-m="type"]`)+`)`)
	choose(t, b, row+` li:nth-child(1) [data-m="type"]`, "trim")
	clickFrame(t, b, row+" [data-add-transform]")
	choose(t, b, row+` li:nth-child(2) [data-m="type"]`, "lower")
	choose(t, b, row+` [data-m="on_error"]`, "warn_action")

	clickFrame(t, b, "[data-add-row]")
	row2 := "[data-map-rows] > fieldset:nth-child(" + strconv.Itoa(n+1) + ")"
	choose(t, b, row2+` [data-m="dest"]`, "lifecyclestage")
	choose(t, b, row2+` [data-m="source.type"]`, "literal")
	waitFrame(t, b, frameNode(t, b), "the literal's inputs instead of the path", `document.querySelector(`+jsString(row2+` [data-m="source.path"]`)+`).closest("[hidden]") !== null &&
		document.querySelector(`+jsString(row2+` [data-m="source.literal"]`)+`).closest("[hidden]") === null`)
	typeFrame(t, b, row2+` [data-m="source.literal"]`, "lead")

	last := mappingRow(t, b, "lastname")
	clickFrame(t, b, last+" [data-add-transform]")
	choose(t, b, last+` li:nth-child(2) [data-m="type"]`, "default")
	typeFrame(t, b, last+` li:nth-child(2) [data-m="value"]`, "Unknown")
	clickFrame(t, b, last+" li:nth-child(2) [data-move-up]")
	company := mappingRow(t, b, "company")
	clickFrame(t, b, company+" [data-add-transform]")
	choose(t, b, company+` li:nth-child(2) [data-m="type"]`, "substring")
	setFrame(t, b, company+` li:nth-child(2) [data-m="start"]`, "0")
	typeFrame(t, b, company+` li:nth-child(2) [data-m="length"]`, "20")
	waitFrame(t, b, frameNode(t, b), "the JSON in step with the rows", `document.querySelector("#mapping-schema").value.includes('"lifecyclestage"') &&
		document.querySelector("#mapping-schema").value.includes('"length": 20')`)
	audit(t, b, "the mapping editor with new rows and transforms")

	var want []map[string]any
	for _, f := range generated.Mapping.Schema.Fields {
		switch f["dest"] {
		case "phone":
			continue
		case "lastname":
			f["transforms"] = append([]any{map[string]any{"type": "default", "value": "Unknown"}}, f["transforms"].([]any)...)
		case "company":
			f["transforms"] = append(f["transforms"].([]any), map[string]any{"type": "substring", "start": 0.0, "length": 20.0})
		}
		want = append(want, f)
	}
	want = append(want,
		map[string]any{"dest": "website", "source": map[string]any{"type": "path", "value": "user.site"},
			"transforms": []any{map[string]any{"type": "trim"}, map[string]any{"type": "lower"}}, "on_error": "warn_action"},
		map[string]any{"dest": "lifecyclestage", "source": map[string]any{"type": "literal", "value": "lead"}, "on_error": "skip_field"})

	clickFrame(t, b, `form[data-conflict] button[type="submit"]`)
	waitFrame(t, b, frameNode(t, b), "version 1, saved", `document.querySelector('[data-mapping-status="stored"]') !== null &&
		document.querySelector('[data-mapping-status="stored"]').textContent.includes("version 1") && document.querySelector("#status").textContent === "Mapping saved."`)
	var stored mappingJSON
	if code := s.call(t, "GET", path, nil, nil, &stored); code != 200 || stored.Status != "stored" || stored.Mapping.Version != 1 {
		t.Fatalf("the stored mapping: %d %+v", code, stored)
	}
	if !reflect.DeepEqual(stored.Mapping.Schema.Fields, want) {
		got, _ := json.Marshal(stored.Mapping.Schema.Fields)
		exp, _ := json.Marshal(want)
		t.Fatalf("the stored mapping's fields:\n%s\nwant\n%s", got, exp)
	}
	// The page shows the saved mapping in the same rows.
	waitFrame(t, b, frameNode(t, b), "the saved rows", rows+`.length === `+strconv.Itoa(len(want))+` &&
		document.querySelector(`+jsString(mappingRow(t, b, "website")+` [data-m="source.path"]`)+`).value === "user.site"`)

	// A literal typed as a number that is not one is stopped in the page, on its input.
	stage := mappingRow(t, b, "lifecyclestage")
	choose(t, b, stage+` [data-m="source.kind"]`, "number")
	clickFrame(t, b, `form[data-conflict] button[type="submit"]`)
	waitFrame(t, b, frameNode(t, b), "not a number, on the literal's input", `(function () {
		var lit = document.querySelector(`+jsString(stage+` [data-m="source.literal"]`)+`);
		var e = lit.closest(".field").querySelector(".field-error");
		return lit.getAttribute("aria-invalid") === "true" && e !== null && e.textContent === "must be a number"; })()`)
	choose(t, b, stage+` [data-m="source.kind"]`, "text")

	// Two mistakes in two rows: a path with a space in it, a substring of length 0. The API's
	// 422 names them; each is shown in its own row, on its input.
	web, comp := mappingRow(t, b, "website"), mappingRow(t, b, "company")
	typeFrame(t, b, web+` [data-m="source.path"]`, " site")
	setFrame(t, b, comp+` li:nth-child(2) [data-m="length"]`, "0")
	doFrame(t, b, "an input event", `document.querySelector(`+jsString(comp+` li:nth-child(2) [data-m="length"]`)+`).dispatchEvent(new Event("input", {bubbles: true})); return true;`)
	clickFrame(t, b, `form[data-conflict] button[type="submit"]`)
	waitFrame(t, b, frameNode(t, b), "each error on its row", `(function () {
		var web = document.querySelector(`+jsString(web)+`), comp = document.querySelector(`+jsString(comp)+`);
		var path = web.querySelector('[data-m="source.path"]'), length = comp.querySelector('li:nth-child(2) [data-m="length"]');
		var pe = path.closest(".field").querySelector(".field-error"), le = length.closest(".field").querySelector(".field-error");
		return path.getAttribute("aria-invalid") === "true" && pe !== null && pe.textContent.includes("payload path") &&
			path.getAttribute("aria-describedby").split(" ").includes(pe.id) &&
			length.getAttribute("aria-invalid") === "true" && le !== null && le.textContent.includes("at least 1") &&
			document.querySelectorAll(".field-error").length === 2 && document.querySelector(".form-error").textContent.includes("Invalid mapping schema"); })()`)
	b.WaitForError(t, "status of 422")
	audit(t, b, "the mapping editor with the API's errors on their rows")
	if code := s.call(t, "GET", path, nil, nil, &stored); code != 200 || stored.Mapping.Version != 1 {
		t.Fatalf("after the 422: %d, version %d", code, stored.Mapping.Version)
	}

	// Someone else saves version 2 meanwhile: saving the page's version 1 is refused, the saved
	// version offered.
	other := map[string]any{"expected_version": 1, "schema": map[string]any{"schema_version": 1, "fields": []any{
		map[string]any{"dest": "email", "source": map[string]any{"type": "path", "value": "work_email"}}}}}
	if code := s.call(t, "PUT", path, other, nil, nil); code != 200 {
		t.Fatalf("saving version 2: %d", code)
	}
	setFrame(t, b, web+` [data-m="source.path"]`, "user.website")
	setFrame(t, b, comp+` li:nth-child(2) [data-m="length"]`, "20")
	doFrame(t, b, "an input event", `document.querySelector(`+jsString(comp+` li:nth-child(2) [data-m="length"]`)+`).dispatchEvent(new Event("input", {bubbles: true})); return true;`)
	clickFrame(t, b, `form[data-conflict] button[type="submit"]`)
	waitFrame(t, b, frameNode(t, b), "the conflict, with the saved version offered", `!document.querySelector("form[data-conflict] .form-error").hidden &&
		document.querySelector("form[data-conflict] .form-error").textContent.includes("changed since you read it") &&
		document.querySelector("a[data-conflict-reload]") !== null && document.querySelectorAll(".field-error").length === 0`)
	b.WaitForError(t, "status of 409")
	clickFrame(t, b, "a[data-conflict-reload]")
	waitFrame(t, b, frameNode(t, b), "version 2 in the rows", `document.querySelector('[data-mapping-status="stored"]').textContent.includes("version 2") &&
		`+rows+`.length === 1 && document.querySelector('[data-map-rows] [data-m="source.path"]').value === "work_email"`)

	// The JSON stays the advanced way in: edited there, the rows follow.
	clickFrame(t, b, "[data-json-details] summary")
	doFrame(t, b, "a JSON edit", `var a = document.querySelector("#mapping-schema");
		a.value = JSON.stringify({schema_version: 1, fields: [{dest: "firstname", source: {type: "path", value: "user.first_name"}, transforms: [{type: "to_date", timezone: "Europe/Paris"}]}]});
		a.dispatchEvent(new Event("change", {bubbles: true})); return true;`)
	waitFrame(t, b, frameNode(t, b), "the rows from the JSON", rows+`.length === 1 && document.querySelector('[data-map-rows] [data-m="dest"]').value === "firstname" &&
		document.querySelector('[data-map-rows] [data-m="timezone"]').value === "Europe/Paris" &&
		document.querySelector('[data-map-rows] [data-m="timezone"]').closest("[hidden]") === null &&
		document.querySelector('[data-map-rows] [data-m="timezone"]').list !== null &&
		Array.from(document.querySelector('[data-map-rows] [data-m="timezone"]').list.options).some(function (o) { return o.value === "Europe/Paris"; })`)

	// JSON the rows cannot show is said so, and saved as written: invalid JSON is refused in the
	// page, on the textarea, unfolded even if it was folded away meanwhile.
	doFrame(t, b, "invalid JSON", `var a = document.querySelector("#mapping-schema"); a.value = '{"schema_version": 1, "fields": [';
		a.dispatchEvent(new Event("input", {bubbles: true})); a.dispatchEvent(new Event("change", {bubbles: true})); return true;`)
	waitFrame(t, b, frameNode(t, b), "the note under the JSON, the rows kept", `!document.querySelector("[data-json-note]").hidden && `+rows+`.length === 1`)
	clickFrame(t, b, "[data-json-details] summary")
	waitFrame(t, b, frameNode(t, b), "the JSON folded", `!document.querySelector("[data-json-details]").open`)
	clickFrame(t, b, `form[data-conflict] button[type="submit"]`)
	waitFrame(t, b, frameNode(t, b), "the JSON error on the textarea, unfolded", `document.querySelector("[data-json-details]").open &&
		document.querySelector("#mapping-schema").getAttribute("aria-invalid") === "true" && document.querySelector("#mapping-schema-error").textContent === "must be valid JSON"`)
	audit(t, b, "the mapping page with invalid JSON")
	if code := s.call(t, "GET", path, nil, nil, &stored); code != 200 || stored.Mapping.Version != 2 {
		t.Fatalf("after invalid JSON: %d, version %d", code, stored.Mapping.Version)
	}

	// 360 px: no horizontal scrolling, and still every check.
	if err := chromedp.Do(b.Ctx, chromedp.EmulateViewport(360, 800)); err != nil {
		t.Fatal(err)
	}
	waitFrame(t, b, frameNode(t, b), "the mapping editor at 360 px without horizontal scrolling", `document.documentElement.scrollWidth <= document.documentElement.clientWidth`)
	audit(t, b, "the mapping editor at 360 px")
}
