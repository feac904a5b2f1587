package oauthrs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// maxJWKSBytes bounds a fetched key set; real ones are a few kilobytes.
const maxJWKSBytes = 1 << 20

// remoteKeys caches the key set at a JWKS URL. The set is replaced whole on
// each successful fetch (so removed keys stop verifying) and kept when a
// fetch fails (so an outage of the authorization server does not lock
// everyone out). Fetches happen in the background every refresh interval,
// and on demand when a token names an unknown kid, at most once per
// minInterval; concurrent demands share one fetch.
type remoteKeys struct {
	url         string
	client      *http.Client
	timeout     time.Duration
	refresh     time.Duration
	minInterval time.Duration
	now         func() time.Time
	log         *slog.Logger

	set atomic.Pointer[keySet]

	mu          sync.Mutex
	lastAttempt time.Time // start of the last fetch, any kind
	lastErr     error     // nil after a success
	inflight    *fetchCall
	closed      bool

	ctx    context.Context // canceled by close, ending fetches in flight
	cancel context.CancelFunc
	done   chan struct{}  // closed when loop returns
	runs   sync.WaitGroup // fetches in flight
}

type fetchCall struct {
	done chan struct{}
	set  *keySet
	err  error
}

func newRemoteKeys(url string, o *Options) *remoteKeys {
	r := &remoteKeys{
		url: url, client: o.HTTPClient, timeout: o.FetchTimeout,
		refresh: o.RefreshInterval, minInterval: o.MinRefetchInterval,
		now: o.Now, log: o.Logger,
		done: make(chan struct{}),
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	go r.loop()
	return r
}

// loop fetches at once, then every refresh interval; after a failure it
// retries every minInterval until a fetch succeeds.
func (r *remoteKeys) loop() {
	defer close(r.done)
	for {
		_, err := r.fetch(r.ctx, true)
		wait := r.refresh
		if err != nil {
			wait = max(r.minInterval, time.Second)
		}
		t := time.NewTimer(wait)
		select {
		case <-r.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// close stops the background refresh and waits for fetches in flight, which
// it cancels.
func (r *remoteKeys) close() {
	r.cancel()
	<-r.done
	r.mu.Lock()
	r.closed = true // no fetch starts after this, so Wait is final
	r.mu.Unlock()
	r.runs.Wait()
}

// keys returns the cached set, fetching it (rate-limited) when there is none
// yet. The error is ErrKeysUnavailable with the reason of the last failure.
func (r *remoteKeys) keys(ctx context.Context) (*keySet, error) {
	if s := r.set.Load(); s != nil {
		return s, nil
	}
	s, err := r.fetch(ctx, false)
	if s == nil {
		return nil, &TokenError{Reason: ErrKeysUnavailable, Detail: "no key set from " + r.url + " yet", Cause: err}
	}
	return s, nil
}

// fetch loads the key set, or joins a fetch in flight. Unless forced, it does
// nothing when the last attempt began less than minInterval ago, and returns
// the cached set (possibly nil) with the reason it did not fetch.
func (r *remoteKeys) fetch(ctx context.Context, force bool) (*keySet, error) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return r.set.Load(), errors.New("the verifier is closed")
	}
	c := r.inflight
	if c == nil {
		now := r.now()
		if !force && !r.lastAttempt.IsZero() && now.Sub(r.lastAttempt) < r.minInterval {
			err, ago := r.lastErr, now.Sub(r.lastAttempt)
			r.mu.Unlock()
			next := (r.minInterval - ago).Round(time.Millisecond)
			if err == nil {
				err = fmt.Errorf("the key set was fetched %v ago; the next fetch is allowed in %v", ago.Round(time.Millisecond), next)
			} else {
				err = fmt.Errorf("%w (next try in %v)", err, next)
			}
			return r.set.Load(), err
		}
		r.lastAttempt = now
		c = &fetchCall{done: make(chan struct{})}
		r.inflight = c
		// The fetch is detached from ctx: a caller giving up must not
		// abort the fetch others wait for.
		r.runs.Add(1)
		go r.run(c)
	}
	r.mu.Unlock()
	select {
	case <-c.done:
		return c.set, c.err
	case <-ctx.Done():
		return r.set.Load(), ctx.Err()
	}
}

func (r *remoteKeys) run(c *fetchCall) {
	defer r.runs.Done()
	ctx, cancel := context.WithTimeout(r.ctx, r.timeout)
	defer cancel()
	set, err := r.get(ctx)
	r.mu.Lock()
	r.lastErr = err
	r.inflight = nil
	if err == nil {
		r.set.Store(set)
		c.set = set
	} else {
		c.set = r.set.Load()
		c.err = err
	}
	r.mu.Unlock()
	if err != nil {
		r.log.Warn("oauth: fetching the JWKS failed; keeping the keys fetched before", "url", r.url, "error", err, "cached", c.set != nil)
	} else if len(set.skipped) > 0 {
		r.log.Warn("oauth: JWKS keys skipped", "url", r.url, "skipped", set.skipped)
	}
	close(c.done)
}

func (r *remoteKeys) get(ctx context.Context) (*keySet, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", r.url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching %s: HTTP status %s", r.url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", r.url, err)
	}
	if len(body) > maxJWKSBytes {
		return nil, fmt.Errorf("%s: the key set is larger than %d bytes", r.url, maxJWKSBytes)
	}
	set, err := parseJWKS(body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.url, err)
	}
	return set, nil
}
