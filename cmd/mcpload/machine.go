package main

import (
	"bufio"
	"debug/buildinfo"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// machine describes where a run took place, so that a table is never read
// without it.
type machine struct {
	cpu       string
	cores     int
	goVersion string
	node      string // node --version, or "" without node
	kernel    string
	date      time.Time
	loadStart string // /proc/loadavg's first three fields
	loadAfter string
	peers     []string // "name version"
}

func readMachine(env *benchEnv) machine {
	m := machine{
		cpu:       cpuModel(),
		cores:     runtime.NumCPU(),
		goVersion: runtime.Version(),
		date:      time.Now().UTC(),
		loadStart: readLoad(),
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = "Linux " + strings.TrimSpace(string(b))
	}
	if out, err := exec.Command(env.node, "--version").Output(); err == nil {
		m.node = strings.TrimSpace(string(out))
	}
	for _, pkg := range []string{"supergateway", "mcp-proxy"} {
		if v := npmVersion(filepath.Join(env.benchDir, "node_modules", pkg, "package.json")); v != "" {
			label := pkg
			if pkg == "mcp-proxy" {
				label = "punkpeye mcp-proxy"
			}
			m.peers = append(m.peers, label+" "+v)
		}
	}
	if env.tbxark != "" {
		if v := goBinaryVersion(env.tbxark, "github.com/mark3labs/mcp-go"); v != "" {
			m.peers = append(m.peers, v)
		}
	}
	return m
}

// line is the machine line of the report.
func (m machine) line() string {
	parts := []string{fmt.Sprintf("%s, %d cores", m.cpu, m.cores), m.kernel, m.goVersion}
	if m.node != "" {
		parts = append(parts, "node "+m.node)
	}
	parts = append(parts, m.date.Format("2006-01-02"), "load "+m.loadStart+" before, "+m.loadAfter+" after")
	return strings.Join(parts, "; ")
}

func (m machine) peerVersions() string { return strings.Join(m.peers, ", ") }

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

// readLoad is the 1, 5 and 15 minute load averages.
func readLoad() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func npmVersion(packageJSON string) string {
	b, err := os.ReadFile(packageJSON)
	if err != nil {
		return ""
	}
	var p struct {
		Version string `json:"version"`
	}
	if json.Unmarshal(b, &p) != nil {
		return ""
	}
	return p.Version
}

// goBinaryVersion names a Go binary by its main module and the version of
// one of its dependencies: "github.com/tbxark/mcp-proxy (mcp-go v0.44.0)".
func goBinaryVersion(path, dep string) string {
	info, err := buildinfo.ReadFile(path)
	if err != nil {
		return ""
	}
	s := info.Main.Path
	if v := info.Main.Version; v != "" && v != "(devel)" {
		s += " " + v
	}
	for _, d := range info.Deps {
		if d.Path == dep {
			s += fmt.Sprintf(" (%s %s)", filepath.Base(dep), d.Version)
		}
	}
	for _, kv := range info.Settings {
		if kv.Key == "vcs.revision" && len(kv.Value) >= 7 {
			s += " @" + kv.Value[:7]
		}
	}
	return s
}
