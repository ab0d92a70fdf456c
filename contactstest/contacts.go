package contactstest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Allowed body properties per DTO of the spec.
var (
	contactWritable = []string{
		"firstName", "lastName", "name", "email", "phone", "address1", "city", "state", "postalCode",
		"website", "timezone", "dnd", "dndSettings", "inboundDndSettings", "tags", "customFields",
		"source", "dateOfBirth", "country", "assignedTo",
	}
	createContactFields = append(slices.Clone(contactWritable), "locationId", "gender", "companyName")
	upsertContactFields = append(slices.Clone(createContactFields), "createNewIfDuplicateAllowed")
	updateContactFields = contactWritable
)

var dndChannels = []string{"Call", "Email", "SMS", "WhatsApp", "GMB", "FB"}

// access checks that the token may act on a location. It answers 403.
func (c *call) access(locationID string) bool {
	if locationID != c.tok.locationID || c.s.locations[locationID] == nil {
		c.fail(http.StatusForbidden, "The token does not have access to this location.")
		return false
	}
	return true
}

// contact loads the path's contact, answering 400 (the API's not-found)
// or 403 itself.
func (c *call) contact() (*Contact, bool) {
	id := c.r.PathValue("contactId")
	ct := c.s.contacts[id]
	if ct == nil {
		c.fail(http.StatusBadRequest, fmt.Sprintf("Contact with id %s not found", id))
		return nil, false
	}
	if !c.access(ct.LocationID) {
		return nil, false
	}
	return ct, true
}

// bodyLocation reads and checks the locationId of a body.
func (c *call) bodyLocation(v *validator) (string, bool) {
	loc := v.required("locationId")
	if !v.ok(c) {
		return "", false
	}
	return loc, c.access(loc)
}

// applyContactFields writes the body's contact fields onto ct. With
// update set, JSON null clears a nullable field.
func (c *call) applyContactFields(v *validator, ct *Contact) {
	set := func(name string, dst *string) {
		if v.has(name) {
			*dst = strings.TrimSpace(v.str(name))
		} else if v.isNull(name) {
			*dst = ""
		}
	}
	set("firstName", &ct.FirstName)
	set("lastName", &ct.LastName)
	set("name", &ct.Name)
	set("address1", &ct.Address1)
	set("city", &ct.City)
	set("state", &ct.State)
	set("postalCode", &ct.PostalCode)
	set("website", &ct.Website)
	set("timezone", &ct.Timezone)
	set("source", &ct.Source)
	set("country", &ct.Country)
	set("assignedTo", &ct.AssignedTo)
	set("companyName", &ct.CompanyName)
	set("gender", &ct.Gender)
	if v.has("email") {
		ct.Email = v.email("email")
	} else if v.isNull("email") {
		ct.Email = ""
	}
	if v.has("phone") {
		ct.Phone = v.phone("phone")
	} else if v.isNull("phone") {
		ct.Phone = ""
	}
	if dob, ok := v.dateOfBirth("dateOfBirth"); ok {
		ct.DateOfBirth = dob
	}
	if b, ok := v.boolean("dnd"); ok {
		ct.DND = b
	}
	if v.has("dndSettings") {
		var m map[string]DNDSetting
		if json.Unmarshal(v.f["dndSettings"], &m) != nil {
			v.add("dndSettings must be an object")
		}
		for ch, st := range m {
			if !slices.Contains(dndChannels, ch) {
				v.add("property dndSettings.%s should not exist", ch)
			}
			if st.Status != "active" && st.Status != "inactive" && st.Status != "permanent" {
				v.add("dndSettings.%s.status must be one of the following values: active, inactive, permanent", ch)
			}
		}
		if ct.DNDSettings == nil {
			ct.DNDSettings = map[string]DNDSetting{}
		}
		for ch, st := range m {
			ct.DNDSettings[ch] = st
		}
	}
	if v.has("inboundDndSettings") {
		// InboundDndSettingsSchema: only "all", whose status is required
		// and, unlike dndSettings', cannot be "permanent".
		var in map[string]json.RawMessage
		var all *DNDSetting
		if json.Unmarshal(v.f["inboundDndSettings"], &in) != nil || in == nil {
			v.add("inboundDndSettings must be an object")
		}
		for k := range in {
			if k != "all" {
				v.add("property inboundDndSettings.%s should not exist", k)
			}
		}
		if raw, ok := in["all"]; ok && string(raw) != "null" {
			if json.Unmarshal(raw, &all) != nil {
				v.add("inboundDndSettings.all must be an object")
			} else if all.Status != "active" && all.Status != "inactive" {
				v.add("inboundDndSettings.all.status must be one of the following values: active, inactive")
			}
		}
		if all != nil {
			ct.InboundDND = all
		}
	}
	if tags, ok := v.strings("tags"); ok {
		ct.Tags = dedupe(tags) // tags in a contact body replace every tag
	}
	if v.has("customFields") {
		c.applyCustomFields(v, ct)
	}
}

// applyCustomFields writes the body's customFields the way the live API
// takes them, which is not the spec's way: the spec's input schemas
// require id and type field_value as a string, an array of strings or an
// object, with no number; the live API (API-NOTES) identifies a field by
// id or by key and takes a string, a number (numeric and monetary fields),
// an array of strings or a file map (an object), or null to clear it. The
// fake accepts exactly that and refuses anything else with a 422.
func (c *call) applyCustomFields(v *validator, ct *Contact) {
	var in []struct {
		ID    string          `json:"id"`
		Key   string          `json:"key"`
		Value json.RawMessage `json:"field_value"`
	}
	if json.Unmarshal(v.f["customFields"], &in) != nil {
		v.add("customFields must be an array")
		return
	}
	loc := c.s.locations[ct.LocationID]
	for i, f := range in {
		id := f.ID
		switch {
		case id == "" && f.Key == "":
			v.add("customFields.%d must have an id or a key", i)
			continue
		case id == "":
			id = loc.fieldsByKey[strings.TrimPrefix(f.Key, "contact.")]
			if id == "" {
				id = loc.fieldsByKey[f.Key]
			}
			if id == "" {
				v.add("customFields.%d: no custom field with key %s in this location", i, f.Key)
				continue
			}
		case loc.fieldKeyByID[id] == "":
			v.add("customFields.%d: no custom field with id %s in this location", i, id)
			continue
		}
		var val any
		if len(f.Value) > 0 {
			_ = json.Unmarshal(f.Value, &val)
		}
		if !customValueAccepted(val) {
			v.add("customFields.%d.field_value must be a string, a number, an array of strings or an object", i)
			continue
		}
		ct.CustomFields = slices.DeleteFunc(ct.CustomFields, func(cf CustomField) bool { return cf.ID == id })
		if val != nil && val != "" {
			ct.CustomFields = append(ct.CustomFields, CustomField{ID: id, Value: val})
		}
	}
}

// customValueAccepted reports whether the live API takes val (decoded
// from JSON) as a custom field value.
func customValueAccepted(val any) bool {
	switch x := val.(type) {
	case nil, string, float64, map[string]any:
		return true
	case []any:
		for _, e := range x {
			if _, ok := e.(string); !ok {
				return false
			}
		}
		return true
	}
	return false // a boolean
}

func dedupe(in []string) []string {
	out := make([]string, 0, len(in))
	for _, t := range in {
		t = strings.TrimSpace(t)
		if t != "" && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

func (c *call) duplicateError(dup *Contact, field string) {
	c.writeJSON(http.StatusBadRequest, map[string]any{
		"statusCode": 400,
		"message":    "This location does not allow duplicated contacts.",
		"meta":       map[string]any{"contactName": dup.displayName(), "contactId": dup.ID, "matchingField": field},
	})
}

// createWire renders a contact as create returns it (CreateContactSchema):
// the read model plus deleted, the email flags, the empty offers and
// products lists, and birthMonth (zero-based, as the spec's example has 8
// for September) and birthDay when a dateOfBirth is set.
func createWire(ct *Contact) map[string]any {
	m := ct.wire()
	m["deleted"] = false
	m["bounceEmail"] = false
	m["unsubscribeEmail"] = false
	m["offers"] = []string{}
	m["products"] = []string{}
	if dob, err := time.Parse(isoMillis, ct.DateOfBirth); err == nil {
		m["birthMonth"] = int(dob.Month()) - 1
		m["birthDay"] = dob.Day()
	}
	return m
}

func (c *call) createContact() {
	f, ok := c.decodeBody(createContactFields...)
	if !ok {
		return
	}
	v := &validator{f: f}
	locID, ok := c.bodyLocation(v)
	if !ok {
		return
	}
	now := c.s.clock.Now()
	ct := &Contact{ID: c.s.newID(), LocationID: locID, DateAdded: now, DateUpdated: now}
	c.applyContactFields(v, ct)
	if !v.ok(c) {
		return
	}
	if !c.s.locations[locID].settings.AllowDuplicateContact {
		if dup, field := c.s.findDuplicateLocked(locID, ct.Email, ct.Phone, ""); dup != nil {
			c.duplicateError(dup, field)
			return
		}
	}
	c.s.putContactLocked(ct)
	c.s.emitContactLocked("ContactCreate", ct)
	if c.s.createdButFailed() {
		// Live quirk: the contact exists, yet the API answers 422.
		c.fail(http.StatusUnprocessableEntity, "Something went wrong while creating the contact")
		return
	}
	c.writeJSON(http.StatusCreated, map[string]any{"contact": createWire(ct)})
}

func (c *call) getContact() {
	ct, ok := c.contact()
	if !ok {
		return
	}
	c.writeJSON(http.StatusOK, map[string]any{"contact": ct.wire()})
}

func (c *call) updateContact() {
	old, ok := c.contact()
	if !ok {
		return
	}
	f, ok := c.decodeBody(updateContactFields...)
	if !ok {
		return
	}
	v := &validator{f: f}
	upd := old.clone()
	c.applyContactFields(v, &upd)
	if !v.ok(c) {
		return
	}
	if !c.s.locations[upd.LocationID].settings.AllowDuplicateContact {
		if dup, field := c.s.findDuplicateLocked(upd.LocationID, changed(old.Email, upd.Email), changed(old.Phone, upd.Phone), upd.ID); dup != nil {
			c.duplicateError(dup, field)
			return
		}
	}
	upd.DateUpdated = c.s.clock.Now()
	c.s.putContactLocked(&upd)
	c.s.emitContactChangesLocked(old, &upd)
	c.writeJSON(http.StatusOK, map[string]any{"succeded": true, "contact": upd.wire()})
}

// changed returns now if it differs from before, else "".
func changed(before, now string) string {
	if strings.EqualFold(before, now) {
		return ""
	}
	return now
}

func (c *call) upsertContact() {
	f, ok := c.decodeBody(upsertContactFields...)
	if !ok {
		return
	}
	v := &validator{f: f}
	locID, ok := c.bodyLocation(v)
	if !ok {
		return
	}
	email, phone := v.email("email"), v.phone("phone")
	createNew, _ := v.boolean("createNewIfDuplicateAllowed")
	if !v.ok(c) {
		return
	}
	settings := c.s.locations[locID].settings
	now := c.s.clock.Now()

	var match *Contact
	var matchField string
	if !(createNew && settings.AllowDuplicateContact) {
		match, matchField = c.s.findDuplicateLocked(locID, email, phone, "")
	}
	if match == nil {
		ct := &Contact{ID: c.s.newID(), LocationID: locID, DateAdded: now, DateUpdated: now}
		c.applyContactFields(v, ct)
		if !v.ok(c) {
			return
		}
		c.s.putContactLocked(ct)
		c.s.emitContactLocked("ContactCreate", ct)
		c.writeJSON(http.StatusOK, map[string]any{"new": true, "contact": ct.wire()})
		return
	}
	upd := match.clone()
	c.applyContactFields(v, &upd)
	if !v.ok(c) {
		return
	}
	// With both fields given and two different matches, the first field
	// in the location's priority wins and the second field is ignored.
	if !settings.AllowDuplicateContact {
		switch matchField {
		case "email":
			if other, _ := c.s.findDuplicateLocked(locID, "", upd.Phone, upd.ID); other != nil && upd.Phone != match.Phone {
				upd.Phone = match.Phone
			}
		case "phone":
			if other, _ := c.s.findDuplicateLocked(locID, upd.Email, "", upd.ID); other != nil && !strings.EqualFold(upd.Email, match.Email) {
				upd.Email = match.Email
			}
		}
	}
	upd.DateUpdated = now
	c.s.putContactLocked(&upd)
	c.s.emitContactChangesLocked(match, &upd)
	c.writeJSON(http.StatusOK, map[string]any{"new": false, "contact": upd.wire()})
}

func (c *call) deleteContact() {
	ct, ok := c.contact()
	if !ok {
		return
	}
	snapshot := ct.clone()
	c.s.deleteContactLocked(ct.ID)
	c.s.emitContactLocked("ContactDelete", &snapshot)
	c.writeJSON(http.StatusOK, map[string]any{"succeded": true})
}

func (c *call) findDuplicate() {
	q := c.r.URL.Query()
	locID := q.Get("locationId")
	if locID == "" {
		c.fail(http.StatusUnprocessableEntity, "locationId should not be empty")
		return
	}
	if !c.access(locID) {
		return
	}
	email, number := q.Get("email"), q.Get("number")
	if email == "" && number == "" {
		c.fail(http.StatusBadRequest, "Pass at least one of number, email query parameter")
		return
	}
	dup, _ := c.s.findDuplicateLocked(locID, email, number, "")
	if dup == nil {
		c.writeJSON(http.StatusOK, map[string]any{"contact": nil})
		return
	}
	c.writeJSON(http.StatusOK, map[string]any{"contact": dup.wire()})
}

func (c *call) bulkBusiness() {
	f, ok := c.decodeBody("locationId", "ids", "businessId")
	if !ok {
		return
	}
	v := &validator{f: f}
	ids, hasIDs := v.strings("ids")
	if !hasIDs {
		v.add("ids must be an array of strings")
	}
	for i, id := range ids {
		if len(id) > 50 {
			v.add("ids.%d must be shorter than or equal to 50 characters", i)
		}
	}
	if _, present := f["businessId"]; !present {
		v.add("businessId must be a string or null")
	}
	business := v.str("businessId")
	locID, ok := c.bodyLocation(v)
	if !ok {
		return
	}
	var updated []string
	now := c.s.clock.Now()
	for _, id := range ids {
		old := c.s.contacts[id]
		if old == nil || old.LocationID != locID {
			continue
		}
		upd := old.clone()
		upd.BusinessID = business
		upd.DateUpdated = now
		c.s.putContactLocked(&upd)
		c.s.emitContactChangesLocked(old, &upd)
		updated = append(updated, id)
	}
	c.writeJSON(http.StatusOK, map[string]any{"success": true, "ids": nonNil(updated)})
}

func (c *call) followers(add bool) {
	old, ok := c.contact()
	if !ok {
		return
	}
	f, ok := c.decodeBody("followers")
	if !ok {
		return
	}
	v := &validator{f: f}
	in, has := v.strings("followers")
	if !has {
		v.add("followers must be an array of strings")
	}
	if !v.ok(c) {
		return
	}
	upd := old.clone()
	var changedIDs []string
	for _, id := range dedupe(in) {
		has := slices.Contains(upd.Followers, id)
		switch {
		case add && !has:
			upd.Followers = append(upd.Followers, id)
			changedIDs = append(changedIDs, id)
		case !add && has:
			upd.Followers = slices.DeleteFunc(upd.Followers, func(x string) bool { return x == id })
			changedIDs = append(changedIDs, id)
		}
	}
	if len(changedIDs) > 0 {
		// followers is part of the read model: a change moves dateUpdated
		// and, as the same edit through CRM.UpdateContact does, emits
		// ContactUpdate (whose snapshot does not carry followers).
		upd.DateUpdated = c.s.clock.Now()
		c.s.putContactLocked(&upd)
		c.s.emitContactChangesLocked(old, &upd)
	}
	if add {
		c.writeJSON(http.StatusCreated, map[string]any{"followers": nonNil(upd.Followers), "followersAdded": nonNil(changedIDs)})
	} else {
		c.writeJSON(http.StatusOK, map[string]any{"followers": nonNil(upd.Followers), "followersRemoved": nonNil(changedIDs)})
	}
}

func (c *call) addFollowers()    { c.followers(true) }
func (c *call) removeFollowers() { c.followers(false) }

// enrol adds or removes the contact from a campaign or workflow list.
// Enrolments are not part of the contact's read model (GET does not show
// them) nor of any documented webhook payload, and no documented event
// reports them, so they leave dateUpdated alone and emit nothing.
func (c *call) enrol(list func(*Contact) *[]string, id string, add bool, status int, bodyFields ...string) {
	old, ok := c.contact()
	if !ok {
		return
	}
	f, ok := c.decodeBody(bodyFields...)
	if !ok {
		return
	}
	v := &validator{f: f}
	if slices.Contains(bodyFields, "eventStartTime") {
		v.isoDate("eventStartTime")
	}
	if !v.ok(c) {
		return
	}
	upd := old.clone()
	l := list(&upd)
	*l = slices.DeleteFunc(*l, func(x string) bool { return x == id || id == "" })
	if add {
		*l = append(*l, id)
	}
	c.s.putContactLocked(&upd)
	c.writeJSON(status, map[string]any{"succeded": true})
}

func campaignsOf(ct *Contact) *[]string { return &ct.Campaigns }
func workflowsOf(ct *Contact) *[]string { return &ct.Workflows }

func (c *call) addCampaign() {
	c.enrol(campaignsOf, c.r.PathValue("campaignId"), true, http.StatusCreated)
}

func (c *call) removeCampaign() {
	c.enrol(campaignsOf, c.r.PathValue("campaignId"), false, http.StatusOK)
}

func (c *call) removeAllCampaigns() { c.enrol(campaignsOf, "", false, http.StatusOK) }

func (c *call) addWorkflow() {
	c.enrol(workflowsOf, c.r.PathValue("workflowId"), true, http.StatusOK, "eventStartTime")
}

func (c *call) removeWorkflow() {
	c.enrol(workflowsOf, c.r.PathValue("workflowId"), false, http.StatusOK, "eventStartTime")
}
