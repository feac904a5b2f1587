package procman_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcpscript/mcpscript/procman"
)

// childEnv marks a run of the test binary as a child; the arguments select
// the behaviour.
const childEnv = "PROCMAN_TEST_CHILD"

func TestMain(m *testing.M) {
	procman.RunShimIfRequested()
	if os.Getenv(childEnv) != "" {
		os.Exit(child(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// child runs one behaviour of a test child and returns its exit status.
func child(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "child: no mode")
		return 2
	}
	arg := func(i int) int {
		n, err := strconv.Atoi(args[i])
		if err != nil {
			panic(err)
		}
		return n
	}
	switch args[0] {
	case "echo": // echo stdin lines to stdout until EOF, then exit 0
		echo()
		return 0
	case "exit": // exit CODE [STDERR-LINE...]
		for _, l := range args[2:] {
			fmt.Fprintln(os.Stderr, l)
		}
		return arg(1)
	case "sleepexit": // sleepexit MS CODE
		time.Sleep(time.Duration(arg(1)) * time.Millisecond)
		return arg(2)
	case "stubborn": // ignore SIGTERM and stdin EOF
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("ready")
		block()
	case "flood": // flood BYTES: write BYTES of stderr lines, then echo
		w := bufio.NewWriterSize(os.Stderr, 64<<10)
		for i, n := 0, arg(1); n > 0; i++ {
			k, _ := fmt.Fprintf(w, "flood line %07d %s\n", i, strings.Repeat("x", 80))
			n -= k
		}
		fmt.Fprintln(w, "LAST LINE")
		_ = w.Flush()
		echo()
		return 0
	case "longline": // 200 KiB without a newline, then END, exit 3
		_, _ = os.Stderr.WriteString(strings.Repeat("y", 200<<10))
		_, _ = os.Stderr.WriteString("\nEND\n")
		return 3
	case "stdout": // stdout BYTES: write BYTES to stdout and exit 0
		_, _ = os.Stdout.Write(bytes.Repeat([]byte("a"), arg(1)))
		return 0
	case "grandchild": // start sleep 300, print pids, block
		gc := exec.Command("sleep", "300")
		if err := gc.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Printf("child %d grandchild %d\n", os.Getpid(), gc.Process.Pid)
		block()
	case "env": // env NAME...: print the working directory and the variables
		wd, _ := os.Getwd()
		fmt.Printf("cwd=%s", wd)
		for _, name := range args[1:] {
			v, ok := os.LookupEnv(name)
			if !ok {
				v = "<unset>"
			}
			fmt.Printf(" %s=%s", name, v)
		}
		fmt.Println()
		return 0
	case "parent": // supervise a grandchild-mode child; print all pids; block
		return parent()
	}
	fmt.Fprintf(os.Stderr, "child: unknown mode %q\n", args[0])
	return 2
}

func echo() {
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		fmt.Println(sc.Text())
	}
}

func block() {
	for {
		time.Sleep(time.Hour)
	}
}

func parent() int {
	exe, err := os.Executable()
	if err != nil {
		panic(err)
	}
	p, err := procman.New(procman.Spec{
		Name:    "grandparent",
		Command: exe,
		Args:    []string{"grandchild"},
		Logger:  slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}
	inst, err := p.Start(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	line, err := bufio.NewReader(inst.Stdout()).ReadString('\n')
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("shim %d %s", inst.PID(), line)
	block()
	return 0
}
