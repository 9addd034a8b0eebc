import json, subprocess, sys, os
def record(cases, out):
    proc = subprocess.Popen(['/work/main/tools/template-oracle/template-oracle','serve'], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=dict(os.environ, TZ='UTC'), text=True)
    res=[]
    for i,(tpl,data) in enumerate(cases):
        proc.stdin.write(json.dumps({"template":tpl,"data":data})+"\n"); proc.stdin.flush()
        r=json.loads(proc.stdout.readline())
        c={"name":"t%04d"%i,"template":tpl,"data":data}
        if r.get("error") is not None: c["error"]=r["error"]
        else: c["output"]=r["output"]
        res.append(c)
    proc.stdin.close(); proc.wait()
    json.dump({"comment":"adhoc","cases":res}, open(out,'w'), indent=1)
# Re-records tests/data/engine-cases.json halves with the Go oracle (tools/template-oracle must be built).
def batch1():
    D={"s":"hello","n":42,"f":3.5,"z":0,"t":True,"nil":None,"l":["a","b","c"],"nums":[3,1,2],"e":[],"m":{"a":1,"b":"two","c":[1,2],"d":{"x":"y"}},"em":{},"mixed":[1,"two",None,{"k":"v"}],"neg":-7}
    T=[
    # parse errors & lines
    "a\n{{.s}\nb", "line1\nline2 {{ if }}", "{{if .t}}\nx\n", "{{end}}", "{{else}}", "{{range .l}}{{else}}{{else}}{{end}}",
    "{{define \"a\"}}x{{end}}{{define \"a\"}}y{{end}}", "{{define \"config\"}}x{{end}}y", "{{define \"config\"}}x{{end}}  ", "{{define \"config\"}}x{{end}}{{template \"config\"}}",
    "{{template \"nope\"}}", "{{template .s}}", "{{block \"b\" .}}[{{.s}}]{{end}}", "{{define \"t\"}}{{.}}{{end}}{{template \"t\" .s}}|{{template \"t\"}}",
    "{{define \"r\"}}{{if gt . 0}}{{.}}{{template \"r\" (sub . 1)}}{{end}}{{end}}{{template \"r\" 3}}",
    "{{break}}", "{{range .l}}{{break 1}}{{end}}", "{{range .l}}{{if eq . \"b\"}}{{continue}}{{end}}{{.}}{{end}}", "{{range .l}}{{.}}{{if eq . \"b\"}}{{break}}{{end}}{{end}}",
    "{{ (1) 2 }}", "{{ 1 | 2 }}", "{{ .s | . }}", "{{ .s | true }}", "{{ nil }}", "{{ . nil }}", "{{ .s 1 }}", "{{ $ 1 }}", "{{ (.s) 1 }}", "{{ .m.a 1 }}", "{{ \"x\".y }}", "{{ nil.y }}", "{{ (nil).y }}",
    "{{ $x := 1 }}{{ $x.y }}", "{{ $x := .m }}{{ $x.d.x }}{{ $x.q }}", "{{$x = 3}}", "{{$x := 1}}{{$x = 3}}{{$x}}", "{{range $i, $v := .l}}{{$i}}{{$v}}{{end}}{{$i}}",
    "{{range $i, $v := .m}}{{$i}}={{$v}};{{end}}", "{{range $v := .m}}{{$v}};{{end}}", "{{range $i, $v, $w := .l}}{{end}}", "{{range $i := 3}}{{$i}}{{end}}", "{{range $i, $v := 3}}{{end}}", "{{range 0}}x{{else}}none{{end}}", "{{range -2}}x{{else}}none{{end}}",
    "{{range .f}}{{end}}", "{{range .s}}{{end}}", "{{range .nil}}x{{else}}y{{end}}", "{{range .e}}x{{else}}y{{end}}", "{{range .em}}x{{else}}y{{end}}", "{{range .mixed}}[{{.}}]{{end}}", "{{range .mixed}}{{.k}}{{end}}",
    "{{$i := 0}}{{range .l}}{{$i = .}}{{end}}{{$i}}", "{{range $i, $e = .l}}{{end}}", "{{$i:=1}}{{$e:=2}}{{range $i, $e = .l}}{{end}}{{$i}}{{$e}}",
    "{{with .s}}{{.}}{{end}}", "{{with .z}}x{{else}}y{{end}}", "{{with .z}}x{{else with .s}}{{.}}{{end}}", "{{with $x := .s}}{{$x}}{{.}}{{end}}", "{{if .z}}a{{else if .t}}b{{else}}c{{end}}", "{{if}}{{end}}", "{{with}}{{end}}",
    # numbers
    "{{1_000}}", "{{0x1F}}", "{{0o17}}", "{{017}}", "{{0b101}}", "{{1e3}}", "{{1.5e-3}}", "{{0x1p4}}", "{{089}}", "{{089.5}}", "{{1__0}}", "{{9223372036854775807}}", "{{9223372036854775808}}", "{{18446744073709551615}}", "{{18446744073709551616}}", "{{-0}}", "{{-0.0}}", "{{+5}}", "{{.5}}", "{{5.}}", "{{1e400}}", "{{'a'}}", "{{'\\n'}}", "{{'ab'}}", "{{''}}", "{{'\\x41'}}", "{{'\\u00e9'}}", "{{0x}}", "{{1e}}", "{{3k}}", "{{0xFFp-2}}",
    "{{printf \"%T\" 1.0}}", "{{printf \"%T\" 0x10}}", "{{printf \"%T\" 'a'}}", "{{printf \"%T\" 1e2}}",
    # strings
    "{{\"a\\tb\"}}", "{{`raw\\n`}}", "{{\"\\q\"}}", "{{\"\\x41\\101\\u00e9\\U0001F600\"}}", "{{\"unterminated}}", "{{`unterminated}}", "{{\"\\'\"}}",
    # trimming & comments
    "a {{- .s -}} b", "a {{- /* c */ -}} b", "a{{/* c */}}b", "{{/* unclosed", "{{/* c */ .s}}", "{{-3}}", "{{- 3}}", "{{ 3 -}}", "a\n\n{{- \"x\" -}}\n\nb", "{{ -}}", "{{- }}",
    # fields on various
    "{{.s.x}}", "{{.n.x}}", "{{.l.x}}", "{{.nil.x}}", "{{.missing.x}}", "{{.m.d.x.y}}", "{{.m.c.x}}", "{{.t.x}}",
    # functions arg checks (sprig)
    "{{upper 1}}", "{{upper .n}}", "{{upper .nil}}", "{{upper .missing}}", "{{upper nil}}", "{{upper}}", "{{upper \"a\" \"b\"}}", "{{repeat 2 \"ab\"}}", "{{repeat 2.5 \"ab\"}}", "{{repeat 2.0 \"ab\"}}", "{{repeat .n \"ab\"}}", "{{\"x\" | repeat 3}}", "{{3 | repeat \"x\"}}",
    "{{join \",\" .l}}", "{{join \",\" 1}}", "{{list 1 2 | join \",\"}}", "{{trunc 2 .s}}", "{{trunc .f .s}}", "{{.s | upper | lower}}", "{{printf}}", "{{printf 1}}", "{{printf .n}}", "{{printf \"%d\" .n}}", "{{printf \"%s\" nil}}",
    "{{now | date 1}}", "{{toJson .m}}", "{{default 1 .nil}}", "{{default 1 .missing}}",
    # builtins
    "{{and 1 0 2}}", "{{or 0 \"\" .s}}", "{{and}}", "{{or .nil .missing}}", "{{and .s .missing}}", "{{not .nil}}", "{{not}}", "{{not 1 2}}", "{{.s | not}}", "{{0 | and 1}}", "{{1 | or 0}}",
    "{{eq 1 1}}", "{{eq .n 42}}", "{{eq .n 42.0}}", "{{eq 1 1.0}}", "{{eq \"a\" \"b\" \"a\"}}", "{{eq 1}}", "{{eq .nil .nil}}", "{{eq .nil 1}}", "{{eq .l .l}}", "{{eq .m .m}}", "{{eq .l .m}}", "{{eq .missing 1}}", "{{ne 1 2}}", "{{ne 1}}", "{{lt 1 2}}", "{{lt 1 2.0}}", "{{lt .f 4.0}}", "{{lt \"a\" \"b\"}}", "{{lt true false}}", "{{lt .nil 1}}", "{{le 2 2}}", "{{gt 3 2}}", "{{ge 1 2}}", "{{lt .l 1}}", "{{eq true true}}", "{{eq .t true}}",
    "{{index .l 1}}", "{{index .l 3}}", "{{index .l 5}}", "{{index .l -1}}", "{{index .l 1.0}}", "{{index .l .n}}", "{{index .l \"a\"}}", "{{index .m \"a\"}}", "{{index .m \"zz\"}}", "{{index .m 1}}", "{{index .m nil}}", "{{index .m.d \"x\"}}", "{{index .m \"d\" \"x\"}}", "{{index .m \"c\" 1}}", "{{index .nil 1}}", "{{index .missing 1}}", "{{index .s 0}}", "{{index .n 0}}", "{{index .l}}", "{{index}}", "{{index .mixed 2 1}}",
    "{{slice .l 1}}", "{{slice .l 1 2}}", "{{slice .l 2 1}}", "{{slice .l 0 4}}", "{{slice .l 1 2 3}}", "{{slice .l 1 2 3 4}}", "{{slice .s 1 3}}", "{{slice .s 1 2 3}}", "{{slice .n 1}}", "{{slice .nil}}", "{{slice .l}}", "{{slice .e 0 0}}",
    "{{len .l}}", "{{len .s}}", "{{len .m}}", "{{len .n}}", "{{len .nil}}", "{{len .missing}}", "{{len}}", "{{len 1 2}}", "{{range .mixed}}{{len .}}{{end}}",
    "{{print}}", "{{print 1 2 \"a\" \"b\" 3}}", "{{print nil}}", "{{print .nil}}", "{{println 1 2}}", "{{html \"<a>\"}}", "{{html .nil}}", "{{html 1 2}}", "{{js \"'x'\"}}", "{{urlquery \"a b&c\"}}", "{{html}}", "{{html .l}}",
    "{{call .s}}", "{{call .nil}}", "{{call}}", "{{call .missing 1}}", "{{.s | call}}", "{{call index .l 1}}",
    "{{.}}", "{{$}}", "{{.nil}}", "{{.mixed}}", "{{.em}}", "{{.e}}",
    "{{ $x := 1 }}{{ if true }}{{ $x := 2 }}{{ $x }}{{ end }}{{ $x }}", "{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}",
    "{{ (.m).a }}", "{{ (.m).d.x }}", "{{ (index .m \"d\").x }}", "{{ (index .mixed 3).k }}", "{{ (index .mixed 2).k }}", "{{ (list 1).x }}",
    "{{ .s | printf \"%s-%s\" \"a\" }}", "{{ \"a\" | printf \"%s-%s\" }}",
    "{{ unknown_fn }}", "{{ 'x }}", "{{ . | }}", "{{ ( }}", "{{ ) }}", "{{ (.s }}", "{{ .s) }}", "{{ := }}", "{{ $x := 1 := }}", "{{ $a, $b := 1 }}", "{{ $ := 1 }}",
    "{{ @ }}", "{{ .s§ }}", "{{ \u00e9t\u00e9 }}", "{{ .\u00e9 }}", "{{\x01}}",
    ]
    record([(t,D) for t in T], '/tmp/engine-c1.json')
    print(len(T))
def batch2():
    D={"s":"hello","n":42,"f":3.5,"z":0,"t":True,"nil":None,"l":["a","b","c"],"e":[],"m":{"a":1,"b":"two","c":[1,2],"d":{"x":"y"}},"mixed":[1,"two",None,{"k":"v"}], "deep":{"a":{"b":{"c":[{"d":"e"}]}}}, "u":"é日本", "pct":"100%"}
    T=[
    "x\ny\n{{define \"d\"}}\n  {{.nope}}\n{{end}}{{template \"d\" .}}", "x\n{{define \"d\"}}{{index .l 9}}{{end}}\n\n{{template \"d\" .}}",
    "{{if .t}}\n{{.s}}\n{{.q}}{{end}}", "ab\ncd {{.m.zz}}", "日本 {{.q}}", "{{.u}} {{.q}}", "{{\n.s\n}}{{\n.q\n}}",
    "{{ .s\n| printf \"%d\" }}", "a\n{{if .t}}\n{{else}}\n{{end\n}}", "{{ if .t\n}}", "{{ .s\n", "{{ `a\nb` }}", "{{ \"a\nb\" }}", "a\n\n{{/*\n*/ .s}}", "{{ 'a\n' }}",
    "{{ (\n1\n", "{{range .l}}\n{{end}}\n{{end}}", "{{define \"x\"}}\n{{end}}\n{{else}}", "{{template \"d\" | .}}",
    "{{ .deep.a.b.c }}", "{{ index .deep.a.b.c 0 \"d\" }}", "{{ (index .deep.a.b.c 0).d }}", "{{ range .deep.a.b.c }}{{ .d }}{{ .e }}{{ end }}",
    "{{ $x := .deep }}{{ $x.a.b.q }}", "{{ $.s }}", "{{ range .l }}{{ $.s }}{{ end }}", "{{ define \"t\" }}{{ $.x }}{{ end }}{{ template \"t\" .m }}",
    "{{ printf \"%s\" .pct }}", "{{.pct}}{{.qq}}", "{{ \"%d\" | printf }}", "{{ printf \"%d %s\" 1 }}", "{{ printf \"%v\" .m }}", "{{ printf \"%q\" .l }}", "{{ printf \"%5.2f|%-4d|%x\" .f 7 255 }}",
    "{{ len \"日本\" }}", "{{ slice .u 0 1 }}", "{{ index .u 0 }}", "{{ printf \"%T\" (index .u 0) }}", "{{ html .u }}", "{{ js .u }}", "{{ urlquery .u }}", "{{ js \"\\u2028\" }}", "{{ js \"a\\x00b\" }}",
    "{{ print .t 1 }}", "{{ print \"a\" 1 2 \"b\" }}", "{{ println }}", "{{ print .l .m }}", "{{ print .nil 1 }}", "{{ html .nil 1 }}", "{{ html .missing }}",
    "{{ eq .m.a 1.0 }}", "{{ eq .mixed .mixed }}", "{{ eq .nil .missing }}", "{{ eq (index .mixed 2) .nil }}", "{{ eq .m.d .m.d }}", "{{ eq .s 1 }}", "{{ eq 1 .s }}", "{{ le .s .s }}", "{{ gt .nil .nil }}", "{{ ne .l .l }}", "{{ eq 1 2 \"x\" }}", "{{ eq 1 1 \"x\" }}",
    "{{ and 0 (fail \"boom\") }}", "{{ or 1 (fail \"boom\") }}", "{{ and 1 (fail \"boom\") }}", "{{ not (fail \"x\") }}", "{{ .s | fail }}",
    "{{ index . \"s\" }}", "{{ index . }}", "{{ index .l 0 0 }}", "{{ index .m \"c\" \"x\" }}", "{{ index .mixed 3 \"k\" }}", "{{ index .mixed 3 \"zz\" }}", "{{ index (list 1 2) 1 }}", "{{ index (dict \"a\" 1) \"b\" }}",
    "{{ slice \"abc\" }}", "{{ slice \"abc\" 3 }}", "{{ slice \"abc\" 4 }}", "{{ slice .l .n }}", "{{ slice .l (index .mixed 0) }}", "{{ slice .mixed 1 3 }}",
    "{{ range $k, $v := .m }}{{ $k }}:{{ $v }} {{ end }}", "{{ range .m }}{{ . }} {{ end }}", "{{ range $x := .l }}{{ $x }}{{ break }}{{ end }}",
    "{{ range .l }}{{ range $.l }}{{ if eq . \"b\" }}{{ break }}{{ end }}{{ . }}{{ end }}|{{ end }}", "{{ range .l }}{{ with . }}{{ continue }}{{ end }}x{{ end }}",
    "{{ with $x := 0 }}a{{ else }}{{ $x }}{{ end }}", "{{ if $x := .s }}{{ $x }}{{ end }}{{ $x }}",
    "{{ define \"a\" }}{{ template \"b\" . }}{{ end }}{{ define \"b\" }}B{{ . }}{{ end }}{{ template \"a\" 5 }}",
    "{{ block \"x\" .s }}{{ . }}{{ end }}{{ define \"x\" }}override{{ end }}", "{{ define \"x\" }}override{{ end }}{{ block \"x\" .s }}{{ . }}{{ end }}",
    "{{ template \"x\" }}{{ define \"x\" }}{{ . }}{{ end }}", "{{ define \"\" }}empty{{ end }}{{ template \"\" }}",
    "{{ define \"a\" }}{{ break }}{{ end }}", "{{ range .l }}{{ define \"a\" }}{{ end }}{{ end }}", "{{ define \"a\" }}{{ define \"b\" }}{{ end }}{{ end }}",
    "{{ .s | len }}", "{{ .l | index 1 }}", "{{ 1 | index .l }}", "{{ .l | slice }}", "{{ .s | eq \"hello\" }}", "{{ .s | printf }}",
    "{{ true | not }}", "{{ (.s) }}", "{{ ((.s)) }}", "{{ (print 1 2) | len }}", "{{ $x := (1) }}{{ $x }}", "{{ $x := 1 | print }}{{ $x }}",
    "{{ $x, $y := 1 }}", "{{ range $x, $y := .l }}{{ end }}{{ $x }}", "{{ range $x, = .l }}{{ end }}", "{{ range $x, 1 }}{{ end }}",
    "{{ .m.a.b.c }}", "{{ .m.b.c }}", "{{ $x := .nil }}{{ $x.a }}", "{{ $.nil.a }}", "{{ with .mixed }}{{ (index . 2).a }}{{ end }}",
    "{{ range .mixed }}{{ upper . }}{{ end }}", "{{ range .mixed }}{{ printf \"%v\" . }}{{ end }}", "{{ range .mixed }}{{ default \"d\" . }}{{ end }}",
    "{{ range $i, $e := .mixed }}{{ $e.k }}{{ end }}", "{{ toString .nil }}", "{{ upper (index .mixed 2) }}", "{{ upper (index .mixed 1) }}",
    "{{ template \"x\" 1 2 }}", "{{ template }}", "{{ template 1 }}", "{{ define }}", "{{ define 1 }}", "{{ define \"a\" 1 }}{{ end }}", "{{ block }}", "{{ block \"a\" }}{{ end }}",
    "{{ else if }}", "{{ if 1 }}{{ else }}{{ else }}{{ end }}", "{{ if 1 }}{{ else if 2 }}{{ else with 3 }}{{ end }}", "{{ with 1 }}{{ else if 2 }}x{{ end }}",
    "{{ end 1 }}", "{{ if 1 }}{{ end 1 }}", "{{ range }}{{ end }}", "{{ continue }}", "{{ range .l }}{{ continue 1 }}{{ end }}",
    "{{ .x.y | .z }}", "{{ .m.a | .m }}", "{{ print | .m.a }}",
    ]
    record([(t,D) for t in T], '/tmp/engine-c2.json')
    print(len(T))
if __name__ == "__main__":
    batch1(); batch2()
