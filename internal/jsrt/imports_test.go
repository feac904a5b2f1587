package jsrt_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mcpscript/mcpscript/internal/jsrt"
)

// TestImportsStayInFolder checks that a script bundles files under its own
// folder and packages from node_modules, and nothing else: a script cannot
// embed a file it was not granted by importing it.
func TestImportsStayInFolder(t *testing.T) {
	base := write(t, map[string]string{
		"outside/secret.json": `{"secret":"TOPSECRET"}`,
		"outside/notes.txt":   "plain text secret",
		"outside/evil.js":     `module.exports = "OUTSIDE"`,
		// A package in a parent folder's node_modules, importing its own file.
		"node_modules/shared/package.json":   `{"name":"shared","main":"index.js"}`,
		"node_modules/shared/index.js":       `export { default } from "./util.js"`,
		"node_modules/shared/util.js":        `export default "shared"`,
		"proj/lib/index.js":                  `export const v = "lib"`,
		"proj/sub/x.js":                      `export default "sub"`,
		"proj/pat/x.js":                      `export default "pat"`,
		"proj/sub/leak.js":                   `import s from "../../outside/secret.json"; export default s`,
		"proj/data.json":                     `{"d":"data"}`,
		"proj/notes.txt":                     "notes",
		"proj/node_modules/pkg/package.json": `{"name":"pkg","main":"index.js"}`,
		"proj/node_modules/pkg/index.js":     `export { inner as default } from "./inner.js"`,
		"proj/node_modules/pkg/inner.js":     `export const inner = "pkg"`,
	})
	proj := filepath.Join(base, "proj")
	outside := filepath.Join(base, "outside")
	if err := os.Symlink(outside, filepath.Join(proj, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(proj, "node_modules", "evil")); err != nil {
		t.Fatal(err)
	}

	ok := map[string]string{
		"main.js": `import { v } from "./lib"
import x from "./sub/x.js"
import p from "pkg"
import s from "shared"
import data from "./data.json"
import notes from "./notes.txt"
export const f = () => [v, x, p, s, data.d, notes, require("./sub/x.js").default].join(" ")`,
		"main.ts": `import { v } from "./lib"
import p from "pkg"
export function f(): string { const s: string = v + " " + p; return s }`,
	}
	// The folder named through a link is the same folder.
	alias := filepath.Join(t.TempDir(), "alias")
	if err := os.Symlink(proj, alias); err != nil {
		t.Fatal(err)
	}
	for file, src := range ok {
		if err := os.WriteFile(filepath.Join(proj, file), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, main := range []string{filepath.Join(proj, file), filepath.Join(alias, file)} {
			v, err := run(t, main, jsrt.Options{}, "f")
			if err != nil {
				t.Errorf("%s: %v", main, err)
				continue
			}
			t.Logf("%s: %s", main, v)
		}
	}

	secret := filepath.Join(outside, "secret.json")
	for _, tc := range []struct{ name, src, imp string }{
		{"absolute", `import s from ` + strconv.Quote(secret) + `; export const f = () => s`, secret},
		{"parent", `import n from "../outside/notes.txt"; export const f = () => n`, "../outside/notes.txt"},
		{"through a subfolder", `import n from "./lib/../../outside/notes.txt"; export const f = () => n`, "./lib/../../outside/notes.txt"},
		{"require", `const e = require("../outside/evil.js"); exports.f = () => e`, "../outside/evil.js"},
		{"dynamic import", `export const f = () => import("../outside/evil.js")`, "../outside/evil.js"},
		{"symbolic link", `import s from "./link/secret.json"; export const f = () => s`, "./link/secret.json"},
		{"package linked outside", `import s from "evil/secret.json"; export const f = () => s`, "evil/secret.json"},
		{"imported file", `import s from "./sub/leak.js"; export const f = () => s`, "../../outside/secret.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			main := filepath.Join(proj, "bad.js")
			if err := os.WriteFile(main, []byte(tc.src), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := jsrt.Load(main)
			if err == nil {
				t.Fatal("loaded")
			}
			for _, w := range []string{"script " + main + ": ", `import "` + tc.imp + `"`, "outside the script's folder", "scripts may import files under " + proj + " and packages from node_modules"} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "TOPSECRET") {
				t.Errorf("error %q shows the file", err)
			}
		})
	}

	// An import pattern: esbuild bundles every file it matches.
	for _, tc := range []struct{ name, src, file string }{
		{"pattern", "export const f = (name) => require(`../outside/${name}`)", filepath.Join(outside, "evil.js")},
		{"pattern in the parent", "export const f = (name) => import(`../${name}`)", filepath.Join(base, "outside")},
		{"pattern through a link", "export const f = (name) => require(`./link/${name}`)", filepath.Join(outside, "secret.json")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			main := filepath.Join(proj, "bad.js")
			if err := os.WriteFile(main, []byte(tc.src), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := jsrt.Load(main)
			if err == nil {
				t.Fatal("loaded")
			}
			for _, w := range []string{tc.file, "outside the script's folder", "scripts may import files under " + proj} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	main := filepath.Join(proj, "pattern.js")
	if err := os.WriteFile(main, []byte("export const f = (name) => require(`./pat/${name}`).default"), 0o644); err != nil {
		t.Fatal(err)
	}
	if v, err := run(t, main, jsrt.Options{}, "f", "x.js"); err != nil || v.String() != "pat" {
		t.Errorf("a pattern under the folder: %v, %v", v, err)
	}
}
