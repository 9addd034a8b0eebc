// Command gocheck renders each template of tests/data/cases.txt with Kanister's
// sprig (v2.22.0 TxtFuncMap, text/template, missingkey=error) and writes one
// JSON object per case to stdout: {"t": template, "out": output} or
// {"t": template, "err": the message after "error calling NAME: "}.
//
//	go run . < ../data/cases.txt > ../data/expected.jsonl
//
// Differential runs with random cases (gen_fuzz.py SEED writes them):
//
//	python3 gen_fuzz.py 7 > /tmp/c.txt && go run . < /tmp/c.txt > /tmp/e.jsonl
//	(gen_fuzz_values.py, gen_fuzz_url.py, gen_fuzz_dates.py, gen_fuzz_zones.py and
//	gen_fuzz_semver.py do the same for other function groups)
//	KAPSEL_SPRIG_CASES=/tmp/c.txt KAPSEL_SPRIG_EXPECTED=/tmp/e.jsonl \
//	    cargo test -p kapsel-sprig --test gocases
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/template"
	"time"

	"github.com/Masterminds/sprig"
)

func main() {
	newData := func() map[string]interface{} {
		return map[string]interface{}{
			"bytes":  []byte("hi"),
			"strs":   []string{"b", "a", "b"},
			"nilmap": map[string]interface{}(nil),
			"t":      time.Date(2020, 1, 2, 3, 4, 5, 6, time.UTC),
			"m":      map[string]interface{}{"a": 1, "b": "x"},
			"ss":     map[string]string{"k": "v"},
			"n64":    int64(42),
			"f":      2.5,
		}
	}
	funcs := sprig.TxtFuncMap()
	// Kanister's pkg/ksprig replacements.
	unsupported := func(u string) error {
		return fmt.Errorf("sprig usage of '%s' is not allowed by kanister as it is not FIPS compatible", u)
	}
	funcs["derivePassword"] = func(counter uint32, passwordType, password, user, site string) (string, error) {
		return "", unsupported("derivePassword")
	}
	orig := funcs["genPrivateKey"].(func(string) string)
	funcs["genPrivateKey"] = func(typ string) (string, error) {
		switch typ {
		case "rsa", "ecdsa", "ed25519":
			return orig(typ), nil
		}
		return "", unsupported("genPrivateKey for " + typ)
	}
	out := json.NewEncoder(os.Stdout)
	out.SetEscapeHTML(false)
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var b strings.Builder
		t, err := template.New("t").Option("missingkey=error").Funcs(funcs).Parse(line)
		if err == nil {
			err = t.Execute(&b, newData())
		}
		rec := map[string]string{"t": line}
		if err != nil {
			msg := err.Error()
			if i := strings.Index(msg, "error calling "); i >= 0 {
				msg = msg[i+len("error calling "):]
				if j := strings.Index(msg, ": "); j >= 0 {
					msg = msg[j+2:]
				}
			}
			rec["err"] = msg
		} else {
			rec["out"] = b.String()
		}
		if err := out.Encode(rec); err != nil {
			panic(err)
		}
	}
}
