package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/server"
	"github.com/deltasync/syncd/webhook"
)

// WebhookConfig is what the flags set about webhooks (docs/operations.md,
// "Webhooks"). Like every flag, each may be set as SYNCD_<NAME>:
// SYNCD_WEBHOOK, SYNCD_WEBHOOK_SECRET, SYNCD_WEBHOOKS, and so on.
type WebhookConfig struct {
	URL       string
	Secret    string
	Events    string
	File      string
	Debounce  time.Duration
	OutboxMax int
	Timeout   time.Duration
	RetryMin  time.Duration
	RetryMax  time.Duration
}

func (w *WebhookConfig) webhookFlags(fs *flag.FlagSet) {
	fs.StringVar(&w.URL, "webhook", "", "URL receiving a signed POST per webhook event (one endpoint; -webhooks for several)")
	fs.StringVar(&w.Secret, "webhook-secret", "", "secret keying -webhook's HMAC-SHA256 signatures (required with -webhook)")
	fs.StringVar(&w.Events, "webhook-events", "", "comma-separated event types sent to -webhook (default all: document.changed, document.created, document.deleted, presence.joined, presence.left)")
	fs.StringVar(&w.File, "webhooks", "", `JSON file listing webhook endpoints: [{"name","url","secret","events":[...]}]`)
	fs.DurationVar(&w.Debounce, "webhook-debounce", time.Second, "shortest time between two document.changed events of one document")
	fs.IntVar(&w.OutboxMax, "webhook-outbox-max", 100000, "webhook events waiting for delivery; past it presence events are dropped (counted) and document events wait")
	fs.DurationVar(&w.Timeout, "webhook-timeout", 10*time.Second, "bound on one webhook delivery attempt")
	fs.DurationVar(&w.RetryMin, "webhook-retry-min", time.Second, "first wait before retrying a failed delivery (doubles, with jitter)")
	fs.DurationVar(&w.RetryMax, "webhook-retry-max", 5*time.Minute, "longest wait between retries of a delivery")
}

// endpoints returns the configured endpoints (none: webhooks are off).
func (w *WebhookConfig) endpoints() ([]webhook.Endpoint, error) {
	var eps []webhook.Endpoint
	if w.File != "" {
		list, err := webhook.LoadEndpoints(w.File)
		if err != nil {
			return nil, fmt.Errorf("-webhooks: %w", err)
		}
		eps = list
	}
	if w.URL != "" {
		ep := webhook.Endpoint{URL: w.URL, Secret: w.Secret}
		for _, e := range strings.Split(w.Events, ",") {
			if e = strings.TrimSpace(e); e != "" {
				ep.Events = append(ep.Events, e)
			}
		}
		eps = append(eps, ep)
	}
	if err := webhook.CheckEndpoints(eps); err != nil {
		return nil, fmt.Errorf("-webhook: %w", err)
	}
	return eps, nil
}

// webhookRules are the rows of Config.rules for the webhook flags.
func (w *WebhookConfig) webhookRules() []flagRule {
	return []flagRule{
		positive("webhook-debounce", w.Debounce),
		positive("webhook-timeout", w.Timeout),
		positive("webhook-retry-min", w.RetryMin),
		{flag: "webhook-retry-max", value: w.RetryMax, ok: w.RetryMax >= w.RetryMin, want: fmt.Sprintf("at least -webhook-retry-min (%v)", w.RetryMin)},
		atLeast("webhook-outbox-max", w.OutboxMax, 1),
	}
}

// validateWebhooks checks the webhook flags.
func (c *Config) validateWebhooks() error {
	w := &c.Webhooks
	switch {
	case w.URL == "" && (w.Secret != "" || w.Events != ""):
		return errors.New("-webhook-secret and -webhook-events need -webhook")
	}
	_, err := w.endpoints()
	return err
}

// startWebhooks builds and starts the notifier when endpoints are
// configured; it returns nil when webhooks are off. It runs after the
// store opens and before the engine does.
func (m *Main) startWebhooks(ctx context.Context, metrics *server.Metrics) (syncd.Observer, error) {
	w := &m.Config.Webhooks
	eps, err := w.endpoints()
	if err != nil || len(eps) == 0 {
		return nil, err
	}
	n, err := webhook.New(m.store, webhook.Options{
		Endpoints: eps,
		Debounce:  w.Debounce,
		MaxOutbox: w.OutboxMax,
		Timeout:   w.Timeout,
		RetryMin:  w.RetryMin,
		RetryMax:  w.RetryMax,
		Logger:    m.Logger,
	})
	if err != nil {
		return nil, err
	}
	if err := n.Start(ctx); err != nil {
		return nil, fmt.Errorf("webhooks: %w", err)
	}
	m.webhooks = n
	metrics.Registry.MustRegister(n.Collectors()...)
	if m.Config.Store == "memory" {
		m.Logger.Warn("webhooks with -store memory: the outbox and cursors are lost on exit")
	}
	return n, nil
}

// stopWebhooks stops the notifier, after the engine has closed and before
// the store does.
func (m *Main) stopWebhooks() {
	if m.webhooks != nil {
		m.webhooks.Close()
		m.webhooks = nil
	}
}
