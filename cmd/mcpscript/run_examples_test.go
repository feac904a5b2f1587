package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// npmFixtures skips the test when scripts/npm-fixtures.sh has not installed
// the reference servers (CI installs them, so there it runs).
func npmFixtures(t *testing.T, pkgs ...string) {
	t.Helper()
	for _, pkg := range pkgs {
		p := filepath.Join("..", "..", "testdata", "npm", "node_modules", "@modelcontextprotocol", pkg, "dist", "index.js")
		if _, err := os.Stat(p); err != nil {
			t.Skipf("npm fixture %s is missing: run scripts/npm-fixtures.sh (%v)", pkg, err)
		}
	}
}

// runCLI runs mcpscript in this process, as main does, and returns its
// exit status and output.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

const examplesDir = "../../examples/workflows"

// TestExampleKnowledgeGraph runs examples/workflows/knowledge-graph.js
// against @modelcontextprotocol/server-memory, twice: the second run adds
// nothing and reports the same graph.
func TestExampleKnowledgeGraph(t *testing.T) {
	npmFixtures(t, "server-memory")
	t.Setenv("MEMORY_FILE_PATH", filepath.Join(t.TempDir(), "graph.jsonl"))
	wf, cfg := filepath.Join(examplesDir, "knowledge-graph.js"), filepath.Join(examplesDir, "config.json")

	code, out, errOut := runCLI(t, "run", wf, "-c", cfg)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"Stored: 8 new entities, 8 new relations, 2 new observations.",
		"The graph has 8 entities and 8 relations.",
		"Go (language):\n  - designed at Google in 2007\n  - compiled and garbage-collected\n  - version 1.0 released in March 2012\n",
		"Designed by: Ken Thompson, Rob Pike, Robert Griesemer",
		`Search "Bell Labs": 3 entities: Bell Labs, C, Unix`,
		"  Ken Thompson worked at Bell Labs\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	code, out, errOut = runCLI(t, "run", wf, "-c", cfg, "--", "Ken")
	if code != 0 {
		t.Fatalf("second run: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"Stored: 0 new entities, 0 new relations, 0 new observations.",
		"The graph has 8 entities and 8 relations.",
		`Search "Ken": 2 entities: Ken Thompson, Rob Pike`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("second run: output lacks %q:\n%s", want, out)
		}
	}
}

// TestExampleWalkFolder runs examples/workflows/walk-folder.ts against
// @modelcontextprotocol/server-filesystem on a folder made here, and checks
// its counts against the folder's real ones.
func TestExampleWalkFolder(t *testing.T) {
	npmFixtures(t, "server-filesystem")
	root := t.TempDir()
	files := map[string]string{
		"README.md":             "# A sample folder\nwith more lines\n",
		"notes.txt":             "notes",
		"src/main.go":           "package main\n\nfunc main() {}\n",
		"src/util/strings.go":   "package util\n",
		"src/util/data.json":    `{"a": 1}`,
		"docs/guide/intro.md":   "intro text, a little longer than the others so it is the largest",
		"empty/.keep":           "",
		"node_modules/x/x.js":   "excluded",
		".git/config":           "excluded",
		"deep/a/b/c/d/leaf.txt": "leaf",
	}
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The real counts, leaving out what the workflow leaves out.
	var nFiles, nDirs int
	var total int64
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case path == root:
		case d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules"):
			return filepath.SkipDir
		case d.IsDir():
			nDirs++
		default:
			info, err := d.Info()
			if err != nil {
				return err
			}
			nFiles++
			total += info.Size()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("WALK_ROOT", root)

	code, out, errOut := runCLI(t, "run", filepath.Join(examplesDir, "walk-folder.ts"), "-c", filepath.Join(examplesDir, "config.json"))
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"Folder " + root + "\n",
		fmt.Sprintf("  %d files, %d folders, %d B (without .git, node_modules)\n", nFiles, nDirs, total),
		"    docs/guide/intro.md (64 B)\n",
		"  README.md: # A sample folder\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if nFiles != 8 || nDirs != 10 {
		t.Errorf("the test's own walk found %d files, %d folders", nFiles, nDirs)
	}

	// A subfolder, given as an argument.
	code, out, errOut = runCLI(t, "run", filepath.Join(examplesDir, "walk-folder.ts"), "-c", filepath.Join(examplesDir, "config.json"), "--", "src")
	if code != 0 {
		t.Fatalf("src: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "  3 files, 1 folder,") || !strings.Contains(out, "    .go ") {
		t.Errorf("src: output:\n%s", out)
	}
}
