package jsrt_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dop251/goja"

	"github.com/mcpscript/mcpscript/internal/jsrt"
)

// write creates files (name → content) in a fresh folder and returns it.
func write(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// run loads dir/main, starts a runtime and calls its export fn with args.
func run(t *testing.T, path string, opts jsrt.Options, fn string, args ...any) (goja.Value, error) {
	t.Helper()
	s, err := jsrt.Load(path)
	if err != nil {
		return nil, err
	}
	vm, exports, err := jsrt.New(s, opts)
	if err != nil {
		return nil, err
	}
	f, ok := goja.AssertFunction(jsrt.Export(exports, fn))
	if !ok {
		t.Fatalf("%s does not export a function %s", path, fn)
	}
	vals := make([]goja.Value, len(args))
	for i, a := range args {
		vals[i] = vm.ToValue(a)
	}
	v, err := f(goja.Undefined(), vals...)
	if err != nil {
		return nil, jsrt.Describe(err)
	}
	return v, nil
}

func TestModuleFormats(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
	}{
		{"esm named", map[string]string{"main.js": `export function f(x) { return x + 1 }`}},
		{"esm mjs", map[string]string{"main.mjs": `export const f = (x) => x + 1`}},
		{"esm default object", map[string]string{"main.js": `export default { f(x) { return x + 1 } }`}},
		{"commonjs module.exports", map[string]string{"main.cjs": `module.exports = { f: function (x) { return x + 1 } }`}},
		{"commonjs exports.f", map[string]string{"main.js": `exports.f = (x) => x + 1`}},
		{"typescript", map[string]string{"main.ts": `
interface N { n: number }
export function f(x: number): number { const o: N = { n: x }; return o.n + 1 }`}},
		{"relative import", map[string]string{
			"main.js":    `import { inc } from "./lib/inc.js"; export function f(x) { return inc(x) }`,
			"lib/inc.js": `export const inc = (x) => x + 1`}},
		{"typescript importing typescript", map[string]string{
			"main.ts": `import { inc } from "./inc"; export function f(x: number) { return inc(x) }`,
			"inc.ts":  `export function inc(x: number): number { return x + 1 }`}},
		{"commonjs require", map[string]string{
			"main.js": `const { inc } = require("./inc.js"); module.exports.f = (x) => inc(x)`,
			"inc.js":  `exports.inc = (x) => x + 1`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := write(t, tc.files)
			var main string
			for name := range tc.files {
				if strings.HasPrefix(name, "main.") {
					main = filepath.Join(dir, name)
				}
			}
			v, err := run(t, main, jsrt.Options{}, "f", 41)
			if err != nil {
				t.Fatal(err)
			}
			if v.ToInteger() != 42 {
				t.Errorf("f(41) = %v, want 42", v)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	cases := []struct {
		name, file, src string
		want            []string
	}{
		{"node builtin", "main.js", `import { readFileSync } from "fs"; export const f = () => readFileSync("x")`,
			[]string{"main.js:1:", `"fs"`, "Node's built-in modules are not available"}},
		{"node: builtin", "main.js", "\n" + `import cp from "node:child_process"; export const f = () => cp`,
			[]string{"main.js:2:", "Node's built-in modules are not available"}},
		{"syntax error", "main.js", "export function f() {\n  return 1 +;\n}",
			[]string{"main.js:2:", "Unexpected"}},
		{"typescript syntax error", "main.ts", "export function f(x: number) {\n\n  let y: = x\n}",
			[]string{"main.ts:3:"}},
		{"missing import", "main.js", `import { g } from "./nope.js"; export const f = g`,
			[]string{"main.js:1:", "./nope.js"}},
		{"top-level await", "main.js", "export const x = await Promise.resolve(1)",
			[]string{"main.js:1:", "Top-level await", "export default async function main()"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := write(t, map[string]string{tc.file: tc.src})
			_, err := jsrt.Load(filepath.Join(dir, tc.file))
			if err == nil {
				t.Fatal("Load succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	if _, err := jsrt.Load(filepath.Join(t.TempDir(), "absent.js")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v, want os.ErrNotExist", err)
	}
}

// TestStackPointsIntoSource checks that an exception's stack names the
// user's file and line, also through TypeScript's type annotations and an
// imported module.
func TestStackPointsIntoSource(t *testing.T) {
	dir := write(t, map[string]string{
		"policy.ts": `type Call = {
  tool: string
}

import { check } from "./check"

export function f(c: Call): string {
  return check(c.tool)
}
`,
		"check.ts": `// a helper

export function check(tool: string): string {
  if (tool === "rm") {
    throw new Error("denied: " + tool)
  }
  return "ok"
}
`,
	})
	_, err := run(t, filepath.Join(dir, "policy.ts"), jsrt.Options{}, "f", map[string]any{"tool": "rm"})
	if err == nil {
		t.Fatal("no error")
	}
	var se *jsrt.ScriptError
	if !errors.As(err, &se) {
		t.Fatalf("%T %v, want *ScriptError", err, err)
	}
	for _, w := range []string{"Error: denied: rm", "check.ts:5:", "policy.ts:8:"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
}

func TestTopLevelThrowFailsNew(t *testing.T) {
	dir := write(t, map[string]string{"main.js": "export const f = 1\n\nthrow new TypeError('bad config')\n"})
	s, err := jsrt.Load(filepath.Join(dir, "main.js"))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = jsrt.New(s, jsrt.Options{})
	if err == nil || !strings.Contains(err.Error(), "TypeError: bad config") || !strings.Contains(err.Error(), "main.js:3:") {
		t.Errorf("New: %v, want the exception with main.js:3", err)
	}
}

func TestInterruptAndStackLimit(t *testing.T) {
	dir := write(t, map[string]string{
		"loop.js":    "export let f = 1\n\nwhile (f > 0) {\n  f++\n}\n",
		"deep.js":    "export function f(n) { return f(n + 1) + 1 }\n",
		"caught.js":  "export function f(n) { try { return f(n + 1) } catch (e) { return -1 } }\n",
		"setup.js":   "export const f = () => answer()\n",
		"nothing.js": "const x = 1\n",
	})
	s, err := jsrt.Load(filepath.Join(dir, "loop.js"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, _, err = jsrt.NewContext(ctx, s, jsrt.Options{})
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "interrupted at") || !strings.Contains(err.Error(), "loop.js:") {
		t.Errorf("looping top level: %v, want an interrupt in loop.js wrapping DeadlineExceeded", err)
	}

	for _, file := range []string{"deep.js", "caught.js"} {
		_, err = run(t, filepath.Join(dir, file), jsrt.Options{MaxCallStackSize: 50}, "f", 0)
		if err == nil || !strings.Contains(err.Error(), "call stack limit exceeded") {
			t.Errorf("%s: %v, want the call stack limit", file, err)
		}
	}

	v, err := run(t, filepath.Join(dir, "setup.js"), jsrt.Options{Setup: func(vm *goja.Runtime) error {
		return vm.Set("answer", func() int { return 42 })
	}}, "f")
	if err != nil || v.ToInteger() != 42 {
		t.Errorf("Setup global: %v, %v", v, err)
	}

	s, err = jsrt.Load(filepath.Join(dir, "nothing.js"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := jsrt.New(s, jsrt.Options{}); !errors.Is(err, jsrt.ErrNoExports) || !strings.Contains(err.Error(), "exports nothing") {
		t.Errorf("a script without exports: %v, want \"exports nothing\"", err)
	}
}

func TestEnvGrant(t *testing.T) {
	t.Setenv("JSRT_GRANTED", "yes")
	t.Setenv("JSRT_SECRET", "no")
	dir := write(t, map[string]string{"main.js": `
export const f = () => JSON.stringify([process.env.JSRT_GRANTED, process.env.JSRT_SECRET, process.env.JSRT_UNSET, Object.keys(process.env)])`})
	v, err := run(t, filepath.Join(dir, "main.js"), jsrt.Options{Grants: jsrt.Grants{Env: []string{"JSRT_GRANTED", "JSRT_UNSET"}}}, "f")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := v.String(), `["yes",null,null,["JSRT_GRANTED"]]`; got != want {
		t.Errorf("env = %s, want %s", got, want)
	}
}

func TestReadDirGrant(t *testing.T) {
	base := write(t, map[string]string{
		"data/a.txt":     "alpha",
		"data/sub/b.txt": "beta",
		"secret.txt":     "top secret",
	})
	data := filepath.Join(base, "data")
	if err := os.Symlink(filepath.Join(base, "secret.txt"), filepath.Join(data, "link.txt")); err != nil {
		t.Fatal(err)
	}
	dir := write(t, map[string]string{"main.js": `
export function read(name) { return fs.readFile(name) }
export function list(name) { return JSON.stringify(fs.readdir(name)) }
export function exists(name) { return fs.exists(name) }
export function caught(name) {
  try { fs.readFile(name); return "read" } catch (e) { return (e instanceof GoError) + " " + e.message }
}`})
	main := filepath.Join(dir, "main.js")
	granted := jsrt.Options{Grants: jsrt.Grants{ReadDir: data}}

	ok := []struct{ fn, arg, want string }{
		{"read", "a.txt", "alpha"},
		{"read", "./sub/../a.txt", "alpha"},
		{"read", "sub/b.txt", "beta"},
		{"list", ".", `["a.txt","link.txt","sub"]`},
		{"list", "", `["a.txt","link.txt","sub"]`},
		{"list", "sub", `["b.txt"]`},
		{"exists", "a.txt", "true"},
		{"exists", "nope.txt", "false"},
		{"exists", "../secret.txt", "false"},
		{"caught", "../secret.txt", "true fs.readFile \"../secret.txt\": outside scripts.readDir: paths are relative to the granted folder and may not leave it"},
	}
	for _, tc := range ok {
		v, err := run(t, main, granted, tc.fn, tc.arg)
		if err != nil {
			t.Errorf("%s(%q): %v", tc.fn, tc.arg, err)
			continue
		}
		if v.String() != tc.want {
			t.Errorf("%s(%q) = %q, want %q", tc.fn, tc.arg, v, tc.want)
		}
	}

	refused := []struct{ fn, arg, want string }{
		{"read", "../secret.txt", "outside scripts.readDir"},
		{"read", "sub/../../secret.txt", "outside scripts.readDir"},
		{"read", filepath.Join(base, "secret.txt"), "outside scripts.readDir"},
		{"read", "link.txt", "escapes"},
		{"list", "..", "outside scripts.readDir"},
		{"read", "nope.txt", "no such file"},
	}
	for _, tc := range refused {
		_, err := run(t, main, granted, tc.fn, tc.arg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s(%q): %v, want an error containing %q", tc.fn, tc.arg, err, tc.want)
		}
	}
	_, err := run(t, main, granted, "read", "../secret.txt")
	if !errors.Is(err, jsrt.ErrOutsideReadDir) {
		t.Errorf("escape: %v, want ErrOutsideReadDir", err)
	}

	for _, fn := range []string{"read", "list", "exists"} {
		_, err := run(t, main, jsrt.Options{}, fn, "a.txt")
		if !errors.Is(err, jsrt.ErrNotGranted) || !strings.Contains(err.Error(), "scripts.readDir") {
			t.Errorf("%s without a grant: %v, want ErrNotGranted naming scripts.readDir", fn, err)
		}
	}

	root, err := os.OpenRoot(data)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if v, err := run(t, main, jsrt.Options{Root: root}, "read", "a.txt"); err != nil || v.String() != "alpha" {
		t.Errorf("shared Root: %v, %v", v, err)
	}
}

func TestConsoleToSlog(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	dir := write(t, map[string]string{"audit.js": `
export function f() {
  console.log("hello", 42, { a: [1, 2] }, null, undefined)
  console.warn("careful")
  console.error(new Error("bad"))
  console.debug("details")
}`})
	if _, err := run(t, filepath.Join(dir, "audit.js"), jsrt.Options{Logger: logger}, "f"); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := []string{
		`level=INFO msg="hello 42 {\"a\":[1,2]} null undefined" script=audit.js`,
		`level=WARN msg=careful script=audit.js`,
		`level=ERROR msg="Error: bad\n\tat f (audit.js:5:`,
		`level=DEBUG msg=details script=audit.js`,
	}
	if len(lines) != len(want) {
		t.Fatalf("log:\n%s", buf.String())
	}
	for i, w := range want {
		if !strings.Contains(lines[i], w) {
			t.Errorf("line %d = %s\nwant it to contain %s", i, lines[i], w)
		}
	}
}

func TestSetupExistingRuntime(t *testing.T) {
	dir := write(t, map[string]string{"main.js": "const base = answer()\nexport const f = () => base + 1\n"})
	s, err := jsrt.Load(filepath.Join(dir, "main.js"))
	if err != nil {
		t.Fatal(err)
	}
	vm := goja.New()
	if err := vm.Set("answer", func() int { return 41 }); err != nil {
		t.Fatal(err)
	}
	exports, err := jsrt.Setup(vm, s, jsrt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f, _ := goja.AssertFunction(jsrt.Export(exports, "f"))
	if v, err := f(goja.Undefined()); err != nil || v.ToInteger() != 42 {
		t.Errorf("f() = %v, %v", v, err)
	}
	if _, err := jsrt.SetupContext(context.Background(), goja.New(), s, jsrt.Options{}); err == nil || !strings.Contains(err.Error(), "answer is not defined") {
		t.Errorf("without the global: %v", err)
	}
}
