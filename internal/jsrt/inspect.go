package jsrt

import (
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/dop251/goja"
)

// Inspector renders JavaScript values as Node's console does: util.format
// for a call's arguments (%s %d %i %f %j %o %O %c %% in the first),
// util.inspect with its defaults for everything else (depth 2, 100 array
// items, 10000 characters of a string, lines broken past 80 columns with up
// to 3 levels of short entries kept on one line, long arrays of short items
// in columns). It runs JavaScript of its runtime (to read property
// descriptors without calling getters, and Map and Set entries), so use it
// on the runtime's goroutine only.
type Inspector struct {
	vm      *goja.Runtime
	helpers goja.Callable
}

// inspectHelpers is the JavaScript an Inspector needs: an object's own
// enumerable properties (all of them with k true) as [key, kind, value,
// ...] (kind 0 a value, 1 a getter, 2 a setter, 3 both, plus 4 when not
// enumerable; symbols included), entries of a Map or
// Set, Function.prototype.toString, and whether an object's toString is a
// built-in one.
const inspectHelpers = `(function () {
  const getOwn = Object.getOwnPropertyDescriptor, keys = Object.keys, syms = Object.getOwnPropertySymbols,
    names = Object.getOwnPropertyNames,
    isEnum = Object.prototype.propertyIsEnumerable, hasOwn = Object.prototype.hasOwnProperty,
    getProto = Object.getPrototypeOf, fnString = Function.prototype.toString, from = Array.from;
  const builtins = new Set(["Object", "Error", "Array", "Date", "RegExp", "Map", "Set", "Promise", "Function",
    "Number", "String", "Boolean", "Symbol", "TypeError", "RangeError", "SyntaxError", "ReferenceError", "EvalError", "URIError"]);
  const boxes = [[Number, "Number"], [String, "String"], [Boolean, "Boolean"], [Symbol, "Symbol"], [BigInt, "BigInt"]];
  return function (op, o, k) {
    switch (op) {
      case 0: {
        const out = [];
        const add = (key) => {
          const d = getOwn(o, key);
          if (!d) return;
          const hidden = d.enumerable ? 0 : 4;
          if ("value" in d) out.push(key, hidden, d.value);
          else out.push(key, hidden + (d.get ? 1 : 0) + (d.set ? 2 : 0), undefined);
        };
        for (const key of k ? names(o) : keys(o)) add(key);
        for (const s of syms(o)) if (k || isEnum.call(o, s)) add(s);
        return out;
      }
      case 1: return from(o);
      case 2: return fnString.call(o);
      case 3: {
        if (typeof o.toString !== "function") return true;
        if (hasOwn.call(o, "toString")) return false;
        let p = o;
        do { p = getProto(p); } while (p !== null && !hasOwn.call(p, "toString"));
        if (p === null) return true;
        const d = getOwn(p, "constructor");
        return d !== undefined && typeof d.value === "function" && builtins.has(d.value.name);
      }
      case 4: return hasOwn.call(o, k);
      case 5:
        if (o instanceof Map) return "Map";
        if (o instanceof Set) return "Set";
        if (ArrayBuffer.isView(o) && !(o instanceof DataView)) return "TypedArray";
        if (o instanceof Promise) return "Promise";
        for (const [C, name] of boxes) if (o instanceof C) return name;
        return "";
      case 6: return String(o);
      case 7: return o.valueOf();
    }
  };
})()`

// NewInspector returns an Inspector for vm.
func NewInspector(vm *goja.Runtime) (*Inspector, error) {
	v, err := vm.RunString(inspectHelpers)
	if err != nil {
		return nil, err
	}
	fn, ok := goja.AssertFunction(v)
	if !ok {
		return nil, fmt.Errorf("inspect helpers: not a function")
	}
	return &Inspector{vm: vm, helpers: fn}, nil
}

// The options of util.inspect that console uses, at their defaults.
const (
	inspectDepth    = 2
	breakLength     = 80
	compactLevels   = 3
	maxArrayLength  = 100
	maxStringLength = 10000
	minLineWidth    = 16
)

// Format renders a console call's arguments as Node's util.format does.
func (in *Inspector) Format(args []goja.Value) string {
	if len(args) == 0 {
		return ""
	}
	var b strings.Builder
	a, join := 0, ""
	if first, ok := primitiveString(args[0]); ok {
		if len(args) == 1 {
			return first
		}
		lastPos := 0
		for i := 0; i < len(first)-1; i++ {
			if first[i] != '%' {
				continue
			}
			i++
			c := first[i]
			if a+1 == len(args) {
				if c == '%' {
					b.WriteString(first[lastPos:i])
					lastPos = i + 1
				}
				continue
			}
			var s string
			switch c {
			case 's':
				a++
				s = in.formatS(args[a])
			case 'j':
				a++
				s = in.stringify(args[a])
			case 'd':
				a++
				s = in.number(args[a], "Number")
			case 'i':
				a++
				s = in.number(args[a], "parseInt")
			case 'f':
				a++
				s = in.number(args[a], "parseFloat")
			case 'O':
				a++
				s = in.inspect(args[a], inspectDepth)
			case 'o':
				a++
				s = in.inspectHidden(args[a])
			case 'c':
				a++
			case '%':
				b.WriteString(first[lastPos:i])
				lastPos = i + 1
				continue
			default:
				continue
			}
			if lastPos != i-1 {
				b.WriteString(first[lastPos : i-1])
			}
			b.WriteString(s)
			lastPos = i + 1
		}
		if lastPos != 0 {
			a++
			join = " "
			if lastPos < len(first) {
				b.WriteString(first[lastPos:])
			}
		}
	}
	for ; a < len(args); a++ {
		b.WriteString(join)
		if s, ok := primitiveString(args[a]); ok {
			b.WriteString(s)
		} else {
			b.WriteString(in.inspect(args[a], inspectDepth))
		}
		join = " "
	}
	return b.String()
}

// Inspect renders one value as Node's util.inspect does by default.
func (in *Inspector) Inspect(v goja.Value) string { return in.inspect(v, inspectDepth) }

func (in *Inspector) inspect(v goja.Value, depth int) string {
	ctx := &inspectCtx{in: in, depth: depth, circular: map[*goja.Object]int{}}
	return ctx.value(v, 0)
}

// inspectHidden is %o: util.inspect with showHidden (properties that are
// not enumerable too, in brackets) and a depth of 4.
func (in *Inspector) inspectHidden(v goja.Value) string {
	ctx := &inspectCtx{in: in, depth: 4, hidden: true, circular: map[*goja.Object]int{}}
	return ctx.value(v, 0)
}

// formatS is %s: numbers and bigints as such, objects without a toString
// of their own inspected one level deep, the rest through String().
func (in *Inspector) formatS(v goja.Value) string {
	if o, ok := v.(*goja.Object); ok {
		if in.call(3, o).ToBoolean() {
			return in.inspect(v, 0)
		}
		return o.String()
	}
	switch {
	case isNumber(v):
		return formatNumber(v)
	case isBigInt(v):
		return v.String() + "n"
	case isSymbol(v):
		return in.call(6, v).String()
	}
	return v.String()
}

// stringify is %j: JSON.stringify, "[Circular]" for a cyclic value.
func (in *Inspector) stringify(v goja.Value) string {
	var s string
	err := in.vm.Try(func() {
		j := in.vm.Get("JSON").ToObject(in.vm)
		fn, _ := goja.AssertFunction(j.Get("stringify"))
		r, err := fn(j, v)
		if err != nil {
			panic(err)
		}
		s = r.String()
	})
	if err != nil {
		if strings.Contains(err.Error(), "circular") || strings.Contains(err.Error(), "Converting circular") {
			return "[Circular]"
		}
		panic(err)
	}
	return s
}

// number is %d, %i and %f: the value through Number, parseInt or
// parseFloat (bigints as they are, symbols NaN).
func (in *Inspector) number(v goja.Value, conv string) string {
	if isBigInt(v) {
		return v.String() + "n"
	}
	if isSymbol(v) {
		return "NaN"
	}
	fn, _ := goja.AssertFunction(in.vm.Get(conv))
	r, err := fn(goja.Undefined(), v)
	if err != nil {
		panic(err)
	}
	return formatNumber(r)
}

func (in *Inspector) call(op int, args ...goja.Value) goja.Value {
	r, err := in.helpers(goja.Undefined(), append([]goja.Value{in.vm.ToValue(op)}, args...)...)
	if err != nil {
		panic(err)
	}
	return r
}

// inspectCtx is one util.inspect call.
type inspectCtx struct {
	in           *Inspector
	depth        int
	hidden       bool // showHidden: properties that are not enumerable too
	seen         []*goja.Object
	circular     map[*goja.Object]int
	indentation  int
	currentDepth int
}

// The kinds of entries, as Node tells them apart.
const (
	kindObject      = iota // key: value
	kindArray              // value (an item)
	kindArrayExtras        // key: value, in an array's braces
)

func (c *inspectCtx) value(v goja.Value, level int) string {
	o, ok := v.(*goja.Object)
	if !ok {
		return c.primitive(v)
	}
	for _, s := range c.seen {
		if s == o {
			id, ok := c.circular[o]
			if !ok {
				id = len(c.circular) + 1
				c.circular[o] = id
			}
			return fmt.Sprintf("[Circular *%d]", id)
		}
	}
	return c.raw(o, level)
}

func (c *inspectCtx) primitive(v goja.Value) string {
	switch {
	case v == nil || goja.IsUndefined(v):
		return "undefined"
	case goja.IsNull(v):
		return "null"
	case isString(v):
		s := v.String()
		trailer := ""
		if r := []rune(s); len(r) > maxStringLength {
			trailer = fmt.Sprintf("... %d more character%s", len(r)-maxStringLength, plural(len(r)-maxStringLength))
			s = string(r[:maxStringLength])
		}
		n := len([]rune(s))
		if n > minLineWidth && n > breakLength-c.indentation-4 && strings.Contains(s, "\n") {
			lines := splitAfterNewlines(s)
			parts := make([]string, len(lines))
			for i, l := range lines {
				parts[i] = quote(l)
			}
			return strings.Join(parts, " +\n"+strings.Repeat(" ", c.indentation+2)) + trailer
		}
		return quote(s) + trailer
	case isNumber(v):
		return formatNumber(v)
	case isBigInt(v):
		return v.String() + "n"
	}
	if isSymbol(v) {
		return c.in.call(6, v).String()
	}
	return v.String() // booleans
}

// raw formats an object (Node's formatRaw).
func (c *inspectCtx) raw(o *goja.Object, level int) string {
	class := o.ClassName()
	if k := c.in.call(5, o).String(); k != "" {
		class = k
	}
	ctor, nullProto := c.constructorName(o)
	// prefix is what comes before a brace: "Foo ", "Map(2) ",
	// "[Object: null prototype] ".
	prefix := func(fallback, size string) string {
		if nullProto {
			return "[" + fallback + size + ": null prototype] "
		}
		return ctor + size + " "
	}
	var (
		base    string
		braces  = [2]string{"{", "}"}
		extras  = kindObject
		props   []prop
		entries func(level int) []string // what the braces hold beside the properties
	)
	_, isFn := goja.AssertFunction(o)
	switch {
	case class == "Array":
		props = c.props(o, true)
		p := ""
		if ctor != "Array" {
			p = prefix("Array", "("+o.Get("length").String()+")")
		}
		braces = [2]string{p + "[", "]"}
		if o.Get("length").ToInteger() == 0 && len(props) == 0 {
			return braces[0] + "]"
		}
		extras = kindArrayExtras
		entries = func(level int) []string { return c.array(o, level) }
	case class == "TypedArray":
		props = c.props(o, true)
		n := int(o.Get("length").ToInteger())
		braces = [2]string{prefix("TypedArray", "("+strconv.Itoa(n)+")") + "[", "]"}
		if n == 0 && len(props) == 0 {
			return braces[0] + "]"
		}
		extras = kindArrayExtras
		entries = func(int) []string {
			var out []string
			for i := 0; i < n && i < maxArrayLength; i++ {
				out = append(out, formatNumber(o.Get(strconv.Itoa(i))))
			}
			if n > maxArrayLength {
				out = append(out, moreItems(n-maxArrayLength))
			}
			return out
		}
	case class == "Map" || class == "Set":
		props = c.props(o, false)
		list := c.in.call(1, o).(*goja.Object)
		n := int(list.Get("length").ToInteger())
		p := prefix(class, "("+strconv.Itoa(n)+")")
		if n == 0 && len(props) == 0 {
			return p + "{}"
		}
		braces[0] = p + "{"
		entries = func(level int) []string {
			var out []string
			c.indentation += 2
			for i := 0; i < n && i < maxArrayLength; i++ {
				e := list.Get(strconv.Itoa(i))
				if class == "Set" {
					out = append(out, c.value(e, level))
					continue
				}
				kv := e.(*goja.Object)
				out = append(out, c.value(kv.Get("0"), level)+" => "+c.value(kv.Get("1"), level))
			}
			c.indentation -= 2
			if n > maxArrayLength {
				out = append(out, moreItems(n-maxArrayLength))
			}
			return out
		}
	default:
		props = c.props(o, false)
		switch {
		case !nullProto && ctor == "Object" && !isFn && class == "Object":
			if len(props) == 0 {
				return "{}"
			}
		case isFn:
			base = c.functionBase(o, ctor, nullProto)
			if len(props) == 0 {
				return base
			}
		case class == "RegExp":
			base = o.String()
			if len(props) == 0 || level > c.depth {
				return base
			}
		case class == "Date":
			base = c.date(o)
			if len(props) == 0 {
				return base
			}
		case class == "Error" || isError(o):
			base = c.errorBase(o)
			if len(props) == 0 {
				return base
			}
		case class == "Promise":
			braces[0] = prefix("Promise", "") + "{"
			p, _ := o.Export().(*goja.Promise)
			entries = func(level int) []string {
				c.indentation += 2
				defer func() { c.indentation -= 2 }()
				switch {
				case p == nil || p.State() == goja.PromiseStatePending:
					return []string{"<pending>"}
				case p.State() == goja.PromiseStateRejected:
					return []string{"<rejected> " + c.value(p.Result(), level)}
				}
				return []string{c.value(p.Result(), level)}
			}
		case class == "Number" || class == "String" || class == "Boolean" || class == "Symbol" || class == "BigInt":
			inner := c.primitive(c.in.call(7, o))
			base = "[" + class + ": " + inner + "]"
			if class == "String" {
				props = nil // its indexes are its characters
			}
			if len(props) == 0 {
				return base
			}
		default:
			if len(props) == 0 {
				if nullProto {
					return "[Object: null prototype] {}"
				}
				return ctor + " {}"
			}
			braces[0] = prefix("Object", "") + "{"
		}
	}
	if level > c.depth {
		switch {
		case nullProto:
			return "[Object: null prototype]"
		case ctor == "":
			return "[Object]"
		}
		return "[" + ctor + "]"
	}
	level++
	c.seen = append(c.seen, o)
	c.currentDepth = level
	var output []string
	if entries != nil {
		output = entries(level)
	}
	for _, p := range props {
		output = append(output, c.property(p, level, extras))
	}
	c.seen = c.seen[:len(c.seen)-1]
	res := c.reduce(output, base, braces, extras, level, o)
	if id, ok := c.circular[o]; ok {
		res = fmt.Sprintf("<ref *%d> %s", id, res)
	}
	return res
}

// prop is an own enumerable property: its key as shown, and its value or
// accessors.
type prop struct {
	key   string
	kind  int // 0 a value, 1 a getter, 2 a setter, 3 both
	value goja.Value
}

var identifier = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z_0-9]*$`)

// props returns o's own enumerable properties (for an array, those that
// are not indexes).
func (c *inspectCtx) props(o *goja.Object, skipIndexes bool) []prop {
	list, ok := c.in.call(0, o, c.in.vm.ToValue(c.hidden)).(*goja.Object)
	if !ok {
		return nil
	}
	n := int(list.Get("length").ToInteger())
	var out []prop
	for i := 0; i+2 < n; i += 3 {
		k := list.Get(strconv.Itoa(i))
		kind := int(list.Get(strconv.Itoa(i + 1)).ToInteger())
		hidden := kind&4 != 0
		var name string
		if isSymbol(k) {
			name = "[" + c.in.call(6, k).String() + "]"
		} else {
			s := k.String()
			if skipIndexes {
				if _, err := strconv.ParseUint(s, 10, 32); err == nil {
					continue
				}
			}
			switch {
			case s == "__proto__":
				name = "['__proto__']"
			case hidden:
				name = "[" + s + "]"
			case identifier.MatchString(s):
				name = s
			default:
				name = quote(s)
			}
		}
		out = append(out, prop{key: name, kind: kind &^ 4, value: list.Get(strconv.Itoa(i + 2))})
	}
	return out
}

// property formats one property (Node's formatProperty).
func (c *inspectCtx) property(p prop, level, kind int) string {
	var s string
	switch p.kind {
	case 0:
		c.indentation += 2
		s = c.value(p.value, level)
		c.indentation -= 2
	case 1:
		s = "[Getter]"
	case 2:
		s = "[Setter]"
	default:
		s = "[Getter/Setter]"
	}
	if kind == kindArray {
		return s
	}
	return p.key + ": " + s
}

// array formats an array's items: holes as "<n empty items>", at most
// maxArrayLength of them.
func (c *inspectCtx) array(o *goja.Object, level int) []string {
	n := int(o.Get("length").ToInteger())
	var out []string
	shown := min(n, maxArrayLength)
	for i := 0; i < shown; i++ {
		if !c.in.call(4, o, c.in.vm.ToValue(i)).ToBoolean() {
			j := i
			for j < n && !c.in.call(4, o, c.in.vm.ToValue(j)).ToBoolean() {
				j++
			}
			holes := j - i
			out = append(out, fmt.Sprintf("<%d empty item%s>", holes, plural(holes)))
			i = j - 1
			if len(out) >= maxArrayLength {
				break
			}
			continue
		}
		c.indentation += 2
		out = append(out, c.value(o.Get(strconv.Itoa(i)), level))
		c.indentation -= 2
	}
	if n > shown {
		out = append(out, moreItems(n-shown))
	}
	return out
}

func moreItems(n int) string { return fmt.Sprintf("... %d more item%s", n, plural(n)) }

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// reduce lays the entries out on one line when they are short and not
// nested too deep, else one per line; long arrays of short items are
// grouped in columns first (Node's reduceToSingleString).
func (c *inspectCtx) reduce(output []string, base string, braces [2]string, kind, level int, o *goja.Object) string {
	entries := len(output)
	if kind == kindArrayExtras && entries > 6 {
		output = c.group(output, o)
	}
	if c.currentDepth-level < compactLevels && entries == len(output) {
		start := len(output) + c.indentation + len(braces[0]) + len(base) + 10
		if c.belowBreakLength(output, start, base) {
			joined := strings.Join(output, ", ")
			if !strings.Contains(joined, "\n") {
				if base != "" {
					base += " "
				}
				return base + braces[0] + " " + joined + " " + braces[1]
			}
		}
	}
	ind := "\n" + strings.Repeat(" ", c.indentation)
	if base != "" {
		base += " "
	}
	return base + braces[0] + ind + "  " + strings.Join(output, ","+ind+"  ") + ind + braces[1]
}

func (c *inspectCtx) belowBreakLength(output []string, start int, base string) bool {
	total := len(output) + start
	if total+len(output) > breakLength {
		return false
	}
	for _, s := range output {
		total += len([]rune(s))
		if total > breakLength {
			return false
		}
	}
	return base == "" || !strings.Contains(base, "\n")
}

// group arranges many short items in columns (Node's groupArrayElements).
func (c *inspectCtx) group(output []string, o *goja.Object) []string {
	total, maxLen := 0, 0
	n := len(output)
	if maxArrayLength < n {
		n-- // the "... n more items" line is not grouped
	}
	const sep = 2
	lens := make([]int, n)
	for i := 0; i < n; i++ {
		l := len([]rune(output[i]))
		lens[i] = l
		total += l + sep
		maxLen = max(maxLen, l)
	}
	actualMax := maxLen + sep
	if actualMax*3+c.indentation >= breakLength || !(float64(total)/float64(actualMax) > 5 || maxLen <= 6) {
		return output
	}
	bias := math.Sqrt(float64(actualMax) - float64(total)/float64(len(output)))
	biasedMax := math.Max(float64(actualMax)-3-bias, 1)
	columns := min(
		int(math.Round(math.Sqrt(2.5*biasedMax*float64(n))/biasedMax)),
		(breakLength-c.indentation)/actualMax,
		compactLevels*4,
		15,
	)
	if columns <= 1 {
		return output
	}
	var widths []int
	for i := 0; i < columns; i++ {
		w := 0
		for j := i; j < len(output); j += columns {
			if j < n && lens[j] > w {
				w = lens[j]
			}
		}
		widths = append(widths, w+sep)
	}
	padStart := true
	for i := range output {
		if v := o.Get(strconv.Itoa(i)); !isNumber(v) && !isBigInt(v) {
			padStart = false
			break
		}
	}
	var out []string
	for i := 0; i < n; i += columns {
		end := min(i+columns, n)
		var line strings.Builder
		j := i
		for ; j < end-1; j++ {
			cell := output[j] + ", "
			line.WriteString(pad(cell, widths[j-i], padStart))
		}
		if padStart {
			line.WriteString(pad(output[j], widths[j-i]-sep, true))
		} else {
			line.WriteString(output[j])
		}
		out = append(out, line.String())
	}
	if n < len(output) {
		out = append(out, output[n])
	}
	return out
}

func pad(s string, width int, start bool) string {
	n := width - len([]rune(s))
	if n <= 0 {
		return s
	}
	if start {
		return strings.Repeat(" ", n) + s
	}
	return s + strings.Repeat(" ", n)
}

// constructorName returns the name of the constructor o was made by (""
// when it has none), and whether o has no prototype at all.
func (c *inspectCtx) constructorName(o *goja.Object) (string, bool) {
	p := o.Prototype()
	if p == nil {
		return "", true
	}
	ctor, ok := p.Get("constructor").(*goja.Object)
	if !ok {
		return "", false
	}
	if name := ctor.Get("name"); name != nil && isString(name) {
		return name.String(), false
	}
	return "", false
}

// functionBase is "[Function: name]", "[class X]", "[AsyncFunction: f]"...
func (c *inspectCtx) functionBase(o *goja.Object, ctor string, nullProto bool) string {
	name := ""
	if n := o.Get("name"); n != nil && isString(n) {
		name = n.String()
	}
	if src := c.in.call(2, o).String(); strings.HasPrefix(src, "class") && strings.HasSuffix(src, "}") {
		if name == "" {
			return "[class (anonymous)]"
		}
		return "[class " + name + "]"
	}
	typ := "Function"
	switch ctor {
	case "AsyncFunction", "GeneratorFunction", "AsyncGeneratorFunction":
		typ = ctor
	}
	b := "[" + typ
	if nullProto {
		b += " (null prototype)"
	}
	if name == "" {
		b += " (anonymous)"
	} else {
		b += ": " + name
	}
	return b + "]"
}

func (c *inspectCtx) date(o *goja.Object) string {
	if t := o.Get("getTime"); t != nil {
		if fn, ok := goja.AssertFunction(t); ok {
			if v, err := fn(o); err == nil && math.IsNaN(v.ToFloat()) {
				return "Invalid Date"
			}
		}
	}
	iso, ok := goja.AssertFunction(o.Get("toISOString"))
	if !ok {
		return o.String()
	}
	v, err := iso(o)
	if err != nil {
		return o.String()
	}
	return v.String()
}

// errorBase is an error's stack, or its text when it has none.
func (c *inspectCtx) errorBase(o *goja.Object) string {
	st := o.Get("stack")
	s := ""
	if st != nil && isString(st) {
		s = strings.TrimRight(st.String(), "\n")
	}
	if s == "" {
		s = "[" + o.String() + "]"
	}
	if c.indentation > 0 {
		s = strings.ReplaceAll(s, "\n", "\n"+strings.Repeat(" ", c.indentation))
	}
	return s
}

func isError(o *goja.Object) bool {
	for p := o.Prototype(); p != nil; p = p.Prototype() {
		if p.ClassName() == "Error" {
			return true
		}
	}
	return false
}

// primitiveString returns v's text when v is a string primitive.
func primitiveString(v goja.Value) (string, bool) {
	if isString(v) {
		return v.String(), true
	}
	return "", false
}

func isNumber(v goja.Value) bool {
	if v == nil || isObject(v) {
		return false
	}
	switch v.ExportType() {
	case reflect.TypeFor[int64](), reflect.TypeFor[float64]():
		return true
	}
	return false
}

func isBigInt(v goja.Value) bool {
	return v != nil && !isObject(v) && v.ExportType() != nil && v.ExportType().String() == "*big.Int"
}

func isSymbol(v goja.Value) bool {
	_, ok := v.(*goja.Symbol)
	return ok
}

// formatNumber is a number as JavaScript prints it, but -0 as "-0".
func formatNumber(v goja.Value) string {
	f := v.ToFloat()
	if f == 0 && math.Signbit(f) {
		return "-0"
	}
	return v.String()
}

// splitAfterNewlines splits s after each "\n", keeping them.
func splitAfterNewlines(s string) []string {
	var out []string
	for {
		i := strings.IndexByte(s, '\n')
		if i < 0 || i == len(s)-1 {
			return append(out, s)
		}
		out = append(out, s[:i+1])
		s = s[i+1:]
	}
}

// quote quotes a string as util.inspect does: single quotes, else double
// quotes if it holds single ones, else backticks, escaping control
// characters and the quote.
func quote(s string) string {
	q := byte('\'')
	if strings.Contains(s, "'") {
		if !strings.Contains(s, `"`) {
			q = '"'
		} else if !strings.Contains(s, "`") && !strings.Contains(s, "${") {
			q = '`'
		}
	}
	var b strings.Builder
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\'' && q == '\'':
			b.WriteString(`\'`)
		case r < 0x20 || r >= 0x7f && r <= 0x9f:
			fmt.Fprintf(&b, `\x%02X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(q)
	return b.String()
}
