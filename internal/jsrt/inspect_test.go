package jsrt_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/dop251/goja"

	"github.com/mcpscript/mcpscript/internal/jsrt"
)

// TestInspectLikeNode formats the arguments of testdata/inspect.json's
// console.log calls and compares with what Node printed for them
// (testdata/inspect-gen.js made the file).
func TestInspectLikeNode(t *testing.T) {
	b, err := os.ReadFile("testdata/inspect.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases [][2]string
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	vm := goja.New()
	in, err := jsrt.NewInspector(vm)
	if err != nil {
		t.Fatal(err)
	}
	failed := 0
	for _, c := range cases {
		v, err := vm.RunString(c[0])
		if err != nil {
			t.Errorf("%s: %v", c[0], err)
			continue
		}
		var args []goja.Value
		arr := v.(*goja.Object)
		for i := range int(arr.Get("length").ToInteger()) {
			args = append(args, arr.Get(itoa(i)))
		}
		if got := in.Format(args); got != c[1] {
			failed++
			t.Errorf("%s\n got: %s\nwant: %s", c[0], strings.ReplaceAll(got, "\n", "⏎\n      "), strings.ReplaceAll(c[1], "\n", "⏎\n      "))
		}
	}
	if failed > 0 {
		t.Logf("%d of %d differ", failed, len(cases))
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}
