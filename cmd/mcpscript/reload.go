package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/engine/config"
)

// Hot reload in serve: the config file and the scripts it names are read
// again, validated and applied while the proxy runs (see Runner.Reconfigure
// for the servers; the scripts swap as a whole). A change to a watched
// file, SIGHUP and POST /api/reload trigger it.

// reloadDebounce gathers the events of one save (editors write, rename and
// chmod) into one reload.
const reloadDebounce = 200 * time.Millisecond

// reloadTimeout bounds one reload: the servers it adds or changes must start
// within it.
const reloadTimeout = 2 * time.Minute

// reloader applies new versions of the config to a running serve.
type reloader struct {
	a     *app
	r     *engine.Runner
	mu    sync.Mutex // one reload at a time
	count *prometheus.CounterVec

	watcher *fsnotify.Watcher // nil: not watching
	watched []string          // the files watched, absolute
}

func newReloader(a *app, r *engine.Runner) *reloader {
	return &reloader{a: a, r: r, count: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mcpscript_config_reloads_total",
		Help: `Config reloads, by result: "applied", "refused" (the config or a script was invalid; the old one stays) or "partial" (applied, but a server did not start).`,
	}, []string{"result"})}
}

// reload reads the config and its scripts again and applies them. A config
// or script that does not load is refused (the error wraps
// engine.ErrConfigInvalid) and nothing changes.
func (rl *reloader) reload(ctx context.Context, why string) (engine.Changes, error) {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	a, r := rl.a, rl.r
	ch, err := rl.apply(ctx)
	switch {
	case errors.Is(err, engine.ErrConfigInvalid):
		rl.count.WithLabelValues("refused").Inc()
		a.logger.Error("config reload refused; the previous config stays", "trigger", why, "err", err)
	case err != nil:
		rl.count.WithLabelValues("partial").Inc()
		a.logger.Error("config reloaded, but not every server started", "trigger", why,
			"added", ch.Added, "removed", ch.Removed, "changed", ch.Changed, "err", err)
	default:
		rl.count.WithLabelValues("applied").Inc()
		set := a.scripts.Load()
		// Said on stderr like serve's other milestones, whatever the log level.
		fmt.Fprintf(a.stderr, "mcpscript: config reloaded (%s): %s; %s, %s\n", why, describeChanges(ch),
			plural(set.hooks, "hook"), plural(set.filters, "filter"))
	}
	rl.rewatch(r.Config())
	return ch, err
}

func (rl *reloader) apply(ctx context.Context) (engine.Changes, error) {
	a, r := rl.a, rl.r
	cfg, err := a.loadConfig()
	if err == nil {
		err = cfg.Validate()
	}
	if err == nil {
		err = cfg.CheckSecrets()
	}
	if err != nil {
		return engine.Changes{}, refused(err)
	}
	prev, old := r.Config(), a.scripts.Load()
	set, err := a.buildScripts(ctx, cfg, old)
	if err != nil {
		return engine.Changes{}, err
	}
	ch, err := r.Reconfigure(ctx, cfg)
	if errors.Is(err, engine.ErrConfigInvalid) {
		_ = set.close()
		return ch, err
	}
	r.ReplaceMiddleware(set.mw...)
	a.scripts.Store(set)
	old.retire(a.logger)
	for _, key := range restartOnly(prev, cfg) {
		a.logger.Warn("config reload: this section changed, but takes effect only when serve restarts", "section", key)
	}
	return ch, err
}

// describeChanges says what a reload did to the servers.
func describeChanges(ch engine.Changes) string {
	var parts []string
	for _, p := range []struct {
		verb  string
		names []string
	}{{"added", ch.Added}, {"removed", ch.Removed}, {"restarted", ch.Changed}} {
		if len(p.names) > 0 {
			parts = append(parts, p.verb+" "+strings.Join(p.names, ", "))
		}
	}
	if len(parts) == 0 {
		parts = append(parts, "no server changed")
	}
	return strings.Join(parts, "; ") + fmt.Sprintf("; %d unchanged", len(ch.Unchanged))
}

// refused marks err as a refusal of the new config.
func refused(err error) error {
	if errors.Is(err, engine.ErrConfigInvalid) {
		return err
	}
	return fmt.Errorf("%w: %w", engine.ErrConfigInvalid, err)
}

// restartOnly names the sections that differ between the configs and that
// a reload does not apply: the proxy's listener, authentication and
// sessions, and the audit trail.
func restartOnly(old, cfg *config.Config) []string {
	if old == nil {
		return nil
	}
	var out []string
	if !reflect.DeepEqual(old.Proxy, cfg.Proxy) {
		out = append(out, "sseProxy")
	}
	if !reflect.DeepEqual(old.Audit, cfg.Audit) {
		out = append(out, "audit")
	}
	return out
}

// watch reloads when the config file or one of its scripts changes, until
// ctx ends. Editors often replace a file (write a new one, rename it over
// the old), so the folders are watched and events filtered by name.
func (rl *reloader) watch(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watching the config for changes: %w", err)
	}
	rl.mu.Lock()
	rl.watcher = w
	rl.rewatch(rl.r.Config())
	rl.mu.Unlock()
	go func() {
		defer w.Close()
		var timer <-chan time.Time
		var changed []string
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if rl.isWatched(ev.Name) && ev.Op&(fsnotify.Write|fsnotify.Create|fsnotify.Rename|fsnotify.Remove) != 0 {
					changed = append(changed, filepath.Base(ev.Name))
					timer = time.After(reloadDebounce)
				}
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				rl.a.logger.Warn("watching the config for changes", "err", err)
			case <-timer:
				timer = nil
				slices.Sort(changed)
				why := "changed: " + strings.Join(slices.Compact(changed), ", ")
				changed = nil
				rctx, cancel := context.WithTimeout(ctx, reloadTimeout)
				_, _ = rl.reload(rctx, why)
				cancel()
			}
		}
	}()
	return nil
}

// rewatch watches the folders of cfg's file and scripts; the caller holds
// rl.mu.
func (rl *reloader) rewatch(cfg *config.Config) {
	if rl.watcher == nil {
		return
	}
	files := watchedFiles(cfg)
	dirs := map[string]bool{}
	for _, f := range files {
		dirs[filepath.Dir(f)] = true
	}
	for _, d := range rl.watcher.WatchList() {
		if !dirs[d] {
			_ = rl.watcher.Remove(d)
		}
	}
	for d := range dirs {
		if err := rl.watcher.Add(d); err != nil && !errors.Is(err, os.ErrNotExist) {
			rl.a.logger.Warn("cannot watch a folder for config changes", "dir", d, "err", err)
		}
	}
	rl.watched = files
}

func (rl *reloader) isWatched(name string) bool {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	abs, err := filepath.Abs(name)
	return err == nil && slices.Contains(rl.watched, abs)
}

// watchedFiles are the files a reload would read: the config, its hooks,
// filters and servers' env files.
func watchedFiles(cfg *config.Config) []string {
	var out []string
	add := func(p string) {
		if p == "" {
			return
		}
		if abs, err := filepath.Abs(p); err == nil {
			out = append(out, abs)
		}
	}
	if !strings.HasPrefix(cfg.Source, "<") {
		add(cfg.Source)
	}
	if cfg.Scripts != nil {
		for _, h := range cfg.Scripts.Hooks {
			if h != nil && h.Path != "" {
				add(cfg.Resolve(h.Path))
			}
		}
	}
	for _, f := range cfg.Filters {
		if f != nil {
			add(cfg.Resolve(f.Wasm))
		}
	}
	for _, name := range cfg.ServerNames() {
		add(cfg.Servers[name].ResolvedEnvFile(cfg.Dir))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// limitsCollector serves the refusal counter of the current script set's
// limits, which a reload may replace.
type limitsCollector struct{ a *app }

func (c limitsCollector) Describe(ch chan<- *prometheus.Desc) {
	if set := c.a.scripts.Load(); set != nil && set.pol != nil {
		set.pol.Collector().Describe(ch)
	}
}

func (c limitsCollector) Collect(ch chan<- prometheus.Metric) {
	if set := c.a.scripts.Load(); set != nil && set.pol != nil {
		set.pol.Collector().Collect(ch)
	}
}

// onHangup runs fn at each SIGHUP until the returned function is called.
func onHangup(fn func()) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-hup:
				fn()
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		close(done)
	}
}
