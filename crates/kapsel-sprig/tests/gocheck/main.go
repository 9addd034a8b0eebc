// Command gocheck prints what Kanister's sprig (v2.22.0 TxtFuncMap) gives for
// each template read from stdin (one per line), to take test expectations from.
package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig"
)

func main() {
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		var b strings.Builder
		t, err := template.New("t").Option("missingkey=error").Funcs(sprig.TxtFuncMap()).Parse(line)
		if err == nil {
			err = t.Execute(&b, map[string]interface{}{"bytes": []byte("hi"), "strs": []string{"b", "a"}, "nilmap": map[string]interface{}(nil)})
		}
		if err != nil {
			fmt.Printf("%s\n  => ERR %q\n", line, err.Error())
		} else {
			fmt.Printf("%s\n  => %q\n", line, b.String())
		}
	}
}
