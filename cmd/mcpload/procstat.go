package main

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/prometheus/procfs"
)

// userHZ is the unit of the CPU times in /proc/PID/stat. Linux fixes it at
// 100 for user space on every architecture Go supports.
const userHZ = 100

// serverArg is the argument that makes mcpscript the echo server
// (`mcpscript demo-server`), whoever starts it: mcpscript (through its
// procman shim), a node peer (directly or through `sh -c`) or TBXark.
const serverArg = "demo-server"

// isServer reports whether a command line is the echo server's: the
// mcpscript binary run with serverArg. A proxy whose own arguments name the
// server command (`supergateway --stdio "mcpscript demo-server"`) is not one.
func isServer(argv []string) bool {
	return len(argv) >= 2 && filepath.Base(argv[0]) == "mcpscript" && slices.Contains(argv[1:], serverArg)
}

// treeUsage is what the processes of one tree have used so far, split into
// the proxy's own processes and the echo servers it runs.
type treeUsage struct {
	proxyCPU, serverCPU time.Duration
	proxyHWM, serverHWM uint64 // sums of VmHWM (peak RSS) in bytes
	proxyRSS, serverRSS uint64 // sums of VmRSS in bytes
	proxyProcs          int
	serverProcs         int
}

// procTree reads the resources of a process and all its descendants.
// Descendants are found through their parent pids, so a process that exits
// (its CPU time then goes to its parent's cutime, which is not counted) or
// is reparented drops out of the tree.
type procTree struct {
	fs   procfs.FS
	root int
}

func newProcTree(root int) (procTree, error) {
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		return procTree{}, fmt.Errorf("reading /proc: %w", err)
	}
	return procTree{fs: fs, root: root}, nil
}

// member is one process of a tree.
type member struct {
	pid    int
	server bool
	stat   procfs.ProcStat
}

// members lists the root and its descendants. A process is a server process
// if it is the echo server (isServer) or one of its ancestors is; a shell or
// mcpscript's procman shim that starts the server is counted with the proxy.
func (t procTree) members() ([]member, error) {
	procs, err := t.fs.AllProcs()
	if err != nil {
		return nil, fmt.Errorf("listing processes: %w", err)
	}
	children := make(map[int][]member)
	var root *member
	for _, p := range procs {
		st, err := p.Stat()
		if err != nil {
			continue // it exited while we looked
		}
		m := member{pid: p.PID, stat: st}
		if p.PID == t.root {
			root = &m
			continue
		}
		children[st.PPID] = append(children[st.PPID], m)
	}
	if root == nil {
		return nil, fmt.Errorf("process %d: %w", t.root, fs.ErrNotExist)
	}
	var out []member
	var walk func(m member, server bool)
	walk = func(m member, server bool) {
		if !server {
			if p, err := t.fs.Proc(m.pid); err == nil {
				if argv, err := p.CmdLine(); err == nil && isServer(argv) {
					server = true
				}
			}
		}
		m.server = server
		out = append(out, m)
		for _, c := range children[m.pid] {
			walk(c, server)
		}
	}
	walk(*root, false)
	return out, nil
}

// read sums the CPU time and memory of the tree's processes.
func (t procTree) read() (treeUsage, error) {
	ms, err := t.members()
	if err != nil {
		return treeUsage{}, err
	}
	var u treeUsage
	for _, m := range ms {
		cpu := time.Duration(m.stat.UTime+m.stat.STime) * time.Second / userHZ
		var hwm, rss uint64
		if p, err := t.fs.Proc(m.pid); err == nil {
			if st, err := p.NewStatus(); err == nil {
				hwm, rss = st.VmHWM, st.VmRSS
			}
		}
		if m.server {
			u.serverCPU += cpu
			u.serverHWM += hwm
			u.serverRSS += rss
			u.serverProcs++
		} else {
			u.proxyCPU += cpu
			u.proxyHWM += hwm
			u.proxyRSS += rss
			u.proxyProcs++
		}
	}
	return u, nil
}

// pids lists the tree's processes with their start times, so that they can
// be told apart from later processes that reuse a pid.
func (t procTree) pids() ([]procID, error) {
	ms, err := t.members()
	if err != nil {
		return nil, err
	}
	ids := make([]procID, len(ms))
	for i, m := range ms {
		ids[i] = procID{pid: m.pid, start: m.stat.Starttime}
	}
	return ids, nil
}

// procID names a process for good: its pid and its start time.
type procID struct {
	pid   int
	start uint64
}

// alive reports whether the process still runs (and is not a zombie).
func (id procID) alive(fs procfs.FS) bool {
	p, err := fs.Proc(id.pid)
	if err != nil {
		return false
	}
	st, err := p.Stat()
	return err == nil && st.Starttime == id.start && st.State != "Z"
}

// machineBusy is the CPU time the whole machine has spent busy since boot,
// on all cores, counting what the hypervisor gave to other guests (steal):
// with the time of the processes a cell knows, it tells how much else ran.
func machineBusy(fs procfs.FS) (time.Duration, error) {
	st, err := fs.Stat()
	if err != nil {
		return 0, fmt.Errorf("reading /proc/stat: %w", err)
	}
	c := st.CPUTotal
	secs := c.User + c.Nice + c.System + c.IRQ + c.SoftIRQ + c.Steal
	return time.Duration(secs * float64(time.Second)), nil
}

// selfCPU is the CPU time mcpload itself has used, all threads.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
