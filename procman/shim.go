package procman

import (
	"bytes"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

const (
	// shimEnvVar marks a process started as a shim; its value is the pid of
	// the parent that started it.
	shimEnvVar = "MCPSCRIPT_PROCMAN_SHIM"
	shimArgv0  = "procman-shim"
)

// shimExe is the executable that serves as a shim, nil when the program did
// not call RunShimIfRequested.
var shimExe atomic.Pointer[string]

// RunShimIfRequested must be called first thing in main of a program that
// wants the no-orphan guarantee (the mcpscript CLI and test binaries call
// it). If this process was started as a procman shim it runs the shim and
// never returns; otherwise it records that the current executable can serve
// as a shim and returns.
//
// The shim leads the child's process group, runs the real command in it with
// the same stdio, ignores SIGTERM and SIGINT itself, reaps orphans as a
// child subreaper, kills the whole group when the parent dies, and exits
// with the status of the real command once it has killed any stragglers.
func RunShimIfRequested() {
	if v, ok := os.LookupEnv(shimEnvVar); ok {
		os.Exit(runShim(v, os.Args))
	}
	// /proc/self/exe keeps working when the binary is replaced or deleted.
	exe := "/proc/self/exe"
	if _, err := os.Stat(exe); err != nil {
		if exe, err = os.Executable(); err != nil {
			return
		}
	}
	shimExe.Store(&exe)
}

// shimEnv returns env (or os.Environ()) with the shim marker set to our pid.
func shimEnv(env []string) []string {
	if env == nil {
		env = os.Environ()
	}
	out := withoutVar(env, shimEnvVar)
	return append(out, shimEnvVar+"="+strconv.Itoa(os.Getpid()))
}

func withoutVar(env []string, name string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// runShim runs the shim: args are [argv0, path, child argv...]. It returns
// an exit status only on early errors; otherwise it exits itself.
func runShim(parentPID string, args []string) int {
	parent, err := strconv.Atoi(parentPID)
	if err != nil || len(args) < 3 {
		fmt.Fprintf(os.Stderr, "procman shim: bad invocation (%s=%q, %d args)\n", shimEnvVar, parentPID, len(args))
		return 2
	}
	// Notify (not Ignore): ignored signals would stay ignored in the child.
	sigc := make(chan os.Signal, 64)
	signal.Notify(sigc, syscall.SIGCHLD, syscall.SIGUSR2, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	if os.Getppid() != parent {
		return 1 // the parent died before we could arm ourselves
	}
	const prSetChildSubreaper = 36
	_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0)

	path, argv := args[1], args[2:]
	runtime.LockOSThread() // Pdeathsig is per thread
	child, err := syscall.ForkExec(path, argv, &syscall.ProcAttr{
		Env:   withoutVar(os.Environ(), shimEnvVar),
		Files: []uintptr{0, 1, 2},
		Sys:   &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL},
	})
	runtime.UnlockOSThread()
	if err != nil {
		fmt.Fprintf(os.Stderr, "procman shim: cannot run %s: %v\n", path, err)
		return 127
	}
	// Drop our copies of stdin and stdout so that EOF depends on the child only.
	if null, err := syscall.Open(os.DevNull, syscall.O_RDWR|syscall.O_CLOEXEC, 0); err == nil {
		_ = syscall.Dup3(null, 0, 0)
		_ = syscall.Dup3(null, 1, 0)
		_ = syscall.Close(null)
	}
	if os.Getppid() != parent {
		killOwnGroup()
	}
	tick := time.NewTicker(time.Second)
	for {
		if ws, ok := reap(child); ok {
			shimExit(ws)
		}
		select {
		case sig := <-sigc:
			if sig == syscall.SIGUSR2 {
				killOwnGroup() // the parent died
			}
			// SIGCHLD: reap at the top; SIGTERM, SIGINT, SIGHUP: ignored
			// here, the child got them as a member of the group.
		case <-tick.C:
			if os.Getppid() != parent {
				killOwnGroup()
			}
		}
	}
}

// reap reaps every child that has exited and reports the status of child if
// it was among them.
func reap(child int) (status syscall.WaitStatus, found bool) {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil || pid <= 0 {
			return status, found
		}
		if pid == child {
			status, found = ws, true
		}
	}
}

// killOwnGroup kills the shim's process group, the shim included, and the
// shim's other children (orphans that left the group).
func killOwnGroup() {
	killStragglers(os.Getpid(), syscall.Getpgrp())
	_ = syscall.Kill(0, syscall.SIGKILL)
	select {}
}

// shimExit kills what is left of the group and of the shim's children, then
// exits the way the child did.
func shimExit(ws syscall.WaitStatus) {
	self := os.Getpid()
	pgid := syscall.Getpgrp()
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		if killStragglers(self, pgid) == 0 {
			break
		}
		reap(0)
		time.Sleep(5 * time.Millisecond)
	}
	for time.Now().Before(deadline) {
		reap(0)
		var w syscall.WaitStatus
		if _, err := syscall.Wait4(-1, &w, syscall.WNOHANG, nil); err == syscall.ECHILD {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if ws.Signaled() {
		raise(ws.Signal())
	}
	os.Exit(ws.ExitStatus())
}

// killStragglers sends SIGKILL to every live process in group pgid or whose
// parent is self, except self, and returns how many it found.
func killStragglers(self, pgid int) int {
	d, err := os.Open("/proc")
	if err != nil {
		return 0
	}
	names, _ := d.Readdirnames(-1)
	_ = d.Close()
	n := 0
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil || pid == self {
			continue
		}
		stat, err := os.ReadFile("/proc/" + name + "/stat")
		if err != nil {
			continue
		}
		state, ppid, pgrp, ok := parseStat(stat)
		if !ok || state == 'Z' || state == 'X' {
			continue
		}
		if pgrp == pgid || ppid == self {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			n++
		}
	}
	return n
}

// parseStat extracts state, ppid and pgrp from /proc/PID/stat.
func parseStat(stat []byte) (state byte, ppid, pgrp int, ok bool) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, 0, 0, false
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 3 || len(f[0]) != 1 {
		return 0, 0, 0, false
	}
	ppid, err1 := strconv.Atoi(f[1])
	pgrp, err2 := strconv.Atoi(f[2])
	return f[0][0], ppid, pgrp, err1 == nil && err2 == nil
}

// raise kills the shim with sig under the default disposition, so the parent
// sees the same signal as the child died of.
func raise(sig syscall.Signal) {
	_ = syscall.Setrlimit(syscall.RLIMIT_CORE, &syscall.Rlimit{}) // no core file for the shim
	runtime.LockOSThread()
	var act [4]uintptr // struct sigaction: SIG_DFL, no flags, empty mask
	_, _, _ = syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&act)), 0, 8, 0, 0)
	mask := uint64(1) << (uint(sig) - 1)
	const sigUnblock = 1
	_, _, _ = syscall.RawSyscall6(syscall.SYS_RT_SIGPROCMASK, sigUnblock, uintptr(unsafe.Pointer(&mask)), 0, 8, 0, 0)
	_ = syscall.Tgkill(os.Getpid(), syscall.Gettid(), sig)
	time.Sleep(time.Second)
	os.Exit(128 + int(sig))
}
