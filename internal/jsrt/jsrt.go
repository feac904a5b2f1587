// Package jsrt is what hook scripts and workflows share: loading a script
// (ES modules, CommonJS or TypeScript, bundled with esbuild into code goja
// runs, with an inline source map so that errors point at the user's
// file:line) and a sandboxed goja runtime (console into slog, only the
// environment variables and the folder the config grants).
package jsrt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/dop251/goja"
	"github.com/evanw/esbuild/pkg/api"
)

// exportsVar is the global the bundle assigns the script's exports to.
const exportsVar = "__mcpscript_exports"

// Script is a script loaded once: bundled, compiled, ready to run in any
// number of runtimes (a *goja.Program is safe to share).
type Script struct {
	Name    string // the file's base name, used in logs and errors
	Path    string // the file as given
	Program *goja.Program
	// Source is the bundled program, with its inline source map: what
	// Compile turns into the same Script in another process.
	Source string
}

// Load bundles the script at path and its relative imports into one
// program. Imports of packages are resolved from node_modules beside it
// (or above it); Node's built-in modules are not available (there is no
// fs, net or child_process in the sandbox), and importing one is a load
// error. A script may import files under its own folder and packages from
// node_modules, nothing else (an import is data bundled into the script:
// "/etc/passwd" or "../secrets.json" would give it a file it was not
// granted).
func Load(path string) (*Script, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("script %s: %w", path, err)
	}
	// esbuild resolves symbolic links, the entry point's too: the folder
	// is the real one.
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("script %s: %w", path, err)
	}
	res := api.Build(api.BuildOptions{
		EntryPoints:   []string{abs},
		Bundle:        true,
		Write:         false,
		Format:        api.FormatIIFE,
		GlobalName:    exportsVar,
		Platform:      api.PlatformNeutral,
		MainFields:    []string{"module", "main"},
		Target:        api.ES2017,
		Sourcemap:     api.SourceMapInline,
		SourceRoot:    "",
		AbsWorkingDir: filepath.Dir(abs),
		LogLevel:      api.LogLevelSilent,
		Charset:       api.CharsetUTF8,
		Plugins:       []api.Plugin{folderOnly(filepath.Dir(real))},
	})
	if len(res.Errors) > 0 {
		return nil, buildError(path, res.Errors)
	}
	if len(res.OutputFiles) == 0 {
		return nil, fmt.Errorf("script %s: the bundler produced no output", path)
	}
	return Compile(filepath.Base(path), path, string(res.OutputFiles[0].Contents))
}

// Compile makes a Script of a bundle Load made (its Source), e.g. in
// another process: name and path as Load gave them.
func Compile(name, path, source string) (*Script, error) {
	prog, err := goja.Compile(name, source, false)
	if err != nil {
		return nil, fmt.Errorf("script %s: %w", path, err)
	}
	return &Script{Name: name, Path: path, Program: prog, Source: source}, nil
}

// resolving marks the resolutions folderOnly asks of esbuild, so that it
// does not check them again.
type resolving struct{}

// folderOnly is an esbuild plugin that refuses an import of a file outside
// dir, the script's folder (its subfolders are fine), other than a package
// from node_modules. Each import is resolved as esbuild would, symbolic
// links followed, and the file it resolves to checked:
//
//   - a relative or absolute import in the script's own files must
//     resolve under dir;
//   - a package import, and any import in a package's files, must resolve
//     under dir or into a node_modules folder (a package linked from
//     elsewhere, or a tsconfig path, cannot reach beyond).
//
// Every file loaded is checked too (esbuild resolves the files an import
// pattern matches without plugins): under dir or in node_modules.
//
// What esbuild cannot resolve is left to it, for its own error (a Node
// built-in, a missing file).
func folderOnly(dir string) api.Plugin {
	rule := fmt.Sprintf("scripts may import files under %s and packages from node_modules", dir)
	return api.Plugin{Name: "mcpscript-folder", Setup: func(b api.PluginBuild) {
		b.OnResolve(api.OnResolveOptions{Filter: `.*`}, func(args api.OnResolveArgs) (api.OnResolveResult, error) {
			if args.Kind == api.ResolveEntryPoint || args.Namespace != "file" {
				return api.OnResolveResult{}, nil
			}
			if _, again := args.PluginData.(resolving); again {
				return api.OnResolveResult{}, nil
			}
			res := b.Resolve(args.Path, api.ResolveOptions{
				Importer: args.Importer, Namespace: args.Namespace, ResolveDir: args.ResolveDir,
				Kind: args.Kind, With: args.With, PluginData: resolving{},
			})
			if len(res.Errors) > 0 || res.External || res.Namespace != "file" || res.Path == "" {
				return api.OnResolveResult{}, nil
			}
			if real, err := filepath.EvalSymlinks(res.Path); err == nil {
				res.Path = real
			}
			if under(dir, res.Path) {
				return api.OnResolveResult{}, nil
			}
			path := isPathImport(args.Path)
			if inNodeModules(res.Path) && (!path || inNodeModules(args.Importer)) {
				return api.OnResolveResult{}, nil
			}
			msg := fmt.Sprintf("import %q is outside the script's folder; %s", args.Path, rule)
			if !path {
				msg = fmt.Sprintf("import %q resolves to %s, outside the script's folder; %s", args.Path, res.Path, rule)
			}
			return api.OnResolveResult{Errors: []api.Message{{Text: msg}}}, nil
		})
		// esbuild does not ask plugins to resolve the files an import
		// pattern matches (require(`../${name}`)): every file loaded is
		// checked as well.
		b.OnLoad(api.OnLoadOptions{Filter: `.*`, Namespace: "file"}, func(args api.OnLoadArgs) (api.OnLoadResult, error) {
			real, err := filepath.EvalSymlinks(args.Path)
			if err != nil {
				return api.OnLoadResult{}, err
			}
			if under(dir, real) || inNodeModules(real) {
				return api.OnLoadResult{}, nil
			}
			return api.OnLoadResult{Errors: []api.Message{{Text: fmt.Sprintf("%s is outside the script's folder (an import pattern such as require(`../${name}`) matches it); %s", args.Path, rule)}}}, nil
		})
	}}
}

// isPathImport says an import names a file (./x, ../x, /x, C:\x) rather
// than a package.
func isPathImport(p string) bool {
	return p == "." || p == ".." || strings.HasPrefix(p, "./") || strings.HasPrefix(p, "../") ||
		strings.HasPrefix(p, "/") || filepath.IsAbs(p) ||
		filepath.Separator == '\\' && (strings.HasPrefix(p, ".\\") || strings.HasPrefix(p, "..\\"))
}

// under says path is dir or lies below it.
func under(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && (rel == "." || filepath.IsLocal(rel))
}

// inNodeModules says path lies in a node_modules folder.
func inNodeModules(path string) bool {
	return slices.Contains(strings.Split(filepath.ToSlash(path), "/"), "node_modules")
}

// buildError turns esbuild's messages into one error that names file:line:col.
func buildError(path string, msgs []api.Message) error {
	var b strings.Builder
	for i, m := range msgs {
		if i == 3 {
			fmt.Fprintf(&b, "\n  (and %d more)", len(msgs)-3)
			break
		}
		if i > 0 {
			b.WriteString("\n  ")
		}
		if l := m.Location; l != nil {
			fmt.Fprintf(&b, "%s:%d:%d: ", l.File, l.Line, l.Column+1)
		}
		b.WriteString(m.Text)
		if strings.Contains(m.Text, "Could not resolve") && isNodeBuiltin(m.Text) {
			b.WriteString(" (scripts run sandboxed: Node's built-in modules are not available; file access is fs.readFile under scripts.readDir)")
		}
		if strings.Contains(m.Text, "Top-level await") {
			b.WriteString(" (put the code in `export default async function main()` instead)")
		}
	}
	return fmt.Errorf("script %s: %s", path, b.String())
}

var builtinRE = regexp.MustCompile(`"(node:)?(fs|path|os|net|http|https|child_process|process|crypto|stream|util|events|url|buffer|zlib|tls|dns|dgram|worker_threads)(/[a-z]+)?"`)

func isNodeBuiltin(text string) bool { return builtinRE.MatchString(text) }

// Grants are what a script may reach beyond its own code.
type Grants struct {
	// Env names the environment variables process.env shows.
	Env []string
	// ReadDir is a folder fs.readFile and fs.readdir may read; "" grants
	// none. fs.readFile reads regular files only, of up to MaxReadFile
	// bytes.
	ReadDir string
}

// Options configure a runtime.
type Options struct {
	Logger           *slog.Logger // console goes here, with script=<name>; default slog.Default()
	Grants           Grants
	MaxCallStackSize int // default 1024
	// Root, when set, is used for ReadDir instead of opening it (share one
	// os.Root among a script's runtimes).
	Root *os.Root
	// Setup, when set, runs after the sandbox's globals are in place and
	// before the script's top-level code, e.g. to add globals of its own.
	Setup func(vm *goja.Runtime) error
}

// ErrNotGranted means a script reached for something the config does not grant.
var ErrNotGranted = errors.New("not granted")

// New returns a runtime for s with console, process.env and fs set up by
// opts, the script run, and its exports object.
func New(s *Script, opts Options) (*goja.Runtime, *goja.Object, error) {
	return NewContext(context.Background(), s, opts)
}

// NewContext is New with the script's top-level code interrupted when ctx
// ends (a script that loops at load cannot hang its caller).
func NewContext(ctx context.Context, s *Script, opts Options) (*goja.Runtime, *goja.Object, error) {
	vm := goja.New()
	exports, err := SetupContext(ctx, vm, s, opts)
	if err != nil {
		return nil, nil, err
	}
	return vm, exports, nil
}

// Export returns the named export of exports: a named export, else a
// member of the default export's object.
func Export(exports *goja.Object, name string) goja.Value {
	if v := exports.Get(name); v != nil && !goja.IsUndefined(v) {
		return v
	}
	if d, ok := exports.Get("default").(*goja.Object); ok {
		if v := d.Get(name); v != nil && !goja.IsUndefined(v) {
			return v
		}
	}
	return nil
}

// Describe turns a goja error into one a user can act on: an exception with
// its stack (file:line in the user's source), an interrupt with its cause,
// a stack overflow with the limit.
func Describe(err error) error {
	var ex *goja.Exception
	var ie *goja.InterruptedError
	var so *goja.StackOverflowError
	switch {
	case errors.As(err, &ie):
		where := ""
		if st := ie.Stack(); len(st) > 0 {
			var b bytes.Buffer
			st[0].Write(&b)
			where = " at " + b.String()
		}
		if cause, ok := ie.Value().(error); ok {
			return fmt.Errorf("interrupted%s: %w", where, cause)
		}
		return fmt.Errorf("interrupted%s: %v", where, ie.Value())
	case errors.As(err, &so):
		// The stack is the limit's worth of frames, mostly the same one:
		// show where it overflowed and a few callers.
		st := so.Stack()
		var b bytes.Buffer
		for i, f := range st {
			if i == 3 {
				fmt.Fprintf(&b, "\n\t... %d more frames", len(st)-i)
				break
			}
			b.WriteString("\n\tat ")
			f.Write(&b)
		}
		return fmt.Errorf("call stack limit exceeded (scripts.maxCallStackSize, %d frames)%s", len(st), b.String())
	case errors.As(err, &ex):
		// A Go error thrown through JS and not caught keeps its identity
		// (errors.Is(err, ErrNotGranted)).
		return &ScriptError{Message: jsStack(ex.String()), Err: ex.Unwrap()}
	}
	return err
}

// jsStack trims an exception's text and drops the frames of Go functions
// ("at github.com/x/y.f (native)"), which say nothing to a script's author.
func jsStack(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	out := lines[:0]
	for _, l := range lines {
		if strings.HasSuffix(l, " (native)") && strings.Contains(l, "/") && strings.HasPrefix(strings.TrimSpace(l), "at ") {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// ScriptError is an uncaught exception: message and JavaScript stack.
type ScriptError struct {
	Message string // "TypeError: x is undefined\n\tat f (policy.js:3:5(12))"
	Err     error  // the Go error thrown, if the exception carried one
}

func (e *ScriptError) Error() string { return e.Message }

// Unwrap returns the Go error the exception carried, if any.
func (e *ScriptError) Unwrap() error { return e.Err }

func setConsole(vm *goja.Runtime, logger *slog.Logger) error {
	console := vm.NewObject()
	level := map[string]slog.Level{"log": slog.LevelInfo, "info": slog.LevelInfo, "debug": slog.LevelDebug, "trace": slog.LevelDebug, "warn": slog.LevelWarn, "error": slog.LevelError}
	for name, lvl := range level {
		if err := console.Set(name, func(call goja.FunctionCall) goja.Value {
			if logger.Enabled(context.Background(), lvl) {
				logger.Log(context.Background(), lvl, Format(vm, call.Arguments))
			}
			return goja.Undefined()
		}); err != nil {
			return err
		}
	}
	return vm.Set("console", console)
}

// Format renders console arguments the way Node's util.format does for the
// common cases: strings as they are, everything else as JSON when it has a
// JSON form.
func Format(vm *goja.Runtime, args []goja.Value) string {
	parts := make([]string, 0, len(args))
	for _, a := range args {
		parts = append(parts, inspect(vm, a))
	}
	return strings.Join(parts, " ")
}

func inspect(vm *goja.Runtime, v goja.Value) string {
	if v == nil || goja.IsUndefined(v) {
		return "undefined"
	}
	if goja.IsNull(v) {
		return "null"
	}
	if o, ok := v.(*goja.Object); ok {
		if o.ClassName() == "Error" {
			if st := o.Get("stack"); st != nil && !goja.IsUndefined(st) {
				return st.String()
			}
			return o.String()
		}
		if _, isFn := goja.AssertFunction(v); !isFn {
			if b, err := json.Marshal(o.Export()); err == nil {
				return string(b)
			}
		}
	}
	return v.String()
}

func setProcess(vm *goja.Runtime, names []string) error {
	env := vm.NewObject()
	for _, n := range names {
		if v, ok := os.LookupEnv(n); ok {
			if err := env.Set(n, v); err != nil {
				return err
			}
		}
	}
	process := vm.NewObject()
	if err := process.Set("env", env); err != nil {
		return err
	}
	return vm.Set("process", process)
}

func setFS(vm *goja.Runtime, opts Options) error {
	root := opts.Root
	dir := opts.Grants.ReadDir
	fsObj := vm.NewObject()
	deny := func(goja.FunctionCall) goja.Value {
		panic(vm.NewGoError(fmt.Errorf("%w: file access: set \"scripts.readDir\" in the config to let scripts read a folder", ErrNotGranted)))
	}
	if root == nil && dir != "" {
		r, err := os.OpenRoot(dir)
		if err != nil {
			return fmt.Errorf("scripts.readDir: %w", err)
		}
		root = r // lives as long as the runtime; closed with the process
	}
	if root == nil {
		for _, n := range []string{"readFile", "readdir", "exists"} {
			if err := fsObj.Set(n, deny); err != nil {
				return err
			}
		}
		return vm.Set("fs", fsObj)
	}
	readFile := func(name string) (string, error) {
		b, err := readRegular(root, name)
		if err != nil {
			return "", fmt.Errorf("fs.readFile %q: %w", name, err)
		}
		return string(b), nil
	}
	readdir := func(name string) ([]string, error) {
		out, err := readFolder(root, name)
		if err != nil {
			return nil, fmt.Errorf("fs.readdir %q: %w", name, err)
		}
		return out, nil
	}
	exists := func(name string) bool {
		rel, err := relative(name)
		if err != nil {
			return false
		}
		_, err = root.Stat(rel)
		return err == nil
	}
	for n, f := range map[string]any{"readFile": readFile, "readdir": readdir, "exists": exists} {
		if err := fsObj.Set(n, f); err != nil {
			return err
		}
	}
	return vm.Set("fs", fsObj)
}

// MaxReadFile bounds what fs.readFile reads: a bigger file is an error.
const MaxReadFile = 16 << 20

// maxReadDir bounds the entries fs.readdir lists.
const maxReadDir = 100_000

// open opens name in root for reading, without waiting (a FIFO with no
// writer), and checks that it is what want says (regular file or folder):
// checked before opening (so that a device is not opened at all) and on
// what was opened (in case it changed in between).
func open(root *os.Root, name string, dir bool) (*os.File, os.FileInfo, error) {
	rel, err := relative(name)
	if err != nil {
		return nil, nil, err
	}
	check := func(fi os.FileInfo) error {
		switch {
		case dir && !fi.IsDir():
			return errors.New("not a folder")
		case !dir && !fi.Mode().IsRegular():
			return errors.New("not a regular file")
		}
		return nil
	}
	fi, err := root.Stat(rel)
	if err != nil {
		return nil, nil, err
	}
	if err := check(fi); err != nil {
		return nil, nil, err
	}
	f, err := root.OpenFile(rel, os.O_RDONLY|openNonblock, 0)
	if err != nil {
		return nil, nil, err
	}
	if fi, err = f.Stat(); err == nil {
		err = check(fi)
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

// readRegular reads a regular file of at most MaxReadFile bytes.
func readRegular(root *os.Root, name string) ([]byte, error) {
	f, fi, err := open(root, name, false)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tooBig := func(n int64) error {
		return fmt.Errorf("%d bytes, more than fs.readFile reads (%d MiB)", n, MaxReadFile>>20)
	}
	if fi.Size() > MaxReadFile {
		return nil, tooBig(fi.Size())
	}
	b := make([]byte, 0, fi.Size()+1)
	for {
		n, err := f.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if len(b) > MaxReadFile {
			return nil, tooBig(int64(len(b))) // it grew
		}
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return nil, err
		}
		if len(b) == cap(b) {
			b = slices.Grow(b, min(cap(b), MaxReadFile+1-len(b)))
		}
	}
}

// readFolder lists a folder's names, sorted, at most maxReadDir of them.
func readFolder(root *os.Root, name string) ([]string, error) {
	f, _, err := open(root, name, true)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	for {
		names, err := f.Readdirnames(1024)
		out = append(out, names...)
		if len(out) > maxReadDir {
			return nil, fmt.Errorf("more than %d entries (fs.readdir lists at most %[1]d)", maxReadDir)
		}
		if err == io.EOF || len(names) == 0 && err == nil {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if out == nil {
		out = []string{}
	}
	slices.Sort(out)
	return out, nil
}

// ErrOutsideReadDir means a script named a file outside the granted folder.
var ErrOutsideReadDir = errors.New("outside scripts.readDir")

// relative checks that name, a path relative to the granted folder, stays
// inside it (os.Root refuses symbolic links that leave it as well).
func relative(name string) (string, error) {
	if name == "" {
		return ".", nil
	}
	p := filepath.FromSlash(name)
	if !filepath.IsLocal(p) {
		return "", fmt.Errorf("%w: paths are relative to the granted folder and may not leave it", ErrOutsideReadDir)
	}
	return p, nil
}
