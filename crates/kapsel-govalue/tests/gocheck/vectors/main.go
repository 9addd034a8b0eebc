// Command vectors writes the expected outputs of Go's fmt, encoding/json and
// time for the cases kapsel-govalue's tests check (test tooling only).
//
//	cd crates/kapsel-govalue/tests/gocheck && TZ= go run ./vectors > ../data/vectors.json
//
// Arguments are named by id; tests/govectors.rs builds the same values in Rust.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

type Profile struct {
	Name  string
	Ns    string
	Count int
}

type Outer struct {
	P   Profile
	Any interface{}
	L   []string
	M   map[string]int
	Ptr *Profile
}

type Meta struct {
	Name   string            `json:"name,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
}

type Secret struct {
	Meta `json:",inline"`
	Data map[string][]byte `json:"data,omitempty"`
	Type string            `json:"type,omitempty"`
}

type Tagged struct {
	A string `json:"a"`
	B int    `json:"b,omitempty"`
	C string `json:"-"`
	D float64
	E []int       `json:"e,omitempty"`
	F *Profile    `json:"f"`
	G interface{} `json:"g,omitempty"`
	H bool        `json:"h,omitempty"`
}

type WithTime struct {
	T  time.Time
	P  *time.Time
	N  *time.Time
	At interface{} `json:"at,omitempty"`
}

type Inner1 struct {
	X int
	Y int `json:"y"`
	Z int
}

type Inner2 struct {
	X int
	Y int
	W int `json:"Z"`
}

type Dom struct {
	Inner1
	*Inner2
	Z string `json:"z2"`
	V int
}

func ts(unix int64, nanos int64, name string, off int) time.Time {
	var loc *time.Location
	if name == "UTC" && off == 0 {
		loc = time.UTC
	} else {
		loc = time.FixedZone(name, off)
	}
	return time.Unix(unix, nanos).In(loc)
}

func args() map[string]any {
	prof := Profile{Name: "a", Ns: "b", Count: 3}
	return map[string]any{
		"nil":        nil,
		"true":       true,
		"false":      false,
		"i0":         0,
		"i7":         7,
		"i42":        42,
		"in7":        -7,
		"ibig":       1234567890123,
		"imin":       int64(math.MinInt64),
		"i64_255":    int64(255),
		"i65":        65,
		"i0x1F600":   0x1F600,
		"isur":       0xD800,
		"ihuge":      0x110000,
		"f0":         0.0,
		"fneg0":      math.Copysign(0, -1),
		"f1":         1.0,
		"f314":       3.14159,
		"f1e6":       1e6,
		"f1e21":      1e21,
		"f1e20":      1e20,
		"f1em5":      1e-5,
		"f1em7":      1e-7,
		"f0125":      0.125,
		"f2_5":       2.5,
		"fn1234":     -1234.5678,
		"fthird":     1.0 / 3.0,
		"fmax":       math.MaxFloat64,
		"fsmall":     5e-324,
		"f123456":    123456.0,
		"f1234567":   1234567.0,
		"fnan":       math.NaN(),
		"finf":       math.Inf(1),
		"fninf":      math.Inf(-1),
		"s_empty":    "",
		"s_hi":       "hi",
		"s_hello":    "héllo, 世界",
		"s_quote":    "a\"b\\c\n\t\x07\x7f",
		"s_html":     "<a href=\"x\">&</a>",
		"s_ls":       "x\u2028y\u2029z",
		"s_tick":     "a`b",
		"s_bom":      "\ufeffx",
		"s_emoji":    "😀☺",
		"s_ctrl":     "\x00\x1f",
		"b_hi":       []byte("hi"),
		"b_empty":    []byte{},
		"b_nil":      []byte(nil),
		"b_bin":      []byte{0, 1, 0xff, 0x80, 'a'},
		"sl_str":     []string{"a", "b c"},
		"sl_int":     []int{1, -2, 3},
		"sl_any":     []interface{}{1, "a", nil, 2.5, true},
		"sl_nil":     []string(nil),
		"sl_nilany":  []interface{}(nil),
		"sl_empty":   []string{},
		"sl_bytes":   [][]byte{[]byte("a"), nil},
		"sl_f":       []float64{1, 2.5, 1e21},
		"map_si":     map[string]int{"b": 2, "a": 1},
		"map_sany":   map[string]interface{}{"z": nil, "a": []interface{}{1.0, "x"}, "m": map[string]interface{}{"k": "v"}},
		"map_ss":     map[string]string{"k<": "v&", "": "e"},
		"map_nil":    map[string]int(nil),
		"map_empty":  map[string]string{},
		"map_bytes":  map[string][]byte{"key": []byte("val")},
		"st_prof":    prof,
		"st_outer":   Outer{P: prof, Any: 1.5, L: []string{"x"}, M: map[string]int{"k": 1}},
		"st_outer0":  Outer{},
		"pst_prof":   &prof,
		"pnil_prof":  (*Profile)(nil),
		"pst_outer":  &Outer{P: prof, Any: "s"},
		"psl_str":    &[]string{"p"},
		"pmap_si":    &map[string]int{"q": 1},
		"st_secret":  Secret{Meta: Meta{Name: "s1", Labels: map[string]string{"app": "x"}}, Data: map[string][]byte{"k": []byte("v")}, Type: "Opaque"},
		"st_secret0": Secret{},
		"st_tagged":  Tagged{A: "x", B: 0, C: "hidden", D: 2.5, E: nil, F: &prof, G: nil},
		"st_tagged1": Tagged{A: "", B: 5, D: 0, E: []int{1}, G: "g", H: true},
		"t_utc":      ts(1257894000, 0, "UTC", 0),
		"t_nano":     ts(1257894000, 123456789, "UTC", 0),
		"t_fixed":    ts(1257894000, 5000, "", 7200),
		"t_named":    ts(1257894000, 0, "PST", -8*3600),
		"t_zero":     time.Time{},
		"t_neg":      ts(-62135596800-86400*400, 0, "UTC", 0),
		"t_far":      ts(253402300800+86400*40, 0, "UTC", 0),
		"t_oddoff":   ts(1257894000, 0, "", 5*3600+30*60+15),
		"pt_utc":     func() *time.Time { t := ts(1257894000, 0, "UTC", 0); return &t }(),
		"pnil_time":  (*time.Time)(nil),
		"map_time":   map[string]time.Time{"a": ts(1257894000, 0, "UTC", 0), "b": ts(1257894000, 5000, "", 7200)},
		"sl_anytime": []interface{}{ts(1257894000, 0, "PST", -8*3600), nil},
		"st_time":    WithTime{T: ts(1257894000, 0, "UTC", 0), P: func() *time.Time { t := ts(1257894000, 1, "UTC", 0); return &t }(), At: ts(0, 0, "UTC", 0)},
		"st_dom":     Dom{Inner1: Inner1{1, 2, 3}, Inner2: &Inner2{4, 5, 6}, Z: "z", V: 7},
		"st_dom_nil": Dom{Inner1: Inner1{1, 2, 3}, Z: "z", V: 7},
	}
}

type fmtCase struct {
	Format   string   `json:"format"`
	Args     []string `json:"args"`
	Expected string   `json:"expected"`
}

type printCase struct {
	Args     []string `json:"args"`
	Sprint   string   `json:"sprint"`
	Sprintln string   `json:"sprintln"`
}

type jsonCase struct {
	Arg      string `json:"arg"`
	Expected string `json:"expected"`
	Indented string `json:"indented"`
	Raw      string `json:"raw"`
	Error    string `json:"error"`
}

// rawJSON is sprig's toRawJson: an Encoder without HTML escaping, the final
// newline trimmed.
func rawJSON(v interface{}) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&v); err != nil {
		return "error: " + err.Error()
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

type unmarshalCase struct {
	Input    string `json:"input"`
	Expected string `json:"expected"`
	Error    string `json:"error"`
}

type timeFormatCase struct {
	Time     string `json:"time"`
	Layout   string `json:"layout"`
	Expected string `json:"expected"`
}

type timeParseCase struct {
	Layout string `json:"layout"`
	Value  string `json:"value"`
	Unix   int64  `json:"unix"`
	Nanos  int    `json:"nanos"`
	Offset int    `json:"offset"`
	Zone2  string `json:"zone_name"`
	Error  string `json:"error"`
}

// keep holds padding allocations so that heap addresses differ between runs
// started with a different PAD; cases whose output changes are dropped.
var keep []any

func pad() {
	n, _ := strconv.Atoi(os.Getenv("PAD"))
	for i := 0; i < n; i++ {
		keep = append(keep, &Profile{Count: i}, &Outer{}, make([]byte, 8*(i%40+1)), time.FixedZone("", i))
	}
}

func main() {
	pad()
	a := args()
	ids := make([]string, 0, len(a))
	for k := range a {
		ids = append(ids, k)
	}
	sortStrings(ids)

	verbs := []string{"v", "+v", "#v", "T", "t", "d", "b", "o", "O", "x", "X", "c", "q", "U", "e", "E", "f", "F", "g", "G", "s", "p", "w"}
	flagSets := []string{"", "+", "-", "#", " ", "0", "8", "-8", "08", ".3", "8.3", "+.3", "# ", ".0", "+08"}
	var fcases []fmtCase
	for _, id := range ids {
		v := a[id]
		for _, verb := range verbs {
			for _, fl := range flagSets {
				if len(verb) == 2 && fl != "" && fl != "8" {
					continue
				}
				format := "%" + fl + verb
				if verb == "p" && fl != "" {
					continue
				}
				out := fmt.Sprintf(format, v)
				fcases = append(fcases, fmtCase{Format: format, Args: []string{id}, Expected: out})
			}
		}
	}
	special := []struct {
		f    string
		args []string
	}{
		{"%", nil}, {"%!", nil}, {"%z", []string{"i7"}}, {"%d %d", []string{"i7"}}, {"%d", []string{"i7", "s_hi"}},
		{"%d", []string{"i7", "s_hi", "nil", "sl_int"}}, {"%[2]d %[1]d", []string{"i7", "i42"}}, {"%[3]d", []string{"i7", "i42"}},
		{"%[0]d", []string{"i7"}}, {"%[x]d", []string{"i7"}}, {"%[2]*[1]d", []string{"i7", "i42"}}, {"%*d", []string{"i7", "i42"}},
		{"%-*d|", []string{"i7", "i42"}}, {"%*d", []string{"in7", "i42"}}, {"%*d", []string{"s_hi", "i42"}}, {"%.*f", []string{"i7", "f314"}},
		{"%.*f", []string{"in7", "f314"}}, {"%.*d", []string{"s_hi", "i42"}}, {"%*d", []string{"ibig", "i42"}}, {"%5", nil}, {"%.", nil}, {"%-", nil},
		{"100%%", nil}, {"%5%", nil}, {"%[1]d %d %d", []string{"i7", "i42"}}, {"%[2]d %d", []string{"i7", "i42", "i65"}},
		{"%.2s|%.10s|%.0s", []string{"s_hello", "s_hello", "s_hello"}}, {"%v %v", []string{"nil", "nil"}}, {"%[1]v %[1]T", []string{"map_si"}},
		{"%s", nil}, {"no verbs", []string{"i7"}}, {"%!d", []string{"i7"}}, {"%ä", []string{"i7"}}, {"%3.2[1]d", []string{"i7"}}, {"%[1]3d", []string{"i7"}},
		{"%[1].2d", []string{"i7"}}, {"%[2]", []string{"i7"}}, {"%.[2]d", []string{"i7", "i42"}}, {"%10.4v|%-10v|", []string{"s_hello", "f314"}},
		{"%x %X % x %#x %# x", []string{"s_hi", "s_hi", "b_bin", "b_bin", "s_hello"}}, {"%08.3f|%-08.3f|%+08d|% 8d", []string{"fn1234", "f314", "i42", "in7"}},
		{"%6.2f%%", []string{"f314"}}, {"%#o %#O %O", []string{"i0", "i42", "in7"}}, {"%#b %b", []string{"i7", "f1"}}, {"%U %#U %#U %#U", []string{"i0x1F600", "i65", "isur", "ihuge"}},
		{"%c%c%c", []string{"i65", "i0x1F600", "ihuge"}}, {"%q %+q %#q %#+q", []string{"s_hello", "s_hello", "s_tick", "s_hi"}}, {"%x", []string{"fthird"}},
		{"%#g %#.3g %#e %#x %#.0f %#.0e", []string{"f1", "f1e6", "f1", "f1", "f2_5", "f2_5"}}, {"%.3x %.0X %.20x", []string{"f314", "f1e6", "fthird"}},
		{"%020.3e|%-20.3E|%+g", []string{"fn1234", "f1e21", "f0"}}, {"%10v|%-10v|%010v", []string{"sl_int", "map_si", "st_prof"}},
		{"%5t|%-6t|%05t", []string{"true", "false", "true"}}, {"%05s|%.1q|%5.1x", []string{"s_hi", "s_hello", "s_hello"}}, {"%08q", []string{"s_hi"}},
		{"%d %s", []string{"sl_any", "sl_any"}}, {"%x %X %q", []string{"sl_str", "sl_str", "sl_str"}}, {"%d", []string{"map_sany"}},
		{"%6.2v", []string{"sl_f"}}, {"%+d %+d", []string{"i0", "in7"}}, {"%.0d|%5.0d|%-5.0d|", []string{"i0", "i0", "i0"}}, {"%.3d|%08.3d|%-8.3d|", []string{"i7", "in7", "i42"}},
		{"%e %E %.0e %.20e", []string{"f0", "fmax", "f2_5", "fsmall"}}, {"%f %.1f %.2f %.0f %.0f", []string{"f1e21", "f0125", "f0125", "f2_5", "fthird"}},
		{"%g %G %.3g %.10g %.1g", []string{"fmax", "fsmall", "f1234567", "fthird", "f2_5"}}, {"% d|% d|%+ d", []string{"i7", "in7", "i7"}},
	}
	for _, s := range special {
		vals := make([]any, len(s.args))
		for i, id := range s.args {
			vals[i] = a[id]
		}
		fcases = append(fcases, fmtCase{Format: s.f, Args: append([]string{}, s.args...), Expected: fmt.Sprintf(s.f, vals...)})
	}

	printLists := [][]string{
		{}, {"i7"}, {"i7", "i42"}, {"s_hi", "i7"}, {"i7", "s_hi", "i42"}, {"s_hi", "s_hi"}, {"nil", "nil"}, {"nil", "s_hi", "nil"},
		{"sl_int", "map_si", "st_prof", "pst_prof", "pnil_prof"}, {"b_hi", "s_empty", "f1e6"}, {"t_utc", "t_fixed", "t_named"},
		{"true", "fnan", "finf", "fneg0"}, {"st_outer", "st_outer0", "pst_outer"}, {"sl_any", "map_sany", "sl_bytes", "map_bytes"},
		{"st_secret", "st_tagged", "pt_utc", "pnil_time", "t_zero"},
	}
	pr := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 300; i++ {
		l := make([]string, pr.IntN(5))
		for k := range l {
			l[k] = ids[pr.IntN(len(ids))]
			if pr.IntN(3) == 0 {
				l[k] = []string{"s_hi", "s_empty", "nil", "i7", "b_hi"}[pr.IntN(5)]
			}
		}
		printLists = append(printLists, l)
	}
	var pcases []printCase
	for _, l := range printLists {
		vals := make([]any, len(l))
		for i, id := range l {
			vals[i] = a[id]
		}
		pcases = append(pcases, printCase{Args: l, Sprint: fmt.Sprint(vals...), Sprintln: fmt.Sprintln(vals...)})
	}

	var jcases []jsonCase
	for _, id := range ids {
		c := jsonCase{Arg: id}
		b, err := json.Marshal(a[id])
		if err != nil {
			c.Error = err.Error()
		} else {
			c.Expected = string(b)
			ib, _ := json.MarshalIndent(a[id], ">", "\t")
			c.Indented = string(ib)
			c.Raw = rawJSON(a[id])
		}
		jcases = append(jcases, c)
	}

	inputs := []string{
		``, ` `, `x`, `nul`, `nulx`, `tru`, `trux`, `fals`, `null`, `true`, ` false `, `1`, `-0`, `-`, `-x`, `01`, `1.`, `1.x`, `1e`, `1e+`, `1ex`, `1E-2`,
		`1e999`, `-1e999`, `123456789012345678901234567890`, `0.1`, `"abc"`, `"a\"b\\c\/d\b\f\n\r\t"`, `"\u00e9\ud83d\ude00"`, `"\ud800"`, `"\ud800\u0041"`, `"\udc00x"`,
		`"\x"`, `"\u12g4"`, "\"a\nb\"", `"abc`, `"é"`, `[]`, `[1,2]`, `[1,]`, `[1 2]`, `[`, `[1`, `{}`, `{"a":1}`, `{"a":1,}`, `{"a" 1}`, `{"a":1 "b":2}`, `{1:2}`,
		`{"a":1,"a":2}`, `{"b":[true,null,{"c":"d"}],"a":-1.5e3}`, `{`, `{"a"`, `{"a":`, `1 2`, `[1] x`, `é`, `'x'`, `{"<":"&"}`, `  [ 1 , { "x" : [ ] } ]  `,
		`[1e21, 1e-7, 100, 0.000001, 1.5e300]`, `"\u2028"`, `{"a":"\u003c"}`, `tRue`, `nan`, `[-]`, `[0x1]`, `{"a":1}}`, "\t\r\n1\t", `[1e400, x]`, `[1e400, 2e400]`, `{"a":1e400,"b":[-1e999]}`, `1e-400`, `-1e-400`, `[1e400`,
	}
	var ucases []unmarshalCase
	for _, in := range inputs {
		var x interface{}
		err := json.Unmarshal([]byte(in), &x)
		c := unmarshalCase{Input: in}
		if err != nil {
			c.Error = err.Error()
		} else {
			b, err2 := json.Marshal(x)
			if err2 != nil {
				c.Error = "remarshal: " + err2.Error()
			}
			c.Expected = string(b)
		}
		ucases = append(ucases, c)
	}

	times := []string{"t_utc", "t_nano", "t_fixed", "t_named", "t_zero", "t_neg", "t_far", "t_oddoff"}
	extraTimes := map[string]time.Time{
		"t_am":   ts(1257840000+3600*0+60*5+7, 7000000, "UTC", 0),
		"t_noon": ts(1257854400, 0, "UTC", 0),
		"t_pm":   ts(1257894000+3600, 0, "", -3*3600-1800),
		"t_jan1": ts(1230768000, 0, "UTC", 0),
		"t_leap": ts(1330473600+86400*300, 999999999, "UTC", 0),
		"t_wed":  ts(1700000000, 100, "", 3600),
	}
	for k, v := range extraTimes {
		a[k] = v
	}
	for _, k := range []string{"t_am", "t_noon", "t_pm", "t_jan1", "t_leap", "t_wed"} {
		times = append(times, k)
	}
	layouts := []string{
		time.Layout, time.ANSIC, time.UnixDate, time.RubyDate, time.RFC822, time.RFC822Z, time.RFC850, time.RFC1123, time.RFC1123Z,
		time.RFC3339, time.RFC3339Nano, time.Kitchen, time.Stamp, time.StampMilli, time.StampMicro, time.StampNano, time.DateTime, time.DateOnly, time.TimeOnly,
		"2006 06 01 1 Jan January 02 2 _2 __2 002 Mon Monday", "15 03 3 04 4 05 5 PM pm", "MST Z07:00 -0700 Z0700 -07 Z07 -070000 Z070000 -07:00:00 Z07:00:00 -07:00",
		".000 .999 ,000 ,999 .0 .9 .000000 .999999999 .0000000000", "05.000 05,999 5.9", "Janx Monx Jan1 Mon1 January Monday", "2006-01-02T15:04:05.999999999Z07:00",
		"20060102150405", "_2006 __2006", "Jan _2", "1/2/06 3:04pm", "no elements", "", "0102 1504", "PMpm", "2006-002", ".99a .00x", "-07:000",
	}
	var tfcases []timeFormatCase
	for _, tid := range times {
		t := a[tid].(time.Time)
		for _, l := range layouts {
			tfcases = append(tfcases, timeFormatCase{Time: tid, Layout: l, Expected: t.Format(l)})
		}
	}
	parses := [][2]string{
		{time.RFC3339, "2009-11-10T23:00:00Z"}, {time.RFC3339, "2009-11-10T23:00:00+02:00"}, {time.RFC3339, "2009-11-10T23:00:00.123+02:00"},
		{time.RFC3339Nano, "2009-11-10T23:00:00.123456789-07:30"}, {time.RFC3339, "2009-11-10T23:00:00+00:00"}, {time.RFC3339, "2009-11-10 23:00:00Z"},
		{time.RFC3339, "2009-11-10T23:00:00"}, {time.DateOnly, "2009-11-10"}, {time.DateOnly, "2009-1-10"}, {time.DateOnly, "2009-02-29"}, {time.DateOnly, "2008-02-29"},
		{time.DateOnly, "2009-13-01"}, {time.DateOnly, "2009-11-31"}, {time.DateOnly, "2009-11-10x"}, {time.DateOnly, "209-11-10"}, {time.DateTime, "2009-11-10 24:00:00"},
		{time.DateTime, "2009-11-10 23:60:00"}, {time.DateTime, "2009-11-10 23:00:60"}, {time.DateTime, "2009-11-10 23:00:01.5"}, {time.DateTime, "2009-11-10 23:00:01,25"},
		{time.RFC1123, "Tue, 10 Nov 2009 23:00:00 UTC"}, {time.RFC1123, "Tue, 10 Nov 2009 23:00:00 PST"}, {time.RFC1123, "tue, 10 nov 2009 23:00:00 GMT"},
		{time.RFC1123, "Tue, 10 Nov 2009 23:00:00 GMT+3"}, {time.RFC1123Z, "Tue, 10 Nov 2009 23:00:00 -0800"}, {time.RFC1123Z, "Tue, 10 Nov 2009 23:00:00 0800"},
		{time.Kitchen, "3:04PM"}, {time.Kitchen, "12:04AM"}, {time.Kitchen, "12:04PM"}, {time.Kitchen, "3:04XM"}, {time.Kitchen, "13:04PM"}, {"3:04pm", "3:04am"},
		{time.ANSIC, "Tue Nov 10 23:00:00 2009"}, {time.ANSIC, "Tue Nov  1 23:00:00 2009"}, {time.ANSIC, "Xyz Nov 10 23:00:00 2009"},
		{time.UnixDate, "Tue Nov 10 23:00:00 CEST 2009"}, {time.UnixDate, "Tue Nov 10 23:00:00 ChST 2009"}, {time.UnixDate, "Tue Nov 10 23:00:00 +03 2009"},
		{time.UnixDate, "Tue Nov 10 23:00:00 Abc 2009"}, {time.RubyDate, "Tue Nov 10 23:00:00 -0000 2009"}, {"2006-002", "2009-314"}, {"2006-002", "2008-060"},
		{"2006-002", "2009-366"}, {"2006-002 01", "2009-314 10"}, {"2006-002 01", "2009-314 11"}, {"2006-__2", "2009- 14"}, {"06-01-02", "69-01-02"}, {"06-01-02", "68-01-02"},
		{"2006-01-02 15:04:05.000", "2009-11-10 23:00:00.12"}, {"2006-01-02 15:04:05.000", "2009-11-10 23:00:00.123"}, {"2006-01-02 15:04:05.999", "2009-11-10 23:00:00"},
		{"2006-01-02 15:04:05.999", "2009-11-10 23:00:00.1234567891"}, {"15:04:05 -07:00:00", "23:00:00 +01:02:03"}, {"15:04:05 Z070000", "23:00:00 -010203"},
		{"15:04:05 -07", "23:00:00 +05"}, {"15:04:05 Z07:00", "23:00:00 +25:00"}, {"15:04:05 Z07:00", "23:00:00 +01:61"}, {"Jan 2, 2006", "January 2, 2006"},
		{"January 2, 2006", "Feb 2, 2006"}, {"January 2, 2006", "february 29, 2008"}, {"Monday Jan 2", "Tuesday Nov 10"}, {"2006  01", "2009 11"}, {"2006 01", "2009    11"},
		{"", ""}, {"", "x"}, {"x", "y"}, {"2006", ""}, {"Jan _2 15:04:05.000000", "Nov  1 10:00:00.000001"}, {time.StampNano, "Nov 10 23:00:00.123456789"},
		{"2006-01-02 MST", "2009-11-10 UTC"}, {"2006-01-02 MST", "2009-11-10 WITA"}, {"2006-01-02 MST", "2009-11-10 ABCDT"}, {"2006-01-02 MST", "2009-11-10 ABCDE"},
		{"2006-01-02 -0700 MST", "2009-11-10 +0000 UTC"}, {"2006-01-02 -0700 MST", "2009-11-10 +0100 CET"}, {"2006-01-02 -0700 MST", "2009-11-10 +0000 GMT"},
		{"2006-01-02 15:04:05.999999999 -0700 MST", "2009-11-10 23:00:00.5 +0000 UTC"}, {"02 Jan 06 15:04 MST", "10 Nov 09 23:00 \"x\""}, {"2006-01-02", "2009-11-1é"},
		{"3 PM", "1 pm"}, {"01/02", "11/10"}, {"1 2", "11 10"}, {"2006.01", "2009.1x"},
	}
	var tpcases []timeParseCase
	for _, p := range parses {
		c := timeParseCase{Layout: p[0], Value: p[1]}
		t, err := time.ParseInLocation(p[0], p[1], time.Local)
		if err != nil {
			c.Error = err.Error()
		} else {
			c.Unix = t.Unix()
			c.Nanos = t.Nanosecond()
			c.Zone2, c.Offset = t.Zone()
		}
		tpcases = append(tpcases, c)
	}

	fcases, ucases, tfcases, tpcases = randomCases(a, fcases, ucases, tfcases, tpcases)
	jfcases := jsonFmtCases()
	zcases, pzcases := zoneCases(parses)
	mcases := methodCases(a)

	w := os.Stdout
	fmt.Fprintf(w, "{\"go\": %q,\n", runtime.Version())
	section(w, "sprintf", fcases, false)
	section(w, "sprint", pcases, false)
	section(w, "json", jcases, false)
	section(w, "unmarshal", ucases, false)
	section(w, "time_format", tfcases, false)
	section(w, "time_parse", tpcases, false)
	section(w, "json_fmt", jfcases, false)
	section(w, "zones", zcases, false)
	section(w, "parse_in_zone", pzcases, false)
	section(w, "methods", mcases, true)
	fmt.Fprintln(w, "}")
}

// section writes one array member with one case per line.
func section[T any](w *os.File, name string, cases []T, last bool) {
	fmt.Fprintf(w, "%q: [\n", name)
	for i, c := range cases {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(c); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		line := bytes.TrimRight(buf.Bytes(), "\n")
		sep := ","
		if i == len(cases)-1 {
			sep = ""
		}
		fmt.Fprintf(w, "%s%s\n", line, sep)
	}
	end := "],"
	if last {
		end = "]"
	}
	fmt.Fprintln(w, end)
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// randomCases adds seeded random cases: format strings, floats, JSON inputs,
// layouts and times. Dynamic argument ids: "F:<float64 bits, hex>",
// "I:<int>", "T:<unix>:<nanos>:<offset>:<zone>".
func randomCases(a map[string]any, fcases []fmtCase, ucases []unmarshalCase, tfcases []timeFormatCase, tpcases []timeParseCase) ([]fmtCase, []unmarshalCase, []timeFormatCase, []timeParseCase) {
	r := rand.New(rand.NewPCG(1, 2))
	fixed := []string{"nil", "true", "i0", "i7", "in7", "ibig", "imin", "i65", "i0x1F600", "f0", "fneg0", "f314", "f1e21", "fnan", "fninf",
		"s_empty", "s_hi", "s_hello", "s_quote", "s_tick", "s_emoji", "b_hi", "b_bin", "b_nil", "sl_str", "sl_int", "sl_any", "sl_nil", "sl_bytes",
		"map_si", "map_sany", "map_nil", "map_bytes", "st_prof", "st_outer", "pst_prof", "pnil_prof", "st_secret", "t_utc", "t_fixed", "pnil_time", "st_dom_nil"}
	randFloat := func() float64 {
		switch r.IntN(7) {
		case 0:
			return math.Float64frombits(r.Uint64())
		case 1:
			return float64(r.IntN(2000000)-1000000) / math.Pow10(r.IntN(12))
		case 2:
			return math.Pow10(r.IntN(600) - 300)
		case 3:
			return (float64(r.IntN(100000)) + 0.5) / math.Pow(2, float64(r.IntN(12)))
		case 4:
			return r.NormFloat64() * math.Pow10(r.IntN(40)-20)
		case 5:
			return float64(r.Int64())
		default:
			return math.Float64frombits(uint64(r.IntN(1 << 20)))
		}
	}
	floatID := func(f float64) string { return fmt.Sprintf("F:%x", math.Float64bits(f)) }
	argID := func() string {
		switch r.IntN(5) {
		case 0:
			return floatID(randFloat())
		case 1:
			return fmt.Sprintf("I:%d", r.IntN(40)-20)
		default:
			return fixed[r.IntN(len(fixed))]
		}
	}
	value := func(id string) any {
		if v, ok := a[id]; ok {
			return v
		}
		if strings.HasPrefix(id, "F:") {
			b, _ := strconv.ParseUint(id[2:], 16, 64)
			return math.Float64frombits(b)
		}
		n, _ := strconv.Atoi(id[2:])
		return n
	}
	verbs := "vvvdsqxXtTbcoOUeEfFgG%wy"
	for i := 0; i < 3000; i++ {
		var f strings.Builder
		var ids []string
		n := 1 + r.IntN(3)
		for j := 0; j < n; j++ {
			if r.IntN(3) == 0 {
				f.WriteString([]string{"x", " ", "é", "[", "]", "%%"}[r.IntN(6)])
			}
			f.WriteByte('%')
			for k := r.IntN(4); k > 0; k-- {
				f.WriteByte("#0+- "[r.IntN(5)])
			}
			if r.IntN(8) == 0 {
				fmt.Fprintf(&f, "[%d]", r.IntN(4))
			}
			switch r.IntN(4) {
			case 0:
				fmt.Fprintf(&f, "%d", r.IntN(14))
			case 1:
				f.WriteByte('*')
				ids = append(ids, fmt.Sprintf("I:%d", r.IntN(30)-15))
			}
			switch r.IntN(4) {
			case 0:
				fmt.Fprintf(&f, ".%d", r.IntN(14))
			case 1:
				f.WriteString(".*")
				ids = append(ids, fmt.Sprintf("I:%d", r.IntN(30)-15))
			case 2:
				f.WriteString(".")
			}
			if r.IntN(30) != 0 {
				f.WriteByte(verbs[r.IntN(len(verbs))])
			}
			ids = append(ids, argID())
		}
		if r.IntN(6) == 0 {
			ids = append(ids, argID())
		}
		if r.IntN(6) == 0 && len(ids) > 0 {
			ids = ids[:len(ids)-1]
		}
		vals := make([]any, len(ids))
		for k, id := range ids {
			vals[k] = value(id)
		}
		fcases = append(fcases, fmtCase{Format: f.String(), Args: ids, Expected: fmt.Sprintf(f.String(), vals...)})
	}
	randString := func() string {
		var b strings.Builder
		for k := r.IntN(8); k > 0; k-- {
			switch r.IntN(6) {
			case 0:
				b.WriteRune(rune(r.IntN(0x80)))
			case 1:
				b.WriteRune(rune(0x80 + r.IntN(0x780)))
			case 2:
				b.WriteRune(rune(0x800 + r.IntN(0xD000)))
			case 3:
				b.WriteRune(rune(0xE000 + r.IntN(0x2000)))
			case 4:
				b.WriteRune(rune(0x10000 + r.IntN(0x100000)))
			default:
				b.WriteString([]string{"\\", "\"", "'", "`", "\u2028", "\ufeff", "\ufffd", "\u00ad", "\u200b", "<", "&"}[r.IntN(11)])
			}
		}
		return b.String()
	}
	strFormats := []string{"%s", "%q", "%+q", "%#q", "%#+q", "%x", "% X", "%#x", "%.2s", "%5.3q", "%-6s|", "%v", "%#v", "%T", "%d", "%.1x", "%08q"}
	for i := 0; i < 1500; i++ {
		var id string
		var v any
		if r.IntN(3) == 0 {
			raw := make([]byte, r.IntN(7))
			for k := range raw {
				raw[k] = byte(r.IntN(256))
			}
			if r.IntN(2) == 0 {
				raw = append(raw, []byte(randString())...)
			}
			id, v = fmt.Sprintf("B:%x", raw), raw
		} else {
			str := randString()
			id, v = fmt.Sprintf("S:%x", str), str
		}
		ff := strFormats[r.IntN(len(strFormats))]
		fcases = append(fcases, fmtCase{Format: ff, Args: []string{id}, Expected: fmt.Sprintf(ff, v)})
	}
	for i := 0; i < 300; i++ {
		c := r.IntN(0x110000)
		if r.IntN(3) == 0 {
			c = r.IntN(0x3000)
		}
		ff := []string{"%c", "%q", "%+q", "%U", "%#U", "%#.6U", "%08c", "%-4q|"}[r.IntN(8)]
		fcases = append(fcases, fmtCase{Format: ff, Args: []string{fmt.Sprintf("I:%d", c)}, Expected: fmt.Sprintf(ff, c)})
	}

	floatFormats := []string{"%v", "%e", "%E", "%f", "%g", "%G", "%x", "%X", "%b", "%.0e", "%.1e", "%.3e", "%.17e", "%.0f", "%.1f", "%.2f", "%.5f", "%.20f",
		"%.0g", "%.1g", "%.3g", "%.17g", "%#g", "%#.3g", "%#v", "%+.3x", "%.0x", "%.13x", "%#e", "%#f", "%#.0f", "%10.3e", "%-12.4g|", "%012.3f"}
	for i := 0; i < 1500; i++ {
		x := randFloat()
		id := floatID(x)
		ff := floatFormats[r.IntN(len(floatFormats))]
		fcases = append(fcases, fmtCase{Format: ff, Args: []string{id}, Expected: fmt.Sprintf(ff, x)})
	}

	alpha := "[]{}\":,0123456789eE.+- tfnrulasx\\/"
	for i := 0; i < 1500; i++ {
		var b strings.Builder
		for k := r.IntN(12); k > 0; k-- {
			b.WriteByte(alpha[r.IntN(len(alpha))])
		}
		in := b.String()
		var x interface{}
		c := unmarshalCase{Input: in}
		if err := json.Unmarshal([]byte(in), &x); err != nil {
			c.Error = err.Error()
		} else {
			out, err := json.Marshal(x)
			if err != nil {
				c.Error = "remarshal: " + err.Error()
			}
			c.Expected = string(out)
		}
		ucases = append(ucases, c)
	}
	for i := 0; i < 300; i++ {
		x := randFloat()
		if math.IsNaN(x) || math.IsInf(x, 0) {
			continue
		}
		in := strconv.FormatFloat(x, "eEfg"[r.IntN(4)], -1, 64)
		var v interface{}
		c := unmarshalCase{Input: in}
		if err := json.Unmarshal([]byte(in), &v); err != nil {
			c.Error = err.Error()
		} else {
			out, _ := json.Marshal(v)
			c.Expected = string(out)
		}
		ucases = append(ucases, c)
	}

	elems := []string{"2006", "06", "01", "1", "Jan", "January", "02", "2", "_2", "__2", "002", "Mon", "Monday", "15", "03", "3", "04", "4", "05", "5",
		"PM", "pm", "MST", "Z07:00", "-0700", "Z0700", "-07", "Z07", "-07:00", "-070000", "Z07:00:00", ".000", ".999", ",000", ",999999999", ".0", ".9", "T", " ", "-", ":", "/", "x"}
	for i := 0; i < 1500; i++ {
		var l strings.Builder
		for k := 1 + r.IntN(6); k > 0; k-- {
			l.WriteString(elems[r.IntN(len(elems))])
		}
		layout := l.String()
		unix := r.Int64N(253402300799+62135596800) - 62135596800
		nanos := r.IntN(1000000000)
		if r.IntN(3) == 0 {
			nanos = r.IntN(1000) * 1000000
		}
		var off int
		name := ""
		switch r.IntN(4) {
		case 0:
			name = "UTC"
		case 1:
			off = (r.IntN(28*4) - 12*4) * 900
		case 2:
			off = r.IntN(100000) - 50000
		default:
			off = (r.IntN(28) - 12) * 3600
			name = "XYZ"
		}
		t := ts(unix, int64(nanos), name, off)
		tid := fmt.Sprintf("T:%d:%d:%d:%s", unix, nanos, off, name)
		text := t.Format(layout)
		tfcases = append(tfcases, timeFormatCase{Time: tid, Layout: layout, Expected: text})
		c := timeParseCase{Layout: layout, Value: text}
		if p, err := time.ParseInLocation(layout, text, time.Local); err != nil {
			c.Error = err.Error()
		} else {
			c.Unix = p.Unix()
			c.Nanos = p.Nanosecond()
			c.Zone2, c.Offset = p.Zone()
		}
		tpcases = append(tpcases, c)
	}
	return fcases, ucases, tfcases, tpcases
}

type jsonFmtCase struct {
	Input    string   `json:"input"`
	Formats  []string `json:"formats"`
	Outputs  []string `json:"outputs"`
	Marshal  string   `json:"marshal"`
	Indented string   `json:"indented"`
	Sprint   string   `json:"sprint"`
}

// jsonFmtCases decodes seeded random JSON documents into interface{} and
// records how fmt and encoding/json print the result.
func jsonFmtCases() []jsonFmtCase {
	r := rand.New(rand.NewPCG(3, 4))
	strs := []string{"", "a", "b c", "<&>", "é", "\u2028", "\n\t", "\"q\"", "x`y", "日本", "\u0001", "1", "true", "%d"}
	var gen func(depth int) string
	gen = func(depth int) string {
		k := r.IntN(10)
		if depth > 3 {
			k = r.IntN(6)
		}
		switch k {
		case 0:
			return "null"
		case 1:
			return []string{"true", "false"}[r.IntN(2)]
		case 2:
			return strconv.Itoa(r.IntN(2000) - 1000)
		case 3:
			return strconv.FormatFloat(r.NormFloat64()*math.Pow10(r.IntN(50)-25), 'g', -1, 64)
		case 4, 5:
			b, _ := json.Marshal(strs[r.IntN(len(strs))])
			return string(b)
		case 6, 7:
			n := r.IntN(4)
			parts := make([]string, n)
			for i := range parts {
				parts[i] = gen(depth + 1)
			}
			return "[" + strings.Join(parts, ",") + "]"
		default:
			n := r.IntN(4)
			parts := make([]string, n)
			for i := range parts {
				key, _ := json.Marshal(strs[r.IntN(len(strs))])
				parts[i] = string(key) + ":" + gen(depth+1)
			}
			return "{" + strings.Join(parts, ",") + "}"
		}
	}
	formats := []string{"%v", "%+v", "%#v", "%d", "%s", "%q", "%x", "%X", "%T", "%5v", "%-8.3v", "%e", "%t", "%08.2f", "%+q", "%#x"}
	var out []jsonFmtCase
	for i := 0; i < 400; i++ {
		in := gen(0)
		var x interface{}
		if err := json.Unmarshal([]byte(in), &x); err != nil {
			continue
		}
		c := jsonFmtCase{Input: in, Formats: formats}
		for _, f := range formats {
			c.Outputs = append(c.Outputs, fmt.Sprintf(f, x))
		}
		b, _ := json.Marshal(x)
		c.Marshal = string(b)
		ib, _ := json.MarshalIndent(x, "", "  ")
		c.Indented = string(ib)
		c.Sprint = fmt.Sprint(x, x, "s", x)
		out = append(out, c)
	}
	return out
}

type zoneCase struct {
	Name   string `json:"name"`
	Abbrev string `json:"abbrev"`
	Offset int    `json:"offset"`
	Error  string `json:"error"`
}

type parseZoneCase struct {
	Zone string `json:"zone"`
	timeParseCase
}

// zoneCases records LoadLocation for zones that need no database (and some
// that do not exist), and ParseInLocation in two fixed zones.
func zoneCases(parses [][2]string) ([]zoneCase, []parseZoneCase) {
	names := []string{"", "UTC", "Etc/UTC", "UCT", "Etc/UCT", "Universal", "Etc/Universal", "Zulu", "Etc/Zulu", "GMT", "Etc/GMT", "GMT0", "Etc/GMT0",
		"GMT+0", "GMT-0", "Etc/GMT+0", "Etc/GMT-0", "Greenwich", "Etc/Greenwich", "Etc/GMT-2", "Etc/GMT+5", "Etc/GMT-14", "Etc/GMT+12", "Etc/GMT-10",
		"Etc/GMT+13", "Etc/GMT-15", "Etc/GMT+05", "Etc/GMT+", "Nowhere/Foo", "Etc/GMT5", "utc"}
	var zs []zoneCase
	for _, n := range names {
		c := zoneCase{Name: n}
		loc, err := time.LoadLocation(n)
		if err != nil {
			c.Error = err.Error()
		} else {
			c.Abbrev, c.Offset = time.Unix(1257894000, 0).In(loc).Zone()
		}
		zs = append(zs, c)
	}
	r := rand.New(rand.NewPCG(9, 10))
	elems := []string{"2006", "01", "Jan", "02", "_2", "002", "Mon", "15", "03", "04", "05", "PM", "MST", "Z07:00", "-0700", "-07", ".000", ".999", " ", "-", ":"}
	for i := 0; i < 300; i++ {
		var l strings.Builder
		for k := 2 + r.IntN(6); k > 0; k-- {
			l.WriteString(elems[r.IntN(len(elems))])
		}
		off := []int{0, 7200, -18000, 3600, 5400}[r.IntN(5)]
		name := []string{"", "+02", "-05", "GMT", "XYZ", "UTC"}[r.IntN(6)]
		t := ts(r.Int64N(4000000000)-1000000000, int64(r.IntN(1000000000)), name, off)
		text := t.Format(l.String())
		parses = append(parses, [2]string{l.String(), text})
	}
	var ps []parseZoneCase
	for _, zone := range []string{"Etc/GMT-2", "Etc/GMT+5", "GMT"} {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			panic(err)
		}
		extra := [][2]string{{"2006-01-02 15:04 MST", "2009-11-10 23:00 +02"}, {"2006-01-02 15:04 MST", "2009-11-10 23:00 -05"},
			{"2006-01-02 15:04 -0700", "2009-11-10 23:00 +0200"}, {"2006-01-02 15:04 -0700 MST", "2009-11-10 23:00 +0200 +03"},
			{"2006-01-02 15:04 MST", "2009-11-10 23:00 GMT"}, {"2006-01-02 15:04 -0700", "2009-11-10 23:00 -0500"}}
		for _, p := range append(extra, parses...) {
			c := parseZoneCase{Zone: zone, timeParseCase: timeParseCase{Layout: p[0], Value: p[1]}}
			t, err := time.ParseInLocation(p[0], p[1], loc)
			if err != nil {
				c.Error = err.Error()
			} else {
				c.Unix = t.Unix()
				c.Nanos = t.Nanosecond()
				c.Zone2, c.Offset = t.Zone()
			}
			ps = append(ps, c)
		}
	}
	return zs, ps
}

type methodCase struct {
	Time     string   `json:"time"`
	Method   string   `json:"method"`
	Args     []string `json:"args"`
	Expected string   `json:"expected"`
}

// methodCases calls time.Time methods; expected is fmt's "%v|%T" of the result.
func methodCases(a map[string]any) []methodCase {
	r := rand.New(rand.NewPCG(7, 8))
	times := []string{"t_utc", "t_nano", "t_fixed", "t_named", "t_zero", "t_neg", "t_far", "t_oddoff", "t_leap", "t_wed", "t_pm"}
	var out []methodCase
	add := func(tid, m string, args []string, v any) {
		out = append(out, methodCase{Time: tid, Method: m, Args: args, Expected: fmt.Sprintf("%v|%T", v, v)})
	}
	for _, tid := range times {
		t := a[tid].(time.Time)
		add(tid, "Unix", nil, t.Unix())
		add(tid, "UnixMilli", nil, t.UnixMilli())
		add(tid, "UnixMicro", nil, t.UnixMicro())
		add(tid, "UnixNano", nil, t.UnixNano())
		add(tid, "Year", nil, t.Year())
		add(tid, "Day", nil, t.Day())
		add(tid, "Hour", nil, t.Hour())
		add(tid, "Minute", nil, t.Minute())
		add(tid, "Second", nil, t.Second())
		add(tid, "Nanosecond", nil, t.Nanosecond())
		add(tid, "YearDay", nil, t.YearDay())
		add(tid, "String", nil, t.String())
		add(tid, "IsZero", nil, t.IsZero())
		add(tid, "UTC", nil, t.UTC())
		add(tid, "Local", nil, t.Local())
		add(tid, "Format", []string{"s_layout"}, t.Format(time.RFC1123Z))
		for _, uid := range []string{"t_utc", "t_fixed", "t_zero"} {
			u := a[uid].(time.Time)
			add(tid, "Equal", []string{uid}, t.Equal(u))
			add(tid, "Before", []string{uid}, t.Before(u))
			add(tid, "After", []string{uid}, t.After(u))
		}
		for k := 0; k < 12; k++ {
			y, m, d := r.IntN(5)-2, r.IntN(30)-15, r.IntN(800)-400
			add(tid, "AddDate", []string{fmt.Sprintf("I:%d", y), fmt.Sprintf("I:%d", m), fmt.Sprintf("I:%d", d)}, t.AddDate(y, m, d))
		}
	}
	return out
}
