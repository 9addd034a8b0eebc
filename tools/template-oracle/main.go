// Command template-oracle renders Go text/template templates exactly the way
// Kanister does (text/template, missingkey=error, sprig v2.22 TxtFuncMap with
// Kanister's ksprig replacements). It is test tooling for Kapsel: Kapsel's
// Rust template engine is compared against it.
package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"unicode/utf8"
)

const usage = `usage:
  template-oracle serve
      JSON lines on stdin: {"template": "...", "data": <any JSON>}
      optional fields: "name" (template name, default "config"),
      "params" (a render-parameters object; replaces "data" by the
      param.TemplateParams it decodes to), "kanister": true (rewrite
      missing-key errors the way Kanister's renderStringArg does).
      One JSON line per request on stdout:
      {"output": "...", "error": null} or {"output": null, "error": "..."}
  template-oracle blueprint --blueprint FILE.yaml --params FILE.json
      Renders every action of the Blueprint the way Kanister's controller
      does and prints the result as JSON.
  template-oracle record-corpus FILE.json...
      Fills in "output"/"error" of every case of template-corpus files
      ({"cases": [{"name", "template", "data"}...]}) and rewrites them.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	switch os.Args[1] {
	case "serve":
		if err := serve(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "template-oracle:", err)
			os.Exit(1)
		}
	case "blueprint":
		fs := flag.NewFlagSet("blueprint", flag.ExitOnError)
		bp := fs.String("blueprint", "", "Blueprint YAML file")
		params := fs.String("params", "", "render parameters JSON file")
		_ = fs.Parse(os.Args[2:])
		if *bp == "" || *params == "" || fs.NArg() != 0 {
			fmt.Fprint(os.Stderr, usage)
			os.Exit(2)
		}
		out, err := renderBlueprintFiles(*bp, *params)
		if err != nil {
			fmt.Fprintln(os.Stderr, "template-oracle:", err)
			os.Exit(1)
		}
		os.Stdout.Write(out)
	case "record-corpus":
		if len(os.Args) < 3 {
			fmt.Fprint(os.Stderr, usage)
			os.Exit(2)
		}
		if err := recordCorpus(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "template-oracle:", err)
			os.Exit(1)
		}
	case "-h", "--help", "help":
		fmt.Print(usage)
	default:
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
}

type request struct {
	Template *string         `json:"template"`
	Data     json.RawMessage `json:"data"`
	Name     *string         `json:"name"`
	Params   json.RawMessage `json:"params"`
	Kanister bool            `json:"kanister"`
}

type response struct {
	Output *string `json:"output"`
	Error  *string `json:"error"`
	// OutputBase64 is set when the output is not valid UTF-8 (JSON would
	// replace the bad bytes by U+FFFD in "output").
	OutputBase64 *string `json:"outputBase64,omitempty"`
	// ErrorKind tells where the error came from: "parse", "exec",
	// "panic" or "request".
	ErrorKind *string `json:"errorKind,omitempty"`
}

func serve(in io.Reader, out io.Writer) error {
	r := bufio.NewReaderSize(in, 1<<20)
	w := bufio.NewWriter(out)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 && !(len(line) == 1 && line[0] == '\n') {
			resp := handle(line)
			if e := enc.Encode(resp); e != nil {
				return e
			}
			if e := w.Flush(); e != nil {
				return e
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func errResponse(kind, msg string) response {
	return response{Error: &msg, ErrorKind: &kind}
}

func handle(line []byte) (resp response) {
	defer func() {
		if p := recover(); p != nil {
			resp = errResponse("panic", fmt.Sprintf("panic: %v", p))
		}
	}()
	var req request
	if err := json.Unmarshal(line, &req); err != nil {
		return errResponse("request", "bad request: "+err.Error())
	}
	if req.Template == nil {
		return errResponse("request", "bad request: missing \"template\"")
	}
	name := "config"
	if req.Name != nil {
		name = *req.Name
	}
	var data interface{}
	if len(req.Params) > 0 && string(req.Params) != "null" {
		rp, err := loadParams(req.Params)
		if err != nil {
			return errResponse("request", "bad request: "+err.Error())
		}
		data = rp.base
	} else if len(req.Data) > 0 {
		if err := json.Unmarshal(req.Data, &data); err != nil {
			return errResponse("request", "bad request: data: "+err.Error())
		}
	}
	s, err, parseErr := execTemplate(name, *req.Template, data)
	if err != nil {
		if req.Kanister {
			err = kanisterError(err, parseErr)
		}
		kind := "exec"
		if parseErr {
			kind = "parse"
		}
		return errResponse(kind, err.Error())
	}
	resp.Output = &s
	if !utf8.ValidString(s) {
		b := base64.StdEncoding.EncodeToString([]byte(s))
		resp.OutputBase64 = &b
	}
	return resp
}
