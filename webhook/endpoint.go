package webhook

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"slices"
)

// Endpoint is one receiver of events.
type Endpoint struct {
	// Name identifies the endpoint in metrics, logs and the durable
	// delivery cursor: renaming an endpoint makes it start from the
	// oldest event still in the outbox. Default: its URL without user
	// info, query and fragment (defaultName).
	Name string `json:"name"`
	// URL receives a POST per event (http or https).
	URL string `json:"url"`
	// Secret keys the HMAC-SHA256 signature of every delivery.
	Secret string `json:"secret"`
	// Events lists the event types sent to it; empty: all of them.
	Events []string `json:"events"`
}

// wants reports whether the endpoint subscribes to events of type typ.
func (ep *Endpoint) wants(typ string) bool {
	return len(ep.Events) == 0 || slices.Contains(ep.Events, typ)
}

// LoadEndpoints reads a JSON file holding an array of endpoints, e.g.
//
//	[{"name": "search", "url": "https://search.internal/hooks/syncd",
//	  "secret": "…", "events": ["document.changed", "document.deleted"]}]
//
// and checks it with [CheckEndpoints].
func LoadEndpoints(path string) ([]Endpoint, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var eps []Endpoint
	if err := json.Unmarshal(b, &eps); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := CheckEndpoints(eps); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return eps, nil
}

// CheckEndpoints checks each endpoint's URL, secret and event types, and
// that names are unique; it fills in default names.
func CheckEndpoints(eps []Endpoint) error {
	seen := make(map[string]bool)
	for i := range eps {
		ep := &eps[i]
		u, err := url.Parse(ep.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("endpoint %d: url %q is not an http or https URL", i+1, ep.URL)
		}
		if ep.Secret == "" {
			return fmt.Errorf("endpoint %d (%s): no secret: every delivery is signed", i+1, ep.URL)
		}
		for _, typ := range ep.Events {
			if !slices.Contains(AllTypes, typ) {
				return fmt.Errorf("endpoint %d (%s): unknown event type %q (known: %v)", i+1, ep.URL, typ, AllTypes)
			}
		}
		if ep.Name == "" {
			ep.Name = defaultName(u)
		}
		if seen[ep.Name] {
			return fmt.Errorf("endpoint %d: name %q used twice", i+1, ep.Name)
		}
		seen[ep.Name] = true
	}
	return nil
}

// defaultName is an unnamed endpoint's name: its URL without user info,
// query or fragment, which often hold credentials (a token in the query)
// and would otherwise show on /metrics, which needs no key, and in logs.
func defaultName(u *url.URL) string {
	c := *u
	c.User, c.RawQuery, c.ForceQuery, c.Fragment, c.RawFragment = nil, "", false, "", ""
	return c.String()
}
