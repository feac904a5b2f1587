// Package wasm runs WebAssembly filters: sandboxed modules that implement
// scripting.Hook through "mcpscript filter ABI v1" (docs/wasm-abi.md), on
// the pure-Go runtime wazero.
//
// A filter is compiled once by Load (with an on-disk compilation cache) and
// run in a bounded pool of instances, each used by one goroutine at a time.
// An instance that fails in any way (a trap, a deadline, an exit, an error
// code, unreadable output), or whose call's context ended, is discarded and
// a fresh one takes its place on the next call. Guests get WASI preview1
// with no files, no environment, no network and real clocks; their stdout
// and stderr go to the log, within limits per call.
//
//	f, err := wasm.Load(ctx, "filters/redact.wasm", wasm.Options{Config: cfg})
//	...
//	runner.Use(scripting.Middleware(f, scripting.Options{Timeout: time.Second}))
//	defer f.Close(ctx)
//
// The Go guest SDK is package guest beneath this one.
package wasm

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/mcpscript/mcpscript/scripting"
	"github.com/mcpscript/mcpscript/scripting/wasm/internal/interrupt"
)

// ABIVersion is the filter ABI this package implements: a module's
// mcpscript_abi_version export must return it.
const ABIVersion = 1

// Names of the ABI's exports and of the host module.
const (
	// ExportFilter is the function run for every phase: (input_len i32) -> i32.
	ExportFilter = "mcpscript_filter"
	// ExportABIVersion returns the ABI version the module was built for: () -> i32.
	ExportABIVersion = "mcpscript_abi_version"
	// ExportInit, optional, runs once per instance after _initialize: () -> i32.
	ExportInit = "mcpscript_init"
	// HostModule is the import module of the host functions.
	HostModule = "mcpscript"
)

// Limits and defaults.
const (
	// DefaultMemoryLimitMiB caps an instance's memory when
	// Options.MemoryLimitMiB is zero. Go guests need at least 16.
	DefaultMemoryLimitMiB = 64
	// MaxMemoryLimitMiB is the largest memory a 32-bit wasm module can address.
	MaxMemoryLimitMiB = 4096
	// MaxOutputBytes bounds what a guest may write with output_write in one call.
	MaxOutputBytes = 64 << 20
	// EnvCacheDir names the environment variable that sets the default
	// compilation cache folder ("-" or "off" disables the disk cache).
	EnvCacheDir = "MCPSCRIPT_WASM_CACHE"
)

// ErrClosed is returned by Call after Close.
var ErrClosed = errors.New("filter closed")

// Options configure a filter.
type Options struct {
	// Name identifies the filter in errors and logs; default the file's
	// base name without ".wasm".
	Name string
	// Config is handed to the guest as JSON (config_read); default {}.
	Config json.RawMessage
	// Phases are the hook points the filter handles; empty means every phase.
	Phases []scripting.Phase
	// MemoryLimitMiB caps each instance's linear memory; default
	// DefaultMemoryLimitMiB (64), at most MaxMemoryLimitMiB.
	MemoryLimitMiB int
	// Pool bounds the instances kept (and so the concurrent calls);
	// default GOMAXPROCS. More concurrent calls wait for a free instance.
	Pool int
	// CacheDir is the compilation cache's folder. "" means the default:
	// $MCPSCRIPT_WASM_CACHE, else os.UserCacheDir()/mcpscript/wazero.
	// "-" or "off" compiles without a disk cache.
	CacheDir string
	// Logger receives the guest's log lines (its log calls, stdout and
	// stderr, each tagged filter=Name) and load-time warnings; default
	// slog.Default().
	Logger *slog.Logger
}

// Filter is a loaded WebAssembly filter. It implements scripting.Hook and
// is safe for concurrent use.
type Filter struct {
	name     string
	path     string
	config   []byte
	phases   map[scripting.Phase]bool // nil: every phase
	limitMiB int
	pool     int
	logger   *slog.Logger

	rt            wazero.Runtime
	compiled      wazero.CompiledModule
	hasInitialize bool // the module exports _initialize
	hasInit       bool // the module exports mcpscript_init
	modCfg        wazero.ModuleConfig
	// interruptible: the module was instrumented (package interrupt) and
	// each instance's flag stops it; otherwise wazero's
	// WithCloseOnContextDone does, at a much higher cost per loop.
	interruptible bool

	started  atomic.Int64 // instances started
	calls    atomic.Int64 // calls made
	failures atomic.Int64 // calls failed

	sem       chan struct{}   // a token per instance in use or being made
	idle      chan *instance  // instances ready for a call
	life      context.Context // ended by Close; every call's context ends with it
	stop      context.CancelFunc
	done      <-chan struct{} // life.Done()
	closeOnce sync.Once
	closeErr  error
}

var _ scripting.Hook = (*Filter)(nil)

// Load reads and compiles the module at path, checks that it implements
// the ABI, and starts one instance (so that a guest failing in its
// initialisation, or refusing its config, fails here). ctx bounds loading,
// including the first instance's start.
func Load(ctx context.Context, path string, opts Options) (*Filter, error) {
	f := &Filter{name: opts.Name, path: path, logger: opts.Logger, pool: opts.Pool, limitMiB: opts.MemoryLimitMiB}
	if f.name == "" {
		f.name = strings.TrimSuffix(filepath.Base(path), ".wasm")
	}
	if f.logger == nil {
		f.logger = slog.Default()
	}
	if f.pool <= 0 {
		f.pool = runtime.GOMAXPROCS(0)
	}
	switch {
	case f.limitMiB == 0:
		f.limitMiB = DefaultMemoryLimitMiB
	case f.limitMiB < 0 || f.limitMiB > MaxMemoryLimitMiB:
		return nil, f.loadErr(fmt.Errorf("memoryLimitMiB %d is out of range (1 to %d)", f.limitMiB, MaxMemoryLimitMiB))
	}
	f.config = bytes.TrimSpace(opts.Config)
	if len(f.config) == 0 || string(f.config) == "null" {
		f.config = []byte("{}")
	} else if !json.Valid(f.config) {
		return nil, f.loadErr(errors.New("config is not valid JSON"))
	}
	if len(opts.Phases) > 0 {
		f.phases = map[scripting.Phase]bool{}
		for _, p := range opts.Phases {
			if !slices.Contains(scripting.Phases, p) {
				return nil, f.loadErr(fmt.Errorf("unknown hook %q (known: %s)", p, phaseList()))
			}
			f.phases[p] = true
		}
	}

	wasmBytes, err := os.ReadFile(path)
	if err != nil {
		return nil, f.loadErr(err)
	}
	wasmBytes, f.interruptible = f.instrument(wasmBytes)
	rc := wazero.NewRuntimeConfig().
		WithCloseOnContextDone(!f.interruptible).
		WithMemoryLimitPages(uint32(f.limitMiB) * 16)
	cache := compilationCache(opts.CacheDir, f.logger)
	if cache != nil {
		rc = rc.WithCompilationCache(cache.cache)
	}
	f.rt = wazero.NewRuntimeWithConfig(ctx, rc)
	ok := false
	defer func() {
		if !ok {
			if f.compiled != nil {
				_ = f.compiled.Close(context.Background()) // a shared cache counts its users
			}
			_ = f.rt.Close(context.Background())
		}
	}()
	if err := f.instantiateWASI(ctx); err != nil {
		return nil, f.loadErr(fmt.Errorf("instantiating WASI: %w", err))
	}
	if err := f.instantiateHost(ctx); err != nil {
		return nil, f.loadErr(fmt.Errorf("instantiating the host module: %w", err))
	}
	if cache != nil {
		mu := cache.compiling(wasmBytes)
		mu.Lock()
		f.compiled, err = f.rt.CompileModule(ctx, wasmBytes)
		mu.Unlock()
	} else {
		f.compiled, err = f.rt.CompileModule(ctx, wasmBytes)
	}
	if err != nil {
		if strings.Contains(err.Error(), "exceeds limit") || strings.Contains(err.Error(), "memory") && strings.Contains(err.Error(), "limit") {
			err = fmt.Errorf("%w (memoryLimitMiB is %d)", err, f.limitMiB)
		}
		return nil, f.loadErr(fmt.Errorf("compiling: %w", err))
	}
	if err := f.checkABI(); err != nil {
		return nil, f.loadErr(fmt.Errorf("%w; see docs/wasm-abi.md", err))
	}
	_, f.hasInitialize = f.compiled.ExportedFunctions()["_initialize"]
	_, f.hasInit = f.compiled.ExportedFunctions()[ExportInit]
	f.modCfg = wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions(). // newInstance calls _initialize, under the deadline
		WithArgs(f.name).
		WithSysWalltime().
		WithSysNanotime().
		WithRandSource(rand.Reader)

	inst, err := f.newInstance(ctx, true)
	if err != nil {
		return nil, f.loadErr(err)
	}
	f.sem = make(chan struct{}, f.pool)
	f.idle = make(chan *instance, f.pool)
	f.life, f.stop = context.WithCancel(context.Background())
	f.done = f.life.Done()
	f.idle <- inst
	ok = true
	return f, nil
}

// instrument adds the interrupt flag to the module (package interrupt),
// where the runtime compiles to native code (elsewhere wazero interprets
// it, and the flag would be read by Go code, racing with its setter).
func (f *Filter) instrument(module []byte) ([]byte, bool) {
	if !compilerSupported() || !useInterrupt {
		return module, false
	}
	out, err := interrupt.Instrument(module)
	if err != nil {
		f.logger.Info("wasm filter: using wazero's slower deadline check", "filter", f.name, "reason", err)
		return module, false
	}
	return out, true
}

// useInterrupt is false in tests that run the fallback.
var useInterrupt = true

// compilerSupported mirrors where wazero compiles to native code.
func compilerSupported() bool {
	switch runtime.GOARCH {
	case "amd64", "arm64":
	default:
		return false
	}
	switch runtime.GOOS {
	case "linux", "darwin", "freebsd", "netbsd", "windows":
		return true
	}
	return false
}

func phaseList() string {
	s := make([]string, len(scripting.Phases))
	for i, p := range scripting.Phases {
		s[i] = string(p)
	}
	return strings.Join(s, ", ")
}

// loadErr names the filter and its file.
func (f *Filter) loadErr(err error) error {
	return fmt.Errorf("filter %q (%s): %w", f.name, f.path, err)
}

var (
	i32   = api.ValueTypeI32
	sigI  = []api.ValueType{i32}
	sigII = []api.ValueType{i32, i32}
)

// checkABI checks the compiled module's exports and imports against ABI v1.
func (f *Filter) checkABI() error {
	exports := f.compiled.ExportedFunctions()
	if _, ok := exports["_start"]; ok {
		if _, ok := exports["_initialize"]; !ok {
			return errors.New(`the module is a WASI command (it exports "_start"), not a reactor: build it with -buildmode=c-shared (Go, TinyGo) or as a cdylib (Rust)`)
		}
	}
	want := []struct {
		name            string
		params, results []api.ValueType
		optional        bool
	}{
		{ExportABIVersion, nil, sigI, false},
		{ExportFilter, sigI, sigI, false},
		{ExportInit, nil, sigI, true},
		{"_initialize", nil, nil, true},
	}
	for _, w := range want {
		def, ok := exports[w.name]
		if !ok {
			if w.optional {
				continue
			}
			return fmt.Errorf("missing export %q", w.name)
		}
		if !slices.Equal(def.ParamTypes(), w.params) || !slices.Equal(def.ResultTypes(), w.results) {
			return fmt.Errorf("export %q has type %s, want %s", w.name, sig(def.ParamTypes(), def.ResultTypes()), sig(w.params, w.results))
		}
	}
	if _, ok := f.compiled.ExportedMemories()["memory"]; !ok {
		return errors.New(`missing export "memory"`)
	}
	for _, imp := range f.compiled.ImportedFunctions() {
		mod, name, _ := imp.Import()
		switch mod {
		case wasi_snapshot_preview1.ModuleName:
		case HostModule:
			h, ok := hostFuncs[name]
			if !ok {
				return fmt.Errorf("imports %s.%s, which ABI v1 does not have (it has input_read, output_write, config_read, log)", mod, name)
			}
			if !slices.Equal(imp.ParamTypes(), h.params) || !slices.Equal(imp.ResultTypes(), h.results) {
				return fmt.Errorf("imports %s.%s with type %s, want %s", mod, name, sig(imp.ParamTypes(), imp.ResultTypes()), sig(h.params, h.results))
			}
		default:
			return fmt.Errorf("imports %s.%s: filters may import only from %q and %q", mod, name, HostModule, wasi_snapshot_preview1.ModuleName)
		}
	}
	return nil
}

// sig formats a function type, e.g. "(i32) -> i32".
func sig(params, results []api.ValueType) string {
	names := func(ts []api.ValueType) string {
		s := make([]string, len(ts))
		for i, t := range ts {
			s[i] = api.ValueTypeName(t)
		}
		return strings.Join(s, ", ")
	}
	out := "(" + names(params) + ")"
	if len(results) > 0 {
		out += " -> " + names(results)
	}
	return out
}

// Name returns the filter's name.
func (f *Filter) Name() string { return f.name }

// Path returns the module file the filter was loaded from.
func (f *Filter) Path() string { return f.path }

// Has reports whether the filter handles the phase: every phase when
// Options.Phases was empty.
func (f *Filter) Has(p scripting.Phase) bool {
	if f.phases == nil {
		return slices.Contains(scripting.Phases, p)
	}
	return f.phases[p]
}

// Call runs one phase in a free instance, waiting for one while all are
// busy. It returns when ctx ends, stopping the guest if it is running; a
// ctx without a deadline gets scripting.DefaultTimeout, so that no guest
// runs unbounded. Any failure discards the instance it happened in.
func (f *Filter) Call(ctx context.Context, in *scripting.Input) (*scripting.Decision, error) {
	start := time.Now()
	if err := ctx.Err(); err != nil {
		return nil, f.callErr(in.Hook, context.Cause(ctx))
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, scripting.DefaultTimeout)
		defer cancel()
	}
	// Close ends the call too: wazero then stops the guest at its next
	// check (closing its module from outside while it runs would race).
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(f.life, cancel)()
	data, err := encodeInput(in)
	if err != nil {
		return nil, f.callErr(in.Hook, fmt.Errorf("encoding the input: %w", err))
	}
	inst, err := f.acquire(ctx)
	if err != nil {
		return nil, f.callErr(in.Hook, err)
	}
	f.calls.Add(1)
	d, err := inst.call(ctx, in.Hook, data, start)
	// wazero closes the module when ctx ends during the call, even just
	// after the guest returned: such an instance is never reused.
	f.release(inst, err == nil && ctx.Err() == nil)
	if err != nil {
		if !errors.Is(ctx.Err(), context.Canceled) {
			f.failures.Add(1) // the caller giving up is not the filter's failure
		}
		return nil, f.callErr(in.Hook, err)
	}
	return d, nil
}

// Stats counts a filter's activity since Load. Every call that failed, and
// every call whose context ended, discarded its instance.
type Stats struct {
	Calls     int64 // calls that reached an instance
	Failures  int64 // of those, the ones that failed, but for those whose caller cancelled them
	Instances int64 // instances started, the one Load starts included
}

// Stats returns the filter's counters.
func (f *Filter) Stats() Stats {
	return Stats{Calls: f.calls.Load(), Failures: f.failures.Load(), Instances: f.started.Load()}
}

// callErr names the filter and the phase.
func (f *Filter) callErr(p scripting.Phase, err error) error {
	return fmt.Errorf("filter %q: %s: %w", f.name, p, err)
}

// acquire takes an idle instance, or makes one when fewer than Pool exist,
// or waits.
func (f *Filter) acquire(ctx context.Context) (*instance, error) {
	select {
	case <-f.done:
		return nil, ErrClosed
	default:
	}
	select {
	case f.sem <- struct{}{}:
	case <-f.done:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for a free instance (pool of %d): %w", f.pool, context.Cause(ctx))
	}
	select {
	case <-f.done:
		<-f.sem
		return nil, ErrClosed
	default:
	}
	if err := ctx.Err(); err != nil { // both were ready: do not spend an instance on a call already over
		<-f.sem
		return nil, fmt.Errorf("waiting for a free instance (pool of %d): %w", f.pool, context.Cause(ctx))
	}
	select {
	case inst := <-f.idle:
		if !inst.mod.IsClosed() {
			return inst, nil
		}
		inst.close() // closed behind the pool's back: replace it
	default:
	}
	inst, err := f.newInstance(ctx, false)
	if err != nil {
		<-f.sem
		return nil, err
	}
	return inst, nil
}

// release returns a healthy instance to the pool and closes a failed one.
func (f *Filter) release(inst *instance, healthy bool) {
	select {
	case <-f.done:
		healthy = false
	default:
	}
	if healthy && !inst.mod.IsClosed() {
		f.idle <- inst // never blocks: at most Pool instances exist
	} else {
		inst.close()
	}
	<-f.sem
}

// Close stops the calls in flight (they return ErrClosed, as later calls
// do), waits for them, within ctx, then closes the filter's instances and
// frees its compiled code.
func (f *Filter) Close(ctx context.Context) error {
	f.closeOnce.Do(func() {
		f.stop()
	wait: // for every slot of the pool: a call holds one until it ends
		for range f.pool {
			select {
			case f.sem <- struct{}{}:
			case <-ctx.Done():
				break wait
			}
		}
	drain:
		for {
			select {
			case inst := <-f.idle:
				inst.close()
			default:
				break drain
			}
		}
		if err := f.compiled.Close(ctx); err != nil {
			f.closeErr = err
		}
		if err := f.rt.Close(ctx); err != nil && f.closeErr == nil {
			f.closeErr = err
		}
	})
	return f.closeErr
}

// cacheDir resolves Options.CacheDir: "" when the disk cache is off.
func cacheDir(opt string) string {
	dir := opt
	if dir == "" {
		dir = os.Getenv(EnvCacheDir)
	}
	switch dir {
	case "-", "off":
		return ""
	case "":
		base, err := os.UserCacheDir()
		if err != nil {
			return ""
		}
		return filepath.Join(base, "mcpscript", "wazero")
	}
	return dir
}

// sharedCache is a compilation cache shared by the filters of a process.
type sharedCache struct {
	cache wazero.CompilationCache

	mu      sync.Mutex
	modules map[[sha256.Size]byte]*sync.Mutex // by the module's hash, as wazero keys them
}

// compiling returns the lock to hold around compiling the module: wazero
// publishes a module in a shared cache before it is ready, so that a
// second compilation of the same module at the same time may use it half
// made (a data race, or a panic; wazero issue #2547). With the lock held,
// a second compilation waits, then finds the module ready; other modules
// compile side by side.
func (c *sharedCache) compiling(module []byte) *sync.Mutex {
	key := sha256.Sum256(module)
	c.mu.Lock()
	defer c.mu.Unlock()
	mu, ok := c.modules[key]
	if !ok {
		mu = new(sync.Mutex)
		c.modules[key] = mu
	}
	return mu
}

var caches = struct {
	sync.Mutex
	m map[string]*sharedCache
}{m: map[string]*sharedCache{}}

// compilationCache returns the process-wide cache for the folder opt
// resolves to, or nil (compile without a shared cache) when the disk cache
// is off or its folder cannot be made.
func compilationCache(opt string, logger *slog.Logger) *sharedCache {
	dir := cacheDir(opt)
	if dir == "" {
		return nil
	}
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	caches.Lock()
	defer caches.Unlock()
	if c, ok := caches.m[dir]; ok {
		return c
	}
	wc, err := wazero.NewCompilationCacheWithDir(dir)
	if err != nil {
		logger.Warn("wasm compilation cache unavailable; compiling without it", "dir", dir, "err", err)
		return nil
	}
	// wazero fails to compile when it cannot write to its cache.
	sub := cacheSubdir(dir)
	if _, err := os.Stat(sub); err != nil {
		sub = dir
	}
	if err := writable(sub); err != nil {
		logger.Warn("wasm compilation cache folder cannot be written to; compiling without it", "dir", sub, "err", err)
		return nil
	}
	c := &sharedCache{cache: wc, modules: map[[sha256.Size]byte]*sync.Mutex{}}
	caches.m[dir] = c
	return c
}

// cacheSubdir is the folder in which a wazero compilation cache in dir
// keeps its files: one per wazero version and platform, named as wazero's
// cache.go and internal/version name it. Should the two differ, Load
// checks dir itself, and TestCacheNotWritable fails.
func cacheSubdir(dir string) string {
	v := ""
	missing := func() bool { return v == "" || v == "(devel)" }
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if strings.Contains(dep.Path, "github.com/tetratelabs/wazero") {
				v = dep.Version
			}
		}
		if missing() {
			v = info.Main.Version
		}
	}
	if missing() {
		v = "dev"
	}
	return filepath.Join(dir, "wazero-"+v+"-"+runtime.GOARCH+"-"+runtime.GOOS)
}

// writable reports whether a file can be created in dir.
func writable(dir string) error {
	f, err := os.CreateTemp(dir, ".mcpscript-probe-*")
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}

var _ io.Writer = (*lineLogger)(nil)

// elapsed rounds a duration for errors: 300ms rather than 301.234ms.
func elapsed(d time.Duration) time.Duration {
	switch {
	case d < 100*time.Millisecond:
		return d.Round(time.Millisecond)
	case d < 10*time.Second:
		return d.Round(10 * time.Millisecond)
	}
	return d.Round(100 * time.Millisecond)
}
